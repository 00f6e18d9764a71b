"""Sync state in DynamoDB: the outbox and inbox, twins (keys and counters: store.keys).

Every write that a retried handler could repeat is either idempotent by key or guarded by
a condition; DynamoDB conflicts are recognised by their error code, never their text.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, QueryError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from chalicelib.queues import RetryLater
from chalicelib.store.keys import claim, condition_failed, get_key, set_key
from chalicelib.store.models import EntryModel, TwinModel, utcnow
from chalicelib.store.pages import TEXT, KeyShape, Page, query_page

# --- outbox and inbox -----------------------------------------------------------------


def pending_entry(
    pk: str, seq: int, *, issue_key: str, replica: dict[str, Any], days: int
) -> EntryModel:
    """Entry ``seq`` of ``pk`` holding ``replica``, pending, kept ``days``; not saved yet."""
    return EntryModel(
        pk=pk,
        seq=seq,
        replica_id=replica["id"],
        issue_key=issue_key,
        replica=replica,
        state="pending",
        purge_at=utcnow() + timedelta(days=days),
    )


def clock_seq() -> int:
    """An entry number from the clock: microseconds since the epoch (about 1.8e15 today,
    exact wherever JSON numbers are read as doubles until the year 2255)."""
    return time.time_ns() // 1_000


def append_entry(
    pk: str, *, issue_key: str, replica: dict[str, Any], retention_days: int
) -> EntryModel:
    """A new outbox entry, saved pending, numbered from the clock (:func:`save_new`)."""
    entry = pending_entry(
        pk, clock_seq(), issue_key=issue_key, replica=replica, days=retention_days
    )
    save_new(entry)
    return entry


SEQ_ATTEMPTS = 5


def save_new(entry: EntryModel) -> EntryModel:
    """Save ``entry`` under its number, or the next free one (one conditional put).

    Issue 19: outbox entries are numbered from the clock (:func:`clock_seq`), not by a
    counter (an UpdateItem per entry): a private peer reads the outbox from a cursor and
    needs increasing numbers, not consecutive ones (the contract promises neither gaps
    nor their absence). Numbers left by the counter before are small: every entry numbered
    from the clock sorts after them. Two entries of one outbox in the same microsecond:
    the second takes the next number. An entry can become visible after one with a
    higher number (taken later, saved sooner): the pull offers pending entries a margin
    below the peer's cursor again (:mod:`chalicelib.sync.outbox_api`)."""
    for _ in range(SEQ_ATTEMPTS):
        try:
            entry.save(condition=EntryModel.seq.does_not_exist())
        except PutError as exc:
            if not condition_failed(exc):
                raise
            entry.seq = int(entry.seq) + 1
            continue
        return entry
    raise RetryLater(f"{entry.pk}: no free entry number after {SEQ_ATTEMPTS} tries")


def arrival_seq(replica_id: str) -> int:
    """An inbox entry's number, from its replica's id: the same replica always gets the
    same number (48 bits: exact wherever JSON numbers are read as doubles)."""
    return int.from_bytes(hashlib.sha256(replica_id.encode()).digest()[:6], "big")


def take_arrival(
    pk: str, *, issue_key: str, replica: dict[str, Any], retention_days: int
) -> tuple[EntryModel, bool]:
    """The inbox entry of ``replica``, made once: ``(entry, True)`` when this call made it,
    ``(the entry made before, False)`` for a replica already taken in.

    One conditional put numbered by the replica's id (:func:`arrival_seq`) instead of a
    counter, a "seen" key read and a "seen" key write. The inbox is never read from a
    cursor, so its numbers need only be unique; an entry of another replica on the same
    number (or one purged in the meantime) gives way to a number taken from the clock."""
    seq = arrival_seq(str(replica["id"]))
    entry = pending_entry(pk, seq, issue_key=issue_key, replica=replica, days=retention_days)
    try:
        entry.save(condition=EntryModel.seq.does_not_exist())
        return entry, True
    except PutError as exc:
        if not condition_failed(exc):
            raise
    found = get_entry(pk, seq)
    if found is not None and found.replica_id == replica["id"]:
        return found, False
    entry = pending_entry(
        pk, clock_seq(), issue_key=issue_key, replica=replica, days=retention_days
    )
    return save_new(entry), True


def get_entry(pk: str, seq: int) -> EntryModel | None:
    try:
        return EntryModel.get(pk, seq, consistent_read=True)
    except DoesNotExist:
        return None


