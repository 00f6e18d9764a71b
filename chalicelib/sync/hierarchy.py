"""Issue 18: parents first. A replica whose parent has no twin here waits (nothing written)
until that parent's first sync lands; the sending end brings a parent under sync before its
child when the connection says so. Order of arrival never matters.

- Apply (:func:`resolve_parent`): the plan's parent (the other side's key) becomes this
  tracker's key through the twins, in ``IssueFields.parent`` (``""``: remove the parent),
  so a first sync creates the child under its parent. A parent without a twin here raises
  :class:`ParentNotSynced`; the apply worker then parks the inbox entry (:func:`wait`):
  state ``waiting``, its seq listed under ``wait#<connection>#<parent's remote key>``.
- The parent's first sync (:func:`released`) queues every entry listed for it again.
  Either end of that race sees the other: a waiting entry is listed *before* it looks for
  the parent's twin once more, and a twin exists before it is released.
- Sending (:func:`bring_parent`): with the connection's ``hierarchy`` ``parent_first``
  (the default), a replica with a parent not under sync in the connection puts that
  parent under sync as the admin's "sync this issue" does; ``wait`` leaves it to a person
  (or a trigger) and the child waits on the other end.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from msgspec.structs import replace
from pynamodb.exceptions import DeleteError, PutError

from chalicelib.queues import RetryLater
from chalicelib.rules.plan import Plan
from chalicelib.store.keys import condition_failed
from chalicelib.store.models import ConnectionModel, EntryModel, KeyModel, TwinModel, utcnow
from chalicelib.store.namespaces import parent_dedup, parent_wait_key
from chalicelib.sync.inbox import enqueue_apply
from chalicelib.sync.messages import ApplyMessage, Replica
from chalicelib.sync.services import SyncDeps
from chalicelib.sync.store import get_key, get_twin, set_entry_state, twin_by_remote
from chalicelib.trackers.base import IssueFields, TrackerError

log = logging.getLogger("twinsync.hierarchy")

PARENT_FIRST = "parent_first"
WAIT = "wait"
WAITING = "waiting"  # an inbox entry's state while its parent has no twin here
LIST_ATTEMPTS = 20  # concurrent writers of one wait list: each retries on a lost race
RECHECKS = 3  # a released entry that still misses its parent (index lag) is retried


class ParentNotSynced(Exception):
    """The replica's parent (``remote_key``, the other side's key) has no twin here yet."""

    def __init__(self, remote_key: str) -> None:
        super().__init__(f"parent {remote_key} is not synced here yet")
        self.remote_key = remote_key


def setting(connection: ConnectionModel) -> str:
    return connection.hierarchy or PARENT_FIRST


# --- apply ------------------------------------------------------------------------------


def resolve_parent(
    connection: ConnectionModel,
    replica: Replica,
    twin: TwinModel | None,
    plan: Plan,
    *,
    deps: SyncDeps,
) -> Plan:
    """The plan with its parent as this tracker's key (``IssueFields.parent``).

    A parent the replica had already when last applied is not written again (an edit of
    the parent here stays). :class:`ParentNotSynced` when the parent has no twin here."""
    op = plan.parent
    if op is None:
        return plan
    if twin is not None and not twin.last_applied_version:
        # a baseline (a link, or the answer to our first sync): both issues exist and match
        # as far as we know; the parent is written when it changes, never waited for here
        parent = twin_by_remote(connection.id, op.remote_key) if op.remote_key else None
        if parent is None:
            return replace(plan, parent=None)
    applied = twin is not None and bool(twin.last_applied_version)
    if applied and twin is not None and op.remote_key == _parent_of(twin.last_applied_replica):
        return replace(plan, parent=None)  # unchanged since the last replica applied
    if op.remote_key is None:
        if not applied:
            return replace(plan, parent=None)  # a first sync without a parent
        return replace(plan, fields=replace(plan.fields or IssueFields(), parent=""))
    parent = twin_by_remote(connection.id, op.remote_key)
    if parent is None:
        raise ParentNotSynced(op.remote_key)
    return replace(plan, fields=replace(plan.fields or IssueFields(), parent=parent.local_key))


def _parent_of(replica: Mapping[str, Any] | None) -> str | None:
    parent = (replica or {}).get("parent")
    return str(parent.get("key")) if isinstance(parent, Mapping) and parent.get("key") else None


def wait(
    connection: ConnectionModel,
    entry: EntryModel,
    remote_key: str,
    *,
    deps: SyncDeps,
    receive_count: int = 1,
) -> None:
    """Park inbox ``entry`` until the twin of its parent ``remote_key`` exists here."""
    if entry.state == WAITING and receive_count <= RECHECKS:
        # released (or found) already, and still missing: the twins' index lags behind
        raise RetryLater(f"parent {remote_key} of {entry.issue_key}: looking again", delay=5)
    set_entry_state(entry, WAITING)  # before it is listed: a release may apply it at once
    ttl = timedelta(days=deps.settings.outbox_retention_days)  # as long as the entry lives
    _list(parent_wait_key(connection.id, remote_key), _token(entry), ttl=ttl)
    log.info("%s waits for its parent %s", entry.issue_key, remote_key)
    if twin_by_remote(connection.id, remote_key) is not None:  # it landed meanwhile
        _requeue(connection.id, int(entry.seq), str(entry.issue_key), remote_key, deps=deps)


def released(connection: ConnectionModel, twin: TwinModel, *, deps: SyncDeps) -> None:
    """A twin's first sync landed: replicas waiting for it as their parent go on."""
    if not twin.remote_key:
        return
    key = parent_wait_key(connection.id, twin.remote_key)
    for _ in range(LIST_ATTEMPTS):
        item = get_key(key)
        if item is None or not item.value:
            return
        for token in item.value.split():
            seq, _, child = token.partition(":")
            _requeue(connection.id, int(seq), child, twin.remote_key, deps=deps)
        try:  # only the list just read: an entry listed meanwhile is queued next round
            item.delete(condition=KeyModel.value == item.value)
            return
        except DeleteError as exc:
            if not condition_failed(exc):  # type: ignore[arg-type]
                raise
    raise RetryLater(f"the entries waiting for {twin.remote_key} keep changing")


