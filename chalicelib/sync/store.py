"""Sync state in DynamoDB: the outbox and inbox, twins (keys and counters: store.keys).

Every write that a retried handler could repeat is either idempotent by key or guarded by
a condition; DynamoDB conflicts are recognised by their error code, never their text.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from chalicelib.queues import RetryLater
from chalicelib.store.keys import claim, condition_failed, get_key, next_seq, set_key
from chalicelib.store.models import EntryModel, TwinModel, utcnow
from chalicelib.store.pages import TEXT, KeyShape, Page, query_page

# --- outbox and inbox -----------------------------------------------------------------


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


CREATED_AT = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}\+0000"


TWINS_FILTER_BUDGET = 2_000  # twins read at most for one filtered page


def twins_page(
    connection_id: str,
    *,
    limit: int,
    after: dict[str, str] | None = None,
    statuses: frozenset[str] | None = None,
) -> Page[TwinModel]:
    """One page of the connection's twins, newest first (index ``by_created``; the twins
    themselves are read by key, so a twin deleted meanwhile is left out).

    ``statuses``: only twins in one of these (the index holds keys only, so the twins are
    read and filtered: a page reads at most 2,000 of them and can then hold fewer than
    ``limit``, even none, and still have a next page)."""
    shape = KeyShape(
        fixed={"connection_id": connection_id},
        patterns={"local_key": TEXT, "created_at": CREATED_AT},
    )
    position = shape.check(after) if after is not None else None
    twins: list[TwinModel] = []
    read = 0
    while True:
        keys = query_page(
            TwinModel,
            connection_id,
            index="by_created",
            forward=False,
            limit=limit - len(twins),  # never more than the page still has room for
            after=position,
        )
        wanted = [(connection_id, k.local_key) for k in keys.items]
        found = {}
        if wanted:
            found = {t.local_key: t for t in TwinModel.batch_get(wanted, consistent_read=True)}
        twins += [
            found[key]
            for _, key in wanted
            if key in found and (statuses is None or found[key].status in statuses)
        ]
        read += len(wanted)
        position = keys.after
        if position is None or len(twins) >= limit or read >= TWINS_FILTER_BUDGET:
            return Page(twins, position)


def create_twin(twin: TwinModel) -> bool:
    """Put ``twin`` if its connection has no twin for that local key yet; True if it did.

    The one way a twin record is made: twins have no whole-item version (ingest and apply
    update their own attributes of the same twin concurrently), so "create" must say so
    itself, with a conditional put on the key. Two operations racing for one issue (a
    trigger and a bulk job, say) then make one twin; nothing overwrites a twin record.
    """
    try:
        twin.save(condition=TwinModel.local_key.does_not_exist())
    except PutError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def twin_by_remote(connection_id: str, remote_key: str) -> TwinModel | None:
    for twin in TwinModel.by_remote_key.query(connection_id, TwinModel.remote_key == remote_key):
        # the index is eventually consistent: re-read the item itself
        return get_twin(twin.connection_id, twin.local_key)
    return None


def twins_of_issue(local_key: str) -> list[TwinModel]:
    return [t for t in TwinModel.by_local_key.query(local_key) if t.status not in ("stopped",)]


LEASE = timedelta(seconds=90)  # longer than an apply takes; a crashed holder blocks this long
BUSY_RETRY_S = 2.0
_HELD: ContextVar[frozenset[tuple[str, str]]] = ContextVar("twins_held", default=frozenset())


class TwinBusy(RetryLater):
    """Another ingest or apply is working on this twin: try again in a moment."""


class TwinGone(Exception):
    """The twin was deleted (sync stopped, connection deleted) before it could be held."""


@contextmanager
def holding(twin: TwinModel) -> Iterator[TwinModel]:
    """Work on ``twin`` alone: ingest and apply both read and write its merge registers,
    so one waits for the other (a conditional write takes a short lease, which also gives
    ``twin`` its current attributes). Re-entrant within one handler (an apply that sends
    the link-back). Raises :class:`TwinBusy` (retried through the queue) when held."""
    key = (twin.connection_id, twin.local_key)
    held = _HELD.get()
    if key in held:
        yield twin
        return
    now = utcnow()
    try:
        twin.update(
            actions=[TwinModel.lease_until.set(now + LEASE)],
            condition=TwinModel.local_key.exists()
            & (TwinModel.lease_until.does_not_exist() | (TwinModel.lease_until < now)),
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        if get_twin(twin.connection_id, twin.local_key) is None:
            raise TwinGone(twin.local_key) from exc
        raise TwinBusy(f"twin {twin.local_key} is being synced", delay=BUSY_RETRY_S) from exc
    with _held(twin, held | {key}):
        yield twin


@contextmanager
def holding_new(twin: TwinModel) -> Iterator[TwinModel]:
    """A twin its creator saved with ``lease_until`` set (:func:`new_lease`): held until
    the end of the block."""
    with _held(twin, _HELD.get() | {(twin.connection_id, twin.local_key)}):
        yield twin


@contextmanager
def _held(twin: TwinModel, keys: frozenset[tuple[str, str]]) -> Iterator[None]:
    token = _HELD.set(keys)
    try:
        yield
    finally:
        _HELD.reset(token)
        with suppress(UpdateError):  # not released: the lease runs out on its own
            twin.update(
                actions=[TwinModel.lease_until.remove()],
                condition=TwinModel.local_key.exists(),  # never re-create a deleted twin
            )


def new_lease() -> Any:
    return utcnow() + LEASE


def twins_of_connection(connection_id: str) -> Iterator[TwinModel]:
    return TwinModel.query(connection_id)


__all__ = ["claim", "condition_failed", "get_key", "next_seq", "set_key"]