def pending_after(pk: str, after: int, *, limit: int = 50) -> list[EntryModel]:
    """Up to ``limit`` entries numbered above ``after`` and not acknowledged, oldest first
    (acknowledged ones are filtered out by DynamoDB, so they take no room in the page)."""
    return list(
        EntryModel.query(
            pk,
            EntryModel.seq > after,
            filter_condition=EntryModel.state != "acked",
            limit=limit,
            consistent_read=True,
        )
    )


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
    for key in _indexed(
        TwinModel.by_remote_key,
        TwinModel.by_remote_key_before,
        connection_id,
        TwinModel.remote_key == remote_key,
    ):
        return get_twin(*key)  # the index holds keys, eventually consistent: read the twin
    return None


def twins_of_issue(local_key: str) -> list[TwinModel]:
    """Every connection's twin of ``local_key`` but stopped ones, read by key (consistent)."""
    keys = _indexed(TwinModel.by_local_key, TwinModel.by_local_key_before, local_key)
    if not keys:
        return []
    found = {
        (t.connection_id, t.local_key): t for t in TwinModel.batch_get(keys, consistent_read=True)
    }
    return [found[k] for k in keys if k in found and found[k].status not in ("stopped",)]


_NO_INDEX = ("ValidationException", "ResourceNotFoundException")


def _indexed(index: Any, before: Any, *query: Any) -> list[tuple[str, str]]:
    """The twins' keys ``index`` finds (keys only); while an upgrade builds it (not there
    yet, or backfilling: docs/deploy.md, "Upgrading"), the index it replaces."""
    try:
        return [(t.connection_id, t.local_key) for t in index.query(*query)]
    except QueryError as exc:
        # DynamoDB: ValidationException "The table does not have the specified index" or
        # "Cannot read from backfilling global secondary index"; moto: "Invalid index"
        message = str(exc.cause_response_message or "").lower()
        if exc.cause_response_code not in _NO_INDEX or "index" not in message:
            raise
    return [(t.connection_id, t.local_key) for t in before.query(*query)]


LEASE = timedelta(seconds=90)  # longer than an apply takes; a crashed holder blocks this long
BUSY_RETRY_S = 2.0
_HELD: ContextVar[frozenset[tuple[str, str]]] = ContextVar("twins_held", default=frozenset())
# leases this handler ended with its last update of the twin (:func:`update_ending_lease`)
_ENDED: ContextVar[frozenset[tuple[str, str]]] = ContextVar("leases_ended", default=frozenset())


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
        twin.update(actions=_taking(now), condition=TwinModel.local_key.exists() & _free(now))
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        if get_twin(twin.connection_id, twin.local_key) is None:
            raise TwinGone(twin.local_key) from exc
        raise TwinBusy(f"twin {twin.local_key} is being synced", delay=BUSY_RETRY_S) from exc
    with _held(twin, held | {key}):
        yield twin


def held_here(twin: TwinModel) -> bool:
    """True while this handler holds ``twin`` (a :func:`holding` around this call would
    re-enter, not take the lease)."""
    return (twin.connection_id, twin.local_key) in _HELD.get()


@contextmanager
def holding_named(
    connection_id: str, local_key: str, remote_key: str
) -> Iterator[TwinModel | None]:
    """Find and hold in one write: the twin ``local_key`` linked with ``remote_key`` (or
    with no remote key yet: a link), its lease taken and its current attributes returned
    by one conditional update (instead of a read, then :func:`holding`'s write). ``None``
    when it is not taken: no such twin, linked with another key, or held (by another
    handler, or already by this one); the caller then finds the twin as before, and
    :func:`holding` says busy or gone."""
    key = (connection_id, local_key)
    if key in _HELD.get():
        yield None
        return
    twin = TwinModel(connection_id, local_key)
    now = utcnow()
    try:
        twin.update(
            actions=_taking(now),
            condition=TwinModel.local_key.exists()
            & ((TwinModel.remote_key == remote_key) | TwinModel.remote_key.does_not_exist())
            & _free(now),
        )
        taken = True
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        taken = False
    if not taken:
        yield None
        return
    with _held(twin, _HELD.get() | {key}):
        yield twin


class TwinMoved(Exception):
    """The twin is not as it was read (:func:`holding_as_read`): held meanwhile, or held
    now, stopped, linked anew or deleted. Nothing was written: plan again, held."""


