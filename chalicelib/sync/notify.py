"""Outgoing notifications: an admin's webhooks (Slack, Teams or any JSON receiver) told when
an issue goes into error or a connection is paused.

Each webhook is called through the node's SSRF-guarded fetcher (the same guard as every
URL a user supplies), with a JSON body that Slack and Teams incoming webhooks both show
(``text``) and the details for anything else (``twinsync``). A notification never fails
what caused it: a receiver that is down is logged and skipped. At most one notification
per event and subject (connection) per :data:`QUIET` is sent, so a tracker outage that
puts a thousand issues in error sends one message, not a thousand; the error list has
the rest.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from chalicelib.store.keys import claim, get_key, set_key
from chalicelib.store.models import new_id, utcnow
from chalicelib.store.namespaces import NOTIFY_WEBHOOKS, notify_key

if TYPE_CHECKING:
    from chalicelib.net.outbound import Fetcher

log = logging.getLogger("twinsync.notify")

ISSUE_ERROR = "issue_error"
CONNECTION_PAUSED = "connection_paused"
EVENTS = (ISSUE_ERROR, CONNECTION_PAUSED)
TEST = "test"
QUIET = timedelta(minutes=10)
MAX_WEBHOOKS = 5


class Webhook(msgspec.Struct, frozen=True):
    id: str
    url: str
    events: tuple[str, ...]
    created_at: str

    def resource(self) -> dict[str, Any]:
        return {**msgspec.structs.asdict(self), "events": list(self.events)}


def webhooks() -> list[Webhook]:
    item = get_key(NOTIFY_WEBHOOKS)
    raw = json.loads(item.value) if item and item.value else []
    return [Webhook(w["id"], w["url"], tuple(w["events"]), w["created_at"]) for w in raw]


def save_webhooks(hooks: list[Webhook]) -> None:
    set_key(NOTIFY_WEBHOOKS, json.dumps([h.resource() for h in hooks]))


def new_webhook(url: str, events: list[str]) -> Webhook:
    return Webhook(new_id(), url, tuple(events), utcnow().isoformat())


def body(event: str, text: str, node_id: str, details: dict[str, Any]) -> bytes:
    payload = {
        "text": f"Twinsync {node_id}: {text}",
        "twinsync": {"event": event, "node_id": node_id, "at": utcnow().isoformat(), **details},
    }
    return json.dumps(payload).encode()


def send(hook: Webhook, data: bytes, *, fetch: Fetcher) -> int:
    """POST one notification; the receiver's status (raises the fetcher's errors)."""
    response = fetch("POST", hook.url, headers={"Content-Type": "application/json"}, body=data)
    return response.status


def notify(
    event: str,
    *,
    subject: str,
    text: str,
    node_id: str,
    details: dict[str, Any],
    fetch: Fetcher | None,
) -> int:
    """Tell every webhook that wants ``event``; how many were told. Never raises."""
    if fetch is None:
        return 0
    try:
        targets = [h for h in webhooks() if event in h.events]
        if not targets or not claim(notify_key(event, subject), ttl=QUIET):
            return 0
        data = body(event, text, node_id, details)
    except Exception:
        log.warning("notification %s about %s not prepared", event, subject, exc_info=True)
        return 0
    told = 0
    for hook in targets:
        try:
            status = send(hook, data, fetch=fetch)
        except Exception as exc:
            log.warning("notification webhook %s failed: %s", hook.id, exc)
            continue
        if status >= 300:
            log.warning("notification webhook %s answered %s", hook.id, status)
            continue
        told += 1
    return told
