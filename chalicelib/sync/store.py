"""Sync state in DynamoDB: the outbox and inbox, twins (keys and counters: store.keys).

Every write that a retried handler could repeat is either idempotent by key or guarded by
a condition; DynamoDB conflicts are recognised by their error code, never their text.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist

from chalicelib.store.keys import claim, condition_failed, get_key, next_seq, set_key
from chalicelib.store.models import EntryModel, TwinModel, utcnow

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


__all__ = ["claim", "condition_failed", "get_key", "next_seq", "set_key"]
