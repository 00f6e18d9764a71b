"""Resume: what waited while a connection was deactivated or paused moves again.

Outbox entries stay pending and inbox entries are held while a connection is not live;
nothing is dropped. When it is live again (activated here, activated by the other end, or
the peer answering again) they are queued once more, oldest first. The reconcile schedule
also runs this for every live connection, so a lost queue message only delays a change.
"""

from __future__ import annotations

import time
from typing import Any

from chalicelib.store.models import ConnectionModel, EntryModel
from chalicelib.store.namespaces import inbox_pk, outbox_pk, resume_in_dedup, resume_out_dedup
from chalicelib.sync.deliver import enqueue_deliver
from chalicelib.sync.inbox import enqueue_apply
from chalicelib.sync.links import get_connection, is_live
from chalicelib.sync.messages import ApplyMessage, DeliverMessage
from chalicelib.sync.services import SyncDeps
from chalicelib.sync.store import entries_in_state, set_entry_state

STUCK_AFTER_S = 60


def resume(connection: ConnectionModel, *, deps: SyncDeps, min_age_s: float = 0) -> dict[str, int]:
    """Queue again the pending outbox and held inbox entries of a live connection."""
    if not is_live(connection):
        return {"deliver": 0, "apply": 0}
    now = time.time()
    bucket = int(now // 60)
    delivered = applied = 0
    if connection.remote_public or connection.local_peer_id:
        for entry in entries_in_state(outbox_pk(connection.id), "pending"):
            if now - entry.created_at.timestamp() < min_age_s:
                continue
            enqueue_deliver(
                DeliverMessage(connection.id, int(entry.seq), entry.issue_key),
                deps=deps,
                dedup=resume_out_dedup(connection.id, int(entry.seq), bucket),
            )
            delivered += 1
    for state in ("held", "pending"):
        for entry in entries_in_state(inbox_pk(connection.id), state):
            if state == "pending" and now - entry.created_at.timestamp() < max(min_age_s, 1):
                continue
            if state == "held":
                set_entry_state(entry, "pending")
            enqueue_apply(
                ApplyMessage(connection.id, int(entry.seq), entry.issue_key),
                deps=deps,
                dedup=resume_in_dedup(connection.id, int(entry.seq), bucket),
            )
            applied += 1
    return {"deliver": delivered, "apply": applied}


def resume_by_id(connection_id: str, *, deps: SyncDeps) -> None:
    """For the connection lifecycle: call after a connection turns active."""
    connection = get_connection(connection_id)
    if connection is not None:
        resume(connection, deps=deps)


def resume_all(*, deps: SyncDeps) -> dict[str, Any]:
    """The sweep: entries stuck longer than a minute are queued again."""
    totals = {"deliver": 0, "apply": 0}
    for connection in ConnectionModel.scan():
        # a paused connection is probed at once; elsewhere only stuck entries move
        age = 0 if connection.status == "error" else STUCK_AFTER_S
        counts = resume(connection, deps=deps, min_age_s=age)
        for key in totals:
            totals[key] += counts[key]
    return totals


__all__ = ["EntryModel", "resume", "resume_all", "resume_by_id"]
