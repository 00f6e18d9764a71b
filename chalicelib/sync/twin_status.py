"""Twin status notices: the receiving end tells the sending end how its change fared.

When the receiving tracker refuses a change for good, the sending end's twin must show it
too (not "queued" for ever), and when a retry then succeeds the error is lifted there. A
notice is kept in a small log per connection (``tstat#<connection id>``, time-ordered ids):

- a public sender is told at once, ``POST /node/v1/connections/{cid}/twin-status``; a
  notice it did not receive (it was down) is sent again by ``poll_peers``;
- a private sender, which nobody can call, pulls the log while it long-polls the outbox,
  ``GET /node/v1/connections/{cid}/twin-status?after=ID&limit=N``;
- the two ends of a local connection share this node: the other end is told directly.

A notice: ``{"id", "key", "status": "error"|"synced", "error": str|null, "at"}``, where
``key`` is the ``key`` of the replica it answers (the told node's own issue).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from chalicelib.errors import BadRequest
from chalicelib.net.errors import OutboundError, PeerRefused
from chalicelib.store.models import ConnectionModel, EventModel, TwinModel, new_id, utcnow
from chalicelib.store.namespaces import status_log_pk, status_pull_cursor_key
from chalicelib.sync.events import record_transaction
from chalicelib.sync.links import get_connection, is_local, peer_end
from chalicelib.sync.services import SyncDeps
from chalicelib.sync.store import get_key, get_twin, set_key

log = logging.getLogger("twinsync.twin_status")

STATUSES = ("error", "synced")
PEER_PREFIX = "The other end could not apply this change: "
MAX_LIMIT = 50
RETRY_WINDOW = 50  # undelivered notices looked at per connection and poll_peers run


def path(connection_id: str) -> str:
    return f"/node/v1/connections/{quote(connection_id, safe='')}/twin-status"


# --- the receiving end: telling the sender ------------------------------------------------


def tell_sender(
    connection: ConnectionModel, key: str, status: str, error: str | None, *, deps: SyncDeps
) -> None:
    """Let the end that sent the replica of ``key`` know; never raises for a peer fault."""
    notice = {"key": key, "status": status, "error": error, "at": utcnow().isoformat()}
    if is_local(connection):
        other = get_connection(str(connection.local_peer_id))
        if other is not None:
            receive(other, notice)
        return
    item = EventModel(
        pk=status_log_pk(connection.id),
        sk=new_id(),
        data={**notice, "delivered": not connection.remote_public},
        purge_at=utcnow() + timedelta(days=deps.settings.outbox_retention_days),
    )
    item.data["id"] = item.sk
    item.save()
    if connection.remote_public:
        _push(connection, [item], deps=deps)


def _push(connection: ConnectionModel, items: list[EventModel], *, deps: SyncDeps) -> bool:
    """Send the newest notice of ``items`` (they are about one issue); all are then done."""
    newest = max(items, key=lambda i: i.sk)
    try:
        deps.peer.call(peer_end(connection), "POST", path(connection.id), _public(newest.data))
    except OutboundError as exc:  # down: poll_peers sends it again
        log.info("twin status of %s not delivered yet: %s", connection.id, exc)
        return False
    except (PeerRefused, ValueError) as exc:  # a node without this route: nothing to retry
        log.warning("peer of %s refused a twin status notice: %s", connection.id, exc)
    for item in items:
        item.update(actions=[EventModel.data.set({**item.data, "delivered": True})])
    return True


def retry_undelivered(*, deps: SyncDeps) -> int:
    """For ``poll_peers``: send public peers the notices they did not receive; how many."""
    sent = 0
    for connection in ConnectionModel.scan():
        if not connection.remote_public or is_local(connection) or connection.status == "deleted":
            continue
        pending: dict[str, list[EventModel]] = {}
        for item in EventModel.query(
            status_log_pk(connection.id), scan_index_forward=False, limit=RETRY_WINDOW
        ):
            if not item.data.get("delivered"):
                pending.setdefault(str(item.data.get("key")), []).append(item)
        sent += sum(1 for items in pending.values() if _push(connection, items, deps=deps))
    return sent


def pull(connection: ConnectionModel, query: dict[str, Any]) -> dict[str, Any]:
    """A private sender reads the notices after ``after`` (oldest first)."""
    after = str(query.get("after") or "")
    try:
        limit = min(MAX_LIMIT, max(1, int(str(query.get("limit") or MAX_LIMIT))))
    except ValueError as exc:
        raise BadRequest("'limit' must be a whole number.", field="limit") from exc
    condition = EventModel.sk > after if after else None
    items = [
        _public(i.data)
        for i in EventModel.query(
            status_log_pk(connection.id), condition, limit=limit, consistent_read=True
        )
    ]
    return {"items": items, "last": items[-1]["id"] if items else (after or None)}


def _public(data: dict[str, Any]) -> dict[str, Any]:
    return {k: data.get(k) for k in ("id", "key", "status", "error", "at")}


# --- the sending end: being told ------------------------------------------------------------


def parse(body: Any) -> dict[str, Any]:
    """A notice as the node API receives it, checked (a clear 400 otherwise)."""
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object.")
    key = body.get("key")
    if not isinstance(key, str) or not key.strip():
        raise BadRequest("'key' must be the key of the replica's issue.", field="key")
    if body.get("status") not in STATUSES:
        raise BadRequest(f"'status' must be one of {', '.join(STATUSES)}.", field="status")
    error = body.get("error")
    if error is not None and not isinstance(error, str):
        raise BadRequest("'error' must be a string or null.", field="error")
    return {"key": key.strip(), "status": body["status"], "error": error}


def receive(connection: ConnectionModel, body: Any) -> dict[str, Any]:
    """Show the other end's verdict on this end's twin of ``key``; idempotent."""
    notice = parse(body)
    twin = get_twin(connection.id, notice["key"])
    if twin is None:
        return {"key": notice["key"], "updated": False}
    if notice["status"] == "error":
        message = PEER_PREFIX + (notice["error"] or "no reason given")
        if twin.status == "error" and twin.error == message:
            return {"key": twin.local_key, "updated": False}
        twin.update(actions=[TwinModel.status.set("error"), TwinModel.error.set(message)])
        record_transaction(
            connection.id,
            twin.local_key,
            direction="outgoing",
            changes=[],
            outcome="error",
            version=None,
            error=message,
        )
        return {"key": twin.local_key, "updated": True}
    if twin.status != "error" or not (twin.error or "").startswith(PEER_PREFIX):
        return {"key": twin.local_key, "updated": False}  # not ours to lift
    twin.update(actions=[TwinModel.status.set("synced"), TwinModel.error.remove()])
    return {"key": twin.local_key, "updated": True}


def pull_from_peer(connection: ConnectionModel, *, deps: SyncDeps, client: Any = None) -> int:
    """A private end reads its public peer's notices and applies them; how many."""
    cursor_key = status_pull_cursor_key(connection.id)
    seen = get_key(cursor_key)
    after = seen.value if seen is not None and seen.value else ""
    query = f"?after={quote(after, safe='')}&limit={MAX_LIMIT}" if after else ""
    answer = (client or deps.peer).call(peer_end(connection), "GET", path(connection.id) + query)
    items = answer.get("items", []) if isinstance(answer, dict) else []
    for item in items:
        try:
            receive(connection, item)
        except BadRequest:
            log.warning("ignoring a malformed twin status notice on %s", connection.id)
    if items:
        set_key(cursor_key, str(items[-1].get("id") or after))
    return len(items)
