"""Webhook intake: verify, drop duplicates, queue a small ingest message. Nothing else.

No tracker call and no rule runs here, so the answer is fast and a burst of webhooks
costs queue messages, not tracker quota. A change made by the integration user (our own
write, echoed by the tracker) is ``ignored`` here once a worker has learnt that user's id
(:meth:`SyncDeps.known_integration_user_id`); until then ingest skips it, as before.

Duplicates and replays. The signature covers the body, not the delivery id
(``X-Atlassian-Webhook-Identifier``), so whoever captured one delivery could send it again
under fresh ids. Within five minutes the FIFO queue's deduplication (by the body's hash)
drops a copy, so racing copies meet there. After that:

- a signed (Jira Cloud) delivery is queued with its signed ``timestamp``, and ingest drops
  it before any tracker read when every twin of its issue has read past that timestamp
  (:mod:`chalicelib.sync.hook_guard`, ADR 0012: the mark rides on the twin's update the
  sync makes anyway, issue 19), or, for an issue with no twin, when its body was claimed
  before. A signed delivery whose ``timestamp`` is outside ``[now - MAX_AGE, now +
  CLOCK_SKEW]`` is refused with ``400 stale_webhook`` and queues nothing, so a replay is
  caught by one or the other;
- Jira Server (``?secret=``) signs nothing: whoever holds its URL can forge any body, and
  its ``timestamp`` cannot be trusted. Its body is remembered here (one conditional put
  of the body's hash, no read), and a body seen before is a ``duplicate``.

Jira's retry of a delivery carries the same id and the same stored body, so the body
alone catches it; the id adds nothing the body does not (issue 19: it was a second write
per webhook). A retry whose body differed would cost one more ingest, which re-reads the
issue and finds nothing new to send (ingest is idempotent).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from contextlib import suppress
from datetime import timedelta
from typing import Any

from chalicelib.errors import BadRequest, Unauthorized
from chalicelib.store.models import KeyModel
from chalicelib.store.namespaces import hook_body_key, hook_dedup
from chalicelib.sync.hook_guard import BODY_SEEN_FOR, CLOCK_SKEW, MAX_AGE
from chalicelib.sync.ingest_message import IngestMessage, enqueue_ingest
from chalicelib.sync.services import SyncDeps
from chalicelib.sync.store import claim
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
        # our own write (an apply): ingest would skip it; dropping it here saves the
        # dedup writes, a queue message and an ingest invocation per synced change
        return {"status": "ignored"}
    body_hash = hashlib.sha256(raw_body).hexdigest()
    claimed = hook_body_key(body_hash)
    # unsigned: one conditional put, no read; claimed before the message is queued, so a
    # function that dies in between drops this one hint: the reconcile sweep brings the
    # change instead (as for any webhook Jira never sent). Signed: ingest's guard
    if not signed and not claim(claimed, "queued", ttl=BODY_SEEN_FOR):
        return {"status": "duplicate"}

    def hint(one: ChangeEvent, replay_claim: str) -> IngestMessage:
        if not signed:
            return IngestMessage.from_event(one, source="webhook")
        return IngestMessage.from_event(
            one, source="webhook", signed_at=event.timestamp, replay_claim=replay_claim
        )

    try:
        enqueue_ingest(hint(event, claimed), deps=deps, dedup=hook_dedup(body_hash))
        for other in events[1:]:  # an issue link: the other issue changed too
            also = f"{body_hash}:{other.issue_id}"
            enqueue_ingest(hint(other, hook_body_key(also)), deps=deps, dedup=hook_dedup(also))
    except Exception:
        if not signed:
            with suppress(Exception):  # it expires anyway; the original error matters
                KeyModel(key=claimed).delete()  # not queued: Jira's retry must get through
        raise
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
