"""Stop syncing an issue (``DELETE …/twins/{key}``), on both ends, for good until restarted.

Both issues stay as they are. The twin record is kept with status ``stopped`` and a
tombstone (``tomb#<connection>#<local key>`` in the keys table) says why and from which
version of the other end on a replica is *not* late:

- the stopping end tells the other end (a ``stopped`` removal through the outbox); the
  other end stops, keeps its tombstone with that version as boundary, and answers with a
  ``stop_ack`` carrying its own version, which becomes the stopping end's boundary;
- while stopped, a replica at or below the boundary (or any, before the boundary is known)
  is a late change and is dropped: it cannot re-create the link. Triggers and bulk jobs
  leave a tombstoned issue alone;
- syncing again is an explicit act (``POST …/sync`` or ``…/connect``): the twin reopens and
  its next replica carries a version above the other end's boundary, which reopens the
  other end too.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pynamodb.expressions.update import Action

from chalicelib.store import audit
from chalicelib.store.keys import get_key, set_key
from chalicelib.store.models import ConnectionModel, KeyModel, TwinModel, utcnow
from chalicelib.store.namespaces import tomb_key
from chalicelib.sync import link_back, removal
from chalicelib.sync.events import record_transaction
from chalicelib.sync.services import SyncDeps

log = logging.getLogger("twinsync.ops.stop")


def tombstone(connection_id: str, local_key: str) -> dict[str, Any] | None:
    item = get_key(tomb_key(connection_id, local_key))
    if item is None or not item.value:
        return None
    return json.loads(item.value)


def _put_tombstone(twin: TwinModel, data: dict[str, Any]) -> None:
    set_key(tomb_key(twin.connection_id, twin.local_key), json.dumps(data))


def mark_stopped(
    twin: TwinModel,
    *,
    kind: str,
    by: str,
    reason: str,
    deps: SyncDeps,
    boundary: int | None = None,
) -> None:
    """The twin stops here: status, the admin-visible reason, its tombstone; its issue's
    link back to the other issue goes."""
    _put_tombstone(
        twin,
        {
            "kind": kind,
            "by": by,
            "reason": reason,
            "at": utcnow().isoformat(),
            "boundary": boundary,
        },
    )
    twin.update(actions=[TwinModel.status.set("stopped"), TwinModel.error.set(reason)])
    link_back.take_down(twin, deps=deps)


def set_boundary(twin: TwinModel, version: int) -> None:
    data = tombstone(twin.connection_id, twin.local_key) or {
        "kind": "stopped",
        "by": "remote",
        "reason": twin.error,
        "at": utcnow().isoformat(),
    }
    data["boundary"] = max(int(data.get("boundary") or 0), version)
    _put_tombstone(twin, data)


def reopen(twin: TwinModel) -> TwinModel:
    """An explicit restart: the twin syncs again and sends its content even if unchanged.

    If its twin was deleted over there, the restart is a new first sync: the other side
    creates a new twin (versions keep growing, so no replica id is ever reused).
    """
    data = tombstone(twin.connection_id, twin.local_key) or {}
    KeyModel(key=tomb_key(twin.connection_id, twin.local_key)).delete()
    actions: list[Action] = [
        TwinModel.status.set("queued"),
        TwinModel.error.remove(),
        TwinModel.last_sent_hash.remove(),
    ]
    fresh = data.get("kind") == "twin_deleted"
    if fresh:
        actions += [
            TwinModel.remote_key.remove(),
            TwinModel.remote_url.remove(),
            TwinModel.comment_map.set({}),
            TwinModel.attachment_map.set({}),
            TwinModel.sent_attachments.set({}),
            TwinModel.merge_state.set({}),
            TwinModel.sent_hashes.set({}),
            TwinModel.last_applied_replica.remove(),
        ]
    twin.update(actions=actions)
    record_transaction(
        twin.connection_id,
        twin.local_key,
        direction="outgoing",
        changes=[],
        outcome="sync restarted" + (" (as a new first sync)" if fresh else ""),
    )
    return twin


def stop_sync(
    connection: ConnectionModel, twin: TwinModel, *, deps: SyncDeps, actor: str | None = None
) -> TwinModel:
    """``DELETE …/twins/{key}``: idempotent; the other end is told through the outbox."""
    if twin.status == "stopped":
        return twin
    when = utcnow().strftime("%Y-%m-%d %H:%M UTC")
    reason = (
        f"Sync stopped on {when} by this node's admin; both issues were kept. "
        f"Sync it again with POST /api/v1/connections/{connection.id}/sync."
    )
    told = bool(twin.remote_key or twin.last_sent_version)
    mark_stopped(twin, kind="stopped", by="local", reason=reason, deps=deps)
    if told:
        removal.send(
            connection,
            twin,
            "stopped",
            f"stopped by the admin of {deps.settings.node_name}",
            deps=deps,
        )
    else:
        record_transaction(
            connection.id, twin.local_key, direction="outgoing", changes=[], outcome="stopped"
        )
    audit.record(
        "twin.sync_stopped",
        actor=actor,
        connection_id=connection.id,
        details={"local_key": twin.local_key, "remote_key": twin.remote_key},
    )
    log.info("sync of %s stopped in %s", twin.local_key, connection.id)
    return twin


# --- what the other end tells us -------------------------------------------------------------


def on_stop(
    connection: ConnectionModel,
    twin: TwinModel,
    kind: str,
    reason: str | None,
    version: int,
    *,
    deps: SyncDeps,
) -> str:
    """A ``stopped`` or ``stop_ack`` from the other end; returns what was done."""
    if kind == "stop_ack":
        if twin.status == "stopped":
            set_boundary(twin, version)
            return "boundary recorded"
        return "ignored: sync was restarted here meanwhile"
    if twin.status == "stopped":
        set_boundary(twin, version)
        return "already stopped here"
    other = connection.remote_name or connection.remote_short_name
    mark_stopped(
        twin,
        kind="stopped",
        by="remote",
        reason=f"Sync stopped by the other side ({other}): {reason or 'no reason given'}. "
        "Both issues were kept.",
        boundary=version,
        deps=deps,
    )
    removal.send(connection, twin, "stop_ack", None, deps=deps)
    return "stopped"
