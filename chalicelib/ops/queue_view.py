"""``GET …/connections/{id}/queue``: what is waiting in a connection, and how far behind.

- outgoing: outbox entries the other end has not acknowledged yet, and the oldest's age;
- incoming: inbox entries not applied yet (``held`` ones wait for the connection to be
  active again, ``waiting`` ones for their parent's first sync: issue 18, listed with the
  parent they wait for), and the oldest's age;
- peer: for a private peer, when it last pulled and how much it has not pulled yet
  (:func:`chalicelib.sync.outbox_api.lag`, which this reuses);
- jobs: the connection's recent bulk jobs with their progress; errors: open error records.

:func:`gauges` is the node-wide part of the same figures, which the ``reconcile`` schedule
turns into metrics (:mod:`chalicelib.observability.metrics`).
"""

from __future__ import annotations

from typing import Any

from chalicelib.store.models import ConnectionModel, EntryModel, utcnow
from chalicelib.store.namespaces import inbox_pk
from chalicelib.sync.events import list_errors
from chalicelib.sync.hierarchy import waiting_for
from chalicelib.sync.outbox_api import lag


def _age(moment: Any) -> float | None:
    return None if moment is None else round((utcnow() - moment).total_seconds(), 1)


WAITING_SHOWN = 20


def incoming(connection: ConnectionModel) -> dict[str, Any]:
    counts = {"pending": 0, "held": 0, "waiting": 0}
    oldest = None
    waiting: list[dict[str, Any]] = []  # issue 18: children whose parent is not synced yet
    condition = EntryModel.state.is_in("pending", "held", "waiting")
    for entry in EntryModel.query(inbox_pk(connection.id), filter_condition=condition):
        counts[entry.state] = counts.get(entry.state, 0) + 1
        if entry.state == "waiting":
            if len(waiting) < WAITING_SHOWN:
                waiting.append({"key": entry.issue_key, "parent": waiting_for(entry)})
            continue  # waits for its parent, not for the apply worker
        if oldest is None:
            oldest = entry.created_at
    return {**counts, "oldest_age_s": _age(oldest), "waiting_for_parent": waiting}


def has_private_peer(connection: ConnectionModel) -> bool:
    """The other end is private: it pulls this end's outbox."""
    return not connection.remote_public and not connection.local_peer_id


def gauges() -> dict[str, float | None]:
    """The node's levels: open error records, and the age of the oldest change an active
    private peer has not pulled yet (``None`` without such a peer; 0 when it is current)."""
    lags = [
        lag(c)["oldest_pending_age_s"] or 0.0
        for c in ConnectionModel.scan()
        if c.status == "active" and has_private_peer(c)
    ]
    return {
        "open_errors": float(len(list_errors())),
        "private_peer_lag_s": max(lags) if lags else None,
    }


def queue_view(connection: ConnectionModel) -> dict[str, Any]:
    from chalicelib.ops.jobs import jobs_of

    out = lag(connection)
    private_peer = has_private_peer(connection)
    return {
        "connection_id": connection.id,
        "status": connection.status,
        "outgoing": {"pending": out["pending"], "oldest_age_s": out["oldest_pending_age_s"]},
        "incoming": incoming(connection),
        "peer": {
            "public": bool(connection.remote_public),
            "local": bool(connection.local_peer_id),
            # a private peer pulls our outbox: what it has not pulled is how far behind it is
            "last_pull_at": out["last_pull_at"] if private_peer else None,
            "behind": out["pending"] if private_peer else None,
            "behind_age_s": out["oldest_pending_age_s"] if private_peer else None,
        },
        "jobs": [j for j in jobs_of(connection.id) if j["state"] not in ("done",)][:10],
        "open_errors": len(list_errors(connection.id)),
    }
