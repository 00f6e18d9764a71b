"""What apply asks before it writes a received replica: is it for us to apply at all?

``intercept`` runs after apply has looked the twin up and before it checks versions or
writes anything. It returns True when it dealt with the replica itself:

1. a ``removed`` replica (stop, stop_ack, deleted, refused): the link ends here too;
2. a connect request (a ``twin_key`` naming our issue, no twin yet): see
   :mod:`chalicelib.ops.connect`;
3. a replica for a stopped twin: late, dropped (or an explicit restart from the other
   side, which reopens the twin and lets apply continue);
4. the incoming guard: a local twin that does not match the connection's
   ``incoming_guard_jql`` is protected; the change is not applied (nor marked applied, so
   the next replica brings it once the issue is no longer protected).

It returns False to let apply continue; for a twin made by a connect request whose first
replica this is, it first makes that replica the baseline (a link: no field overwritten).
"""

from __future__ import annotations

import logging
from typing import Any

from chalicelib.ops import jql
from chalicelib.ops.removal import removal_of
from chalicelib.store.models import ConnectionModel, TwinModel
from chalicelib.sync.deps import SyncDeps
from chalicelib.sync.events import record_transaction
from chalicelib.sync.store import get_twin
from chalicelib.trackers.base import InvalidRequest

log = logging.getLogger("twinsync.ops.gate")


def intercept(
    connection: ConnectionModel,
    replica: dict[str, Any],
    twin: TwinModel | None,
    *,
    deps: SyncDeps,
) -> bool:
    if replica.get("removed"):
        receive_removal(connection, replica, twin, deps=deps)
        return True
    if twin is None:
        if replica.get("twin_key"):
            from chalicelib.ops.connect import receive_request

            receive_request(connection, replica, deps=deps)
            return True
        return False
    if twin.status == "stopped":
        from chalicelib.ops.stop import is_dead_end, late_or_restarted

        if is_dead_end(twin, replica):
            # the link died with our issue: the other side's new sync makes a new twin
            from chalicelib.sync.apply import apply_replica

            twin.delete()
            apply_replica(connection, replica, deps=deps)
            return True
        if late_or_restarted(twin, replica):
            _skipped(connection, twin, replica, "skipped: sync stopped (late change)")
            return True
        _restarted_by_other_end(connection, replica, twin, deps=deps)
        return True
    if not guard_allows(connection, twin, deps=deps):
        _skipped(connection, twin, replica, "skipped: protected by the incoming guard")
        return True
    return False


def _restarted_by_other_end(
    connection: ConnectionModel, replica: dict[str, Any], twin: TwinModel, *, deps: SyncDeps
) -> None:
    """The other end synced again (reopened here): apply, then answer like a first sync so
    that both ends know the link is live again."""
    from chalicelib.sync.apply import apply_replica
    from chalicelib.sync.ingest import send_replica

    apply_replica(connection, replica, deps=deps)
    current = get_twin(connection.id, twin.local_key)
    if current is not None and current.status != "stopped":
        send_replica(deps.tracker.get_issue(current.local_key), current, deps=deps, force=True)


def _skipped(
    connection: ConnectionModel, twin: TwinModel, replica: dict[str, Any], why: str
) -> None:
    record_transaction(
        connection.id,
        twin.local_key,
        direction="incoming",
        changes=[],
        outcome=why,
        version=int(replica["version"]),
    )


def guard_allows(connection: ConnectionModel, twin: TwinModel, *, deps: SyncDeps) -> bool:
    """Does the local twin match the connection's incoming guard (no guard: yes)?"""
    guard = jql.condition(connection.incoming_guard_jql or "")
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
    replica: dict[str, Any],
    twin: TwinModel | None,
    *,
    deps: SyncDeps,
) -> None:
    from chalicelib.ops.deletion import on_twin_deleted
    from chalicelib.ops.stop import mark_stopped, on_stop

    kind, reason = removal_of(replica)
    version = int(replica["version"])
    if replica.get("twin_key"):
        addressed = get_twin(connection.id, str(replica["twin_key"]))
        if addressed is not None and addressed.remote_key in (None, replica.get("key")):
            twin = addressed
    if twin is None:
        return  # nothing was linked here: nothing to end
    if kind == "refused":
        if twin.status != "stopped" and twin.remote_key == replica.get("key"):
            mark_stopped(
                twin,
                kind="refused",
                by="remote",
                reason=f"The other side refused to connect {twin.local_key} with "
                f"{replica.get('key')}: {reason or 'no reason given'}",
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
                replica,
                version,
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
