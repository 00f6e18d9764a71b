"""Webhook intake: verify, drop duplicates, queue a small ingest message. Nothing else.

No tracker call and no rule runs here, so the answer is fast and a burst of webhooks
costs queue messages, not tracker quota. Duplicates are dropped by the delivery id
(``X-Atlassian-Webhook-Identifier``): within five minutes by the FIFO queue's
deduplication, after that by a remembered key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from chalicelib.errors import BadRequest, Unauthorized
from chalicelib.store.namespaces import hook_dedup, hook_key
from chalicelib.sync.ingest import enqueue_ingest
from chalicelib.sync.messages import IngestMessage
from chalicelib.sync.services import SyncDeps
from chalicelib.sync.store import get_key, set_key
from chalicelib.trackers.webhook import BadWebhook, parse_webhook, verify_webhook

SEEN_FOR = timedelta(days=2)  # Jira retries for about 30 minutes


def take_webhook(
    headers: Mapping[str, str], query: Mapping[str, Any], raw_body: bytes, *, deps: SyncDeps
) -> dict[str, str]:
    if not verify_webhook(headers, query, raw_body, deps.settings.webhook_secret):
        raise Unauthorized(
            "The webhook is not signed with this node's webhook secret.",
            code="invalid_signature",
        )
    try:
        event = parse_webhook(headers, raw_body)
    except BadWebhook as exc:
        raise BadRequest(str(exc), code="invalid_webhook", field=exc.field) from exc
    if not (event.issue_key or event.issue_id):
        return {"status": "ignored"}
    delivery = event.delivery_id or hashlib.sha256(raw_body).hexdigest()
    seen_key = hook_key(delivery)
    if get_key(seen_key) is not None:
        return {"status": "duplicate"}
    enqueue_ingest(
        IngestMessage.from_event(event, source="webhook"), deps=deps, dedup=hook_dedup(delivery)
    )
    set_key(seen_key, "queued", ttl=SEEN_FOR)
    return {"status": "queued"}
