"""Sync state in DynamoDB: sequences, the outbox and inbox, twins.

Every write that a retried handler could repeat is either idempotent by key or guarded by
a condition; DynamoDB conflicts are recognised by their error code, never their text.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from chalicelib.store.models import EntryModel, KeyModel, TwinModel, key_is_live, utcnow

CONDITION_FAILED = "ConditionalCheckFailedException"


def condition_failed(exc: PutError | UpdateError) -> bool:
    return getattr(exc, "cause_response_code", None) == CONDITION_FAILED


# --- sequences ------------------------------------------------------------------------


def next_seq(name: str) -> int:
    """An atomic per-name counter (gaps possible after a crash, never repeats)."""
    item = KeyModel(key=f"seq#{name}")
    item.update(actions=[KeyModel.counter.add(1)])
    return int(item.counter or 0)


def claim(key: str, value: str = "", *, ttl: timedelta | None = None) -> bool:
    """Put ``key`` once; True the first time, False while a live item holds it."""
    now = utcnow()
    item = KeyModel(key=key, value=value, expires_at=(now + ttl) if ttl else None)
    try:
        item.save(condition=KeyModel.key.does_not_exist() | (KeyModel.expires_at < now))
    except PutError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def get_key(key: str) -> KeyModel | None:
    try:
        item = KeyModel.get(key, consistent_read=True)
    except DoesNotExist:
        return None
    return item if key_is_live(item) else None


def set_key(key: str, value: str, *, ttl: timedelta | None = None) -> None:
    now = utcnow()
    KeyModel(key=key, value=value, expires_at=(now + ttl) if ttl else None).save()


# --- outbox and inbox -----------------------------------------------------------------


def outbox_pk(connection_id: str) -> str:
    return f"{connection_id}#out"


def inbox_pk(connection_id: str) -> str:
    return f"{connection_id}#in"


def append_entry(
    pk: str, *, issue_key: str, replica: dict[str, Any], retention_days: int
) -> EntryModel:
    seq = next_seq(pk)
    entry = EntryModel(
        pk=pk,
        seq=seq,
        replica_id=replica["id"],
        issue_key=issue_key,
        replica=replica,
        state="pending",
        purge_at=utcnow() + timedelta(days=retention_days),
    )
    entry.save()
    return entry


def get_entry(pk: str, seq: int) -> EntryModel | None:
    try:
        return EntryModel.get(pk, seq, consistent_read=True)
    except DoesNotExist:
        return None


def entries_after(pk: str, after: int, *, limit: int = 50) -> list[EntryModel]:
    return list(EntryModel.query(pk, EntryModel.seq > after, limit=limit, consistent_read=True))


def entries_in_state(pk: str, state: str) -> Iterator[EntryModel]:
    return EntryModel.query(pk, filter_condition=EntryModel.state == state)


def set_entry_state(entry: EntryModel, state: str) -> None:
    entry.update(actions=[EntryModel.state.set(state)])


# --- twins ----------------------------------------------------------------------------


def get_twin(connection_id: str, local_key: str) -> TwinModel | None:
    try:
        return TwinModel.get(connection_id, local_key, consistent_read=True)
    except DoesNotExist:
        return None


def twin_by_remote(connection_id: str, remote_key: str) -> TwinModel | None:
    for twin in TwinModel.by_remote_key.query(connection_id, TwinModel.remote_key == remote_key):
        # the index is eventually consistent: re-read the item itself
        return get_twin(twin.connection_id, twin.local_key)
    return None


def twins_of_issue(local_key: str) -> list[TwinModel]:
    return [t for t in TwinModel.by_local_key.query(local_key) if t.status not in ("stopped",)]


def twins_of_connection(connection_id: str) -> Iterator[TwinModel]:
    return TwinModel.query(connection_id)
