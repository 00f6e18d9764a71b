"""The public side of a private peer: its outbox, pulled by long polling, then acknowledged.

A pull answers at once when entries are waiting and otherwise holds the request open up
to ``wait`` seconds, so a change reaches the private side within about a second of being
queued, not at the next schedule tick. Acknowledgement is at least once: a lost ack only
makes the peer pull (and idempotently apply) the same entries again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from chalicelib.errors import BadRequest
from chalicelib.store.models import ConnectionModel, EntryModel, utcnow
from chalicelib.store.namespaces import outbox_pk
from chalicelib.sync.store import entries_after, set_entry_state

MAX_WAIT = 25  # API Gateway's integration timeout is 29 s
MAX_LIMIT = 50
POLL_INTERVAL = 0.25


def _int(query: dict[str, Any], name: str, default: int, high: int) -> int:
    raw = query.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw))
    except ValueError as exc:
        raise BadRequest(f"'{name}' must be a whole number.", field=name) from exc
    if value < 0:
        raise BadRequest(f"'{name}' must not be negative.", field=name)
    return min(value, high)


def pull(
    connection: ConnectionModel,
    query: dict[str, Any],
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    after = _int(query, "after", 0, 2**62)
    wait = _int(query, "wait", 0, MAX_WAIT)
    limit = max(1, _int(query, "limit", MAX_LIMIT, MAX_LIMIT))
    deadline = clock() + wait
    pk = outbox_pk(connection.id)
    while True:
        entries = [e for e in entries_after(pk, after, limit=limit) if e.state != "acked"]
        if entries or clock() >= deadline:
            break
        sleep(POLL_INTERVAL)
    connection.update(actions=[ConnectionModel.peer_last_pull_at.set(utcnow())])
    return {
        "items": [{"seq": int(e.seq), "replica": e.replica} for e in entries],
        "last_seq": int(entries[-1].seq) if entries else after,
    }


def ack(connection: ConnectionModel, body: dict[str, Any]) -> dict[str, Any]:
    upto = body.get("upto")
    if not isinstance(upto, int) or isinstance(upto, bool) or upto < 0:
        raise BadRequest("'upto' must be the last sequence number received.", field="upto")
    acked = 0
    pk = outbox_pk(connection.id)
    for entry in EntryModel.query(pk, EntryModel.seq <= upto, consistent_read=True):
        if entry.state != "acked":
            set_entry_state(entry, "acked")
            acked += 1
    return {"acked": acked, "upto": upto}


def lag(connection: ConnectionModel) -> dict[str, Any]:
    """How far behind a private peer is: last pull and oldest unacknowledged entry."""
    oldest = None
    pending = 0
    for entry in EntryModel.query(outbox_pk(connection.id), consistent_read=True):
        if entry.state != "acked":
            pending += 1
            if oldest is None:
                oldest = entry.created_at
    now = utcnow()
    return {
        "last_pull_at": connection.peer_last_pull_at.isoformat()
        if connection.peer_last_pull_at
        else None,
        "pending": pending,
        "oldest_pending_age_s": round((now - oldest).total_seconds(), 1) if oldest else None,
    }
