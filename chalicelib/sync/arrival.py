"""What a received replica is, decided before apply writes anything (:func:`classify`).

``classify`` is pure: it looks at the replica, the twin apply found (if any) and, for a
stopped twin, its tombstone, and names the arrival:

1. ``REMOVAL``: a :class:`~chalicelib.sync.messages.Removal` (stop, stop_ack, deleted,
   refused): the link ends here too (:func:`receive_removal`);
2. ``CONNECT``: a connect request (a replica whose ``twin_key`` names our issue, no twin
   yet; apply hands it on as a :class:`~chalicelib.sync.messages.ConnectRequest`): see
   :mod:`chalicelib.sync.connect`;
3. ``LATE``: a replica for a stopped twin from before the stop: dropped;
4. ``RESTART``: a replica for a stopped twin from after it: the other side synced again,
   the twin reopens;
5. ``AFTER_DELETION``: our issue was deleted and the other side starts a new first sync;
6. ``APPLY``: everything else.

The apply worker (:func:`chalicelib.sync.apply.apply_replica`) acts on the decision; it
also asks the incoming guard (:func:`guard_allows`, a tracker search): a local twin that
does not match the connection's ``incoming_guard_jql`` is protected and the change is not
applied (nor marked applied, so the next replica brings it once the issue is no longer
protected).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from enum import Enum
from typing import Any

from chalicelib.store.models import ConnectionModel, TwinModel
from chalicelib.sync.events import record_transaction
from chalicelib.sync.messages import Incoming, Removal, Replica
from chalicelib.sync.services import SyncDeps
from chalicelib.sync.store import get_twin
from chalicelib.trackers.base import InvalidRequest

log = logging.getLogger("twinsync.sync.arrival")


class Arrival(Enum):
    APPLY = "apply"
    REMOVAL = "removal"
    CONNECT = "connect"
    LATE = "late"
    RESTART = "restart"
    AFTER_DELETION = "after_deletion"


def classify(
    message: Incoming, twin: TwinModel | None, tombstone: Mapping[str, Any] | None
) -> Arrival:
    """What ``message`` is for this end, given the twin found for it (pure)."""
    if isinstance(message, Removal):
        return Arrival.REMOVAL
    if twin is None:
        return Arrival.CONNECT if message.twin_key else Arrival.APPLY
    if twin.status != "stopped":
        return Arrival.APPLY
    tomb = tombstone or {}
    if not message.twin_key and tomb.get("kind") == "deleted":
        return Arrival.AFTER_DELETION  # the link died with our issue: a new twin follows
    boundary = tomb.get("boundary")
    if tomb.get("kind") in ("deleted", "refused") or boundary is None:
        return Arrival.LATE
    return Arrival.RESTART if message.version > int(boundary) else Arrival.LATE


def skipped(connection: ConnectionModel, twin: TwinModel, replica: Replica, why: str) -> None:
    record_transaction(
        connection.id,
        twin.local_key,
        direction="incoming",
        changes=[],
        outcome=why,
        version=replica.version,
    )


def guard_allows(connection: ConnectionModel, twin: TwinModel, *, deps: SyncDeps) -> bool:
    """Does the local twin match the connection's incoming guard (no guard: yes)?"""
    if not connection.incoming_guard_jql:
        return True  # no guard: the JQL helpers are not imported (cold start, issue 19)
    from chalicelib.trackers import jql

    guard = jql.condition(connection.incoming_guard_jql)
    if not guard:
        return True
    try:
        page = deps.tracker.search(jql.for_issue(twin.local_key, guard), limit=1)
    except InvalidRequest as exc:
        # a guard the tracker no longer accepts protects everything until it is fixed
        log.warning("incoming guard of %s is refused by the tracker: %s", connection.id, exc)
        return False
    return bool(page.issues)


def receive_removal(
    connection: ConnectionModel,
    removal: Removal,
    twin: TwinModel | None,
    *,
    deps: SyncDeps,
) -> None:
    kind, reason, version = removal.kind, removal.reason, removal.version
    if removal.twin_key:
        addressed = get_twin(connection.id, removal.twin_key)
        if addressed is not None and addressed.remote_key in (None, removal.key):
            twin = addressed
    if twin is None:
        return  # nothing was linked here: nothing to end
    # a removal's modules, imported when one arrives (a change's apply needs neither, and
    # deletion brings the delivery path: cold start, issue 19)
    from chalicelib.sync.deletion import on_twin_deleted
    from chalicelib.sync.stop import mark_stopped, on_stop

    if kind == "refused":
        if twin.status != "stopped" and twin.remote_key == removal.key:
            mark_stopped(
                twin,
                kind="refused",
                by="remote",
                reason=f"The other side refused to connect {twin.local_key} with "
                f"{removal.key}: {reason or 'no reason given'}",
                deps=deps,
            )
        done = "connect refused"
    else:
        if version <= int(twin.last_applied_version or 0):
            return  # already seen
        twin.update(actions=[TwinModel.last_applied_version.set(version)])
        if kind == "deleted":
            done = on_twin_deleted(
                connection,
                twin,
                removal,
                guarded=not guard_allows(connection, twin, deps=deps),
                deps=deps,
            )
            return
        done = on_stop(connection, twin, kind, reason, version, deps=deps)
    record_transaction(
        connection.id,
        twin.local_key,
        direction="incoming",
        changes=["removed"],
        outcome=f"{kind}: {done}",
        version=version,
        error=reason,
    )
