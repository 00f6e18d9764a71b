"""The public side of a private peer: its outbox, pulled by long polling, then acknowledged.

A pull answers at once when entries are waiting and otherwise holds the request open up
to ``wait`` seconds, so a change reaches the private side within about a second of being
queued, not at the next schedule tick. Acknowledgement is at least once: a lost ack only
makes the peer pull (and idempotently apply) the same entries again.

Entries saved late. An entry's number is taken a moment before it is saved (from the
clock since issue 19, from a counter before), so an entry can become visible after one
with a higher number was already pulled: reading strictly after the peer's cursor would
never offer it. A pull therefore also offers the entries still pending up to
:data:`REOFFER_MARGIN` below the cursor (seconds' worth of clock numbers; every pending
entry below a counter's cursor); the receiver drops replicas it has taken in (the inbox
is idempotent by replica id), and an entry offered is pending only until its ack. An ack
that names what was received (``seqs``, a v1 addition) acknowledges exactly that, so an
entry saved between a pull and its ack is not acknowledged unseen; an ack with ``upto``
alone (an older peer) acknowledges every entry up to it, as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from chalicelib.errors import BadRequest
from chalicelib.store.models import ConnectionModel, EntryModel, utcnow
from chalicelib.store.namespaces import outbox_pk
from chalicelib.sync.store import pending_after, set_entry_state

MAX_WAIT = 25  # API Gateway's integration timeout is 29 s
MAX_LIMIT = 50
POLL_INTERVAL = 0.25
# How far below the peer's cursor pending entries are offered again: 30 s of clock numbers
# (microseconds). Between an entry's number and its save there is one PutItem (a private
# peer's entry is never pushed first), so this also covers clocks of the node's functions
# up to several seconds apart.
REOFFER_MARGIN = 30_000_000
MAX_ACKED = 1_000


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
        entries = pending_after(pk, max(0, after - REOFFER_MARGIN), limit=limit)
        if entries or clock() >= deadline:
            break
        sleep(POLL_INTERVAL)
    connection.update(actions=[ConnectionModel.peer_last_pull_at.set(utcnow())])
    return {
        "items": [{"seq": int(e.seq), "replica": e.replica} for e in entries],
        "last_seq": max([after, *(int(e.seq) for e in entries)]),
    }


def ack(connection: ConnectionModel, body: dict[str, Any]) -> dict[str, Any]:
    upto = body.get("upto")
    if not _whole(upto):
        raise BadRequest("'upto' must be the last sequence number received.", field="upto")
    seqs = body.get("seqs")
    if seqs is not None and not (
        isinstance(seqs, list)
        and len(seqs) <= MAX_ACKED
        and all(_whole(n) and n <= upto for n in seqs)
    ):
        raise BadRequest(
            f"'seqs' must list at most {MAX_ACKED} sequence numbers received, none above 'upto'.",
            field="seqs",
        )
    pk = outbox_pk(connection.id)
    unacked: Iterable[EntryModel] = ()
    if seqs is None:  # an older peer: everything up to ``upto``
        unacked = EntryModel.query(
            pk,
            EntryModel.seq <= upto,
            filter_condition=EntryModel.state != "acked",
            consistent_read=True,
        )
    elif seqs:
        named = set(seqs)
        unacked = (
            e
            for e in EntryModel.query(
                pk,
                EntryModel.seq.between(min(named), upto),
                filter_condition=EntryModel.state != "acked",
                consistent_read=True,
            )
            if int(e.seq) in named
        )
    acked = 0
    for entry in unacked:
        set_entry_state(entry, "acked")
        acked += 1
    return {"acked": acked, "upto": upto}


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


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