def _token(entry: EntryModel) -> str:
    return f"{int(entry.seq)}:{entry.issue_key}"


def _list(key: str, token: str, *, ttl: timedelta) -> None:
    """Add ``token`` to the space-separated list in ``key`` (conditional: concurrent
    writers never lose one another's entry)."""
    for _ in range(LIST_ATTEMPTS):
        now = utcnow()
        item = get_key(key)
        tokens = (item.value or "").split() if item is not None else []
        if token in tokens:
            return
        listed = KeyModel(key=key, value=" ".join([*tokens, token]), expires_at=now + ttl)
        try:
            if item is None:  # none, or an expired one DynamoDB has not deleted yet
                listed.save(condition=KeyModel.key.does_not_exist() | (KeyModel.expires_at < now))
            else:
                listed.save(condition=KeyModel.value == item.value)
            return
        except PutError as exc:
            if not condition_failed(exc):
                raise
    raise RetryLater(f"{key}: too many concurrent writers")


def _requeue(connection_id: str, seq: int, child: str, parent: str, *, deps: SyncDeps) -> None:
    # a dedup id of its own (a second apply of an applied entry does nothing)
    dedup = parent_dedup(connection_id, seq, parent, time.time_ns())
    enqueue_apply(ApplyMessage(connection_id, seq, child), deps=deps, dedup=dedup)


def waiting_for(entry: EntryModel) -> str | None:
    """The other side's key of the parent a waiting inbox entry waits for."""
    return _parent_of(entry.replica) if entry.state == WAITING else None


# --- sending ------------------------------------------------------------------------------


def bring_parent(
    connection: ConnectionModel, replica: Mapping[str, Any], *, deps: SyncDeps
) -> None:
    """Parents first (the sending end): a replica sent with a parent that is not under sync
    in ``connection`` puts that parent under sync (idempotent: once it has a twin, nothing)."""
    key = _parent_of(replica)
    if key is None or setting(connection) != PARENT_FIRST:
        return
    if get_twin(connection.id, key) is not None:
        return
    try:
        issue = deps.tracker.get_issue(key)
    except TrackerError as exc:  # the child waits on the other end; a later send tries again
        log.warning("parent %s of %s not brought under sync: %s", key, replica.get("key"), exc)
        return
    # imported here: control → ingest → outgoing → hierarchy
    from chalicelib.sync.control import put_under_sync

    put_under_sync(connection, issue, deps=deps)
    log.info("parent %s brought under sync before %s", key, replica.get("key"))
