"""The admin's notification webhooks: register (validated at the edge), list, remove, test.

A webhook's URL passes the outbound guard when it is registered (so a refusal is a clear
400 now, not a silent skip later) and again on every call (its DNS may change).
"""

from __future__ import annotations

from typing import Any

from chalicelib.config import Settings
from chalicelib.errors import BadRequest, Conflict, NotFound, Unprocessable
from chalicelib.net.errors import Unreachable, UrlNotAllowed
from chalicelib.net.outbound import Fetcher
from chalicelib.net.ssrf import MAX_URL_LENGTH, OutboundPolicy, check_url
from chalicelib.store import audit
from chalicelib.store.pages import ID, KeyShape, Page, list_page
from chalicelib.sync import notify

FIELDS = {"url", "events"}


def _url(value: Any, settings: Settings) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadRequest("url is required: the webhook's https URL.", field="url")
    url = value.strip()
    if len(url) > MAX_URL_LENGTH:
        raise BadRequest(f"url is longer than {MAX_URL_LENGTH} characters.", field="url")
    try:
        check_url(url, OutboundPolicy.from_settings(settings))
    except UrlNotAllowed as exc:
        raise BadRequest(
            f"This node may not call {url}: {exc}",
            code="notification_url_not_allowed",
            field="url",
        ) from exc
    except Unreachable as exc:
        raise Unprocessable(
            f"{exc} Check the webhook URL.", code="notification_url_unreachable", field="url"
        ) from exc
    return url


def _events(value: Any) -> list[str]:
    known = ", ".join(notify.EVENTS)
    if value is None:
        return list(notify.EVENTS)
    if not isinstance(value, list) or not value or not all(isinstance(e, str) for e in value):
        raise BadRequest(f"events must be a non-empty list of: {known}.", field="events")
    unknown = sorted(set(value) - set(notify.EVENTS))
    if unknown:
        raise BadRequest(f"Unknown events {', '.join(unknown)}; known: {known}.", field="events")
    return [e for e in notify.EVENTS if e in value]


def register(body: dict[str, Any], *, settings: Settings) -> dict[str, Any]:
    """``{url, events?}`` → the new webhook (``events`` defaults to all)."""
    extra = sorted(set(body) - FIELDS)
    if extra:
        raise BadRequest(f"Unknown fields {', '.join(extra)}; send url and events.", field=extra[0])
    events = _events(body.get("events"))  # before the URL: no DNS for a malformed request
    url = _url(body.get("url"), settings)
    hooks = notify.webhooks()
    if len(hooks) >= notify.MAX_WEBHOOKS:
        raise Conflict(
            f"At most {notify.MAX_WEBHOOKS} notification webhooks; remove one first.",
            code="too_many_webhooks",
        )
    if any(h.url == url for h in hooks):
        raise Conflict("This URL is already registered.", code="webhook_exists", field="url")
    hook = notify.new_webhook(url, events)
    notify.save_webhooks([*hooks, hook])
    audit.record("notification.webhook_added", details={"id": hook.id, "events": events})
    return hook.resource()


POSITIONS = KeyShape(fixed={}, patterns={"id": ID})


def listing_page(
    *, limit: int, after: dict[str, str] | None = None
) -> tuple[dict[str, Any], Page[notify.Webhook]]:
    """``{webhooks: [one page, oldest first], events}`` and the page it holds."""
    start = POSITIONS.check(after) if after is not None else None
    page = list_page(
        notify.webhooks(),
        position=lambda hook: {"id": hook.id},
        order=lambda position: (position["id"],),
        limit=limit,
        after=start,
    )
    body = {"webhooks": [h.resource() for h in page.items], "events": list(notify.EVENTS)}
    return body, page


def _find(hook_id: str) -> notify.Webhook:
    for hook in notify.webhooks():
        if hook.id == hook_id:
            return hook
    raise NotFound(f"No notification webhook {hook_id}.", code="webhook_not_found")


def remove(hook_id: str) -> None:
    hook = _find(hook_id)
    notify.save_webhooks([h for h in notify.webhooks() if h.id != hook.id])
    audit.record("notification.webhook_removed", details={"id": hook.id})


def send_test(hook_id: str, *, settings: Settings, fetch: Fetcher) -> dict[str, Any]:
    """Send a test message now; whether the receiver took it (200 either way)."""
    hook = _find(hook_id)
    data = notify.body(notify.TEST, "test notification: this webhook works.", settings.node_id, {})
    try:
        status = notify.send(hook, data, fetch=fetch)
    except (UrlNotAllowed, Unreachable) as exc:
        return {"delivered": False, "status": None, "error": str(exc)}
    return {
        "delivered": status < 300,
        "status": status,
        "error": None if status < 300 else f"the receiver answered {status}",
    }