@contextmanager
def holding_as_read(twin: TwinModel, actions: Sequence[Action] = ()) -> Iterator[TwinModel]:
    """Hold ``twin`` as it was read, with ``actions`` in the same write: the lease taken
    and ``actions`` set by one update conditioned on the twin being as read (issue 19).

    For an apply that read the twin (a GetItem), planned on it and now writes what it
    expects to write (ADR 0004) before its tracker write: one write instead of the
    lease's and the expectation's. "As read": no lease in force, and ``holds`` (which
    every lease taken adds one to) unchanged, so no ingest or apply held the twin between
    the read and this write (everything that writes the registers holds it); its status
    and remote key unchanged too (a stop does not hold it). A twin read with a lease,
    even one run out, is not taken as read: its holder may still write after the read
    (:func:`holding` takes a run-out lease). Raises :class:`TwinMoved` otherwise, having
    written nothing; the caller holds it as before and plans again. The update's answer
    refreshes ``twin`` (ReturnValues ALL_NEW), as :func:`holding`'s."""
    key = (twin.connection_id, twin.local_key)
    if key in _HELD.get():  # re-entered: held already, the actions are an update
        if actions:
            twin.update(actions=list(actions))
        yield twin
        return
    if twin.lease_until is not None:
        raise TwinMoved(f"twin {twin.local_key} was held when read")
    now = utcnow()
    try:
        twin.update(actions=[*_taking(now), *actions], condition=_still_as_read(twin))
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        raise TwinMoved(f"twin {twin.local_key} changed since it was read") from exc
    with _held(twin, _HELD.get() | {key}):
        yield twin


def update_as_read(twin: TwinModel, actions: Sequence[Action]) -> bool:
    """One update of ``twin`` as it was read, instead of a lease taken and given back with
    it (issue 19, ADR 0011): conditioned on no lease in force, ``holds`` unchanged (no
    ingest or apply held the twin since the read: everything that writes the registers
    holds it), and its ``seen_updated``, status and remote key unchanged. False, having
    written nothing, when the twin is not as read (or was read with a lease): the caller
    holds it and decides again."""
    if twin.lease_until is not None:
        return False
    condition = _still_as_read(twin) & _as_read(TwinModel.seen_updated, twin.seen_updated)
    try:
        twin.update(actions=list(actions), condition=condition)
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        return False
    return True


def _taking(now: datetime) -> list[Action]:
    """A lease's take: until when, and one more take counted (:func:`holding_as_read`)."""
    return [TwinModel.lease_until.set(now + LEASE), TwinModel.holds.add(1)]


def _free(now: datetime) -> Condition:
    return TwinModel.lease_until.does_not_exist() | (TwinModel.lease_until < now)


def _still_as_read(twin: TwinModel) -> Condition:
    """No lease in force and nothing held the twin since it was read (``holds``, which
    each take adds one to, unchanged); not stopped, linked anew or deleted meanwhile."""
    return (
        TwinModel.local_key.exists()
        & TwinModel.lease_until.does_not_exist()
        & _as_read(TwinModel.holds, twin.holds)
        & _as_read(TwinModel.status, twin.status)
        & _as_read(TwinModel.remote_key, twin.remote_key)
    )


def _as_read(attribute: Any, value: Any) -> Condition:
    return attribute.does_not_exist() if value is None else attribute == value


@contextmanager
def holding_new(twin: TwinModel) -> Iterator[TwinModel]:
    """A twin its creator saved with ``lease_until`` set (:func:`new_lease`): held until
    the end of the block."""
    with _held(twin, _HELD.get() | {(twin.connection_id, twin.local_key)}):
        yield twin


def update_ending_lease(twin: TwinModel, actions: list[Action]) -> None:
    """``twin.update(actions)``, for this handler's last update of the twin: when the twin
    is held here, its lease ends with the same write (instead of a release of its own).
    From then on the twin is not held: a later :func:`holding` in the same handler takes
    the lease again, so nothing writes the registers unheld. An update that fails ends
    nothing (the holder's release still comes)."""
    key = (twin.connection_id, twin.local_key)
    if key not in _HELD.get():
        twin.update(actions=actions)
        return
    twin.update(actions=[*actions, TwinModel.lease_until.remove()])
    _HELD.set(_HELD.get() - {key})
    _ENDED.set(_ENDED.get() | {key})


@contextmanager
def _held(twin: TwinModel, keys: frozenset[tuple[str, str]]) -> Iterator[None]:
    key = (twin.connection_id, twin.local_key)
    token = _HELD.set(keys)
    ended = _ENDED.set(_ENDED.get() - {key})
    try:
        yield
    finally:
        released = key in _ENDED.get()
        _HELD.reset(token)
        _ENDED.reset(ended)
        if not released:  # (else it ended with the last update: update_ending_lease)
            with suppress(UpdateError):  # not released: the lease runs out on its own
                twin.update(
                    actions=[TwinModel.lease_until.remove()],
                    condition=TwinModel.local_key.exists(),  # never re-create a deleted twin
                )


def new_lease() -> Any:
    return utcnow() + LEASE


def twins_of_connection(connection_id: str) -> Iterator[TwinModel]:
    return TwinModel.query(connection_id)


__all__ = ["claim", "condition_failed", "get_key", "set_key"]
