"""Webhook intake: verify, refuse a stale signed delivery, queue a small ingest message.

No tracker call, no rule run and no DynamoDB write here, so the answer is fast and a
burst of webhooks costs queue messages, not tracker quota. A change made by the
integration user (our own write, echoed by the tracker) is ``ignored`` here once a
worker has learnt that user's id (:meth:`SyncDeps.known_integration_user_id`); until
then ingest skips it, as before.

Duplicates and replays. The signature covers the body, not the delivery id
(``X-Atlassian-Webhook-Identifier``), so whoever captured one delivery could send it again
under fresh ids; Jira's retry of a delivery carries the same id and the same body. Within
five minutes the FIFO queue's deduplication by the body's hash drops a copy (racing
copies meet there). After that, ingest drops it before any tracker read
(:mod:`chalicelib.sync.hook_guard`, ADR 0012): the hint carries the delivery's
``timestamp`` (capped at our clock when the delivery is unsigned: Jira Server signs
nothing, so whoever holds its URL can write any), and every twin of the issue remembers
the newest one it has read past; an issue with no twin has the body's hash claimed
instead. Until issue 19 intake claimed every body's hash itself (one conditional put per
webhook). A signed (Jira Cloud) delivery whose signed ``timestamp`` is outside ``[now -
MAX_AGE, now + CLOCK_SKEW]`` is refused with ``400 stale_webhook`` and queues nothing;
a body's claim outlives that window, so a replay is caught by one or the other.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from chalicelib.errors import BadRequest, Unauthorized
from chalicelib.store.namespaces import hook_body_key, hook_dedup
from chalicelib.sync.ingest_message import CLOCK_SKEW, MAX_AGE, IngestMessage, enqueue_ingest
from chalicelib.sync.services import SyncDeps
from chalicelib.trackers.changes import ChangeEvent
from chalicelib.trackers.webhook import (
    BadWebhook,
    is_signed,
    parse_webhook_events,
    verify_webhook,
)


def take_webhook(
    headers: Mapping[str, str], query: Mapping[str, Any], raw_body: bytes, *, deps: SyncDeps
) -> dict[str, str]:
    if not verify_webhook(headers, query, raw_body, deps.settings.webhook_secret):
        raise Unauthorized(
            "The webhook is not signed with this node's webhook secret.",
            code="invalid_signature",
        )
    try:
        events = parse_webhook_events(headers, raw_body)
    except BadWebhook as exc:
        raise BadRequest(str(exc), code="invalid_webhook", field=exc.field) from exc
    event = events[0]
    if not (event.issue_key or event.issue_id):
        return {"status": "ignored"}
    signed = is_signed(headers)
    if signed:
        _refuse_stale(event)
    ours = deps.known_integration_user_id()
    if ours and event.author_id == ours:
        # our own write (an apply): ingest would skip it; dropping it here saves a queue
        # message and an ingest invocation per synced change
        return {"status": "ignored"}
    body_hash = hashlib.sha256(raw_body).hexdigest()
    event_at = event.timestamp
    if event_at is not None and not signed:  # anyone's words: never ahead of our clock
        event_at = min(event_at, int(time.time() * 1000))

    def hint(one: ChangeEvent, claim_as: str) -> IngestMessage:
        return IngestMessage.from_event(
            one, source="webhook", event_at=event_at, replay_claim=hook_body_key(claim_as)
        )

    enqueue_ingest(hint(event, body_hash), deps=deps, dedup=hook_dedup(body_hash))
    for other in events[1:]:  # an issue link: the other issue changed too
        also = f"{body_hash}:{other.issue_id}"
        enqueue_ingest(hint(other, also), deps=deps, dedup=hook_dedup(also))
    return {"status": "queued"}


def _refuse_stale(event: ChangeEvent) -> None:
    """A signed delivery must carry a timestamp within the window (else it is a replay)."""
    now_ms = time.time() * 1000
    signed_at = event.timestamp
    if (
        signed_at is None
        or signed_at < now_ms - MAX_AGE / _MS
        or signed_at > now_ms + CLOCK_SKEW / _MS
    ):
        raise BadRequest(
            "The webhook's signed timestamp is missing or outside the last "
            f"{MAX_AGE.days} days: a replayed delivery is not queued.",
            code="stale_webhook",
        )


_MS = timedelta(milliseconds=1)
