"""Webhook intake: verify, drop duplicates, queue a small ingest message. Nothing else.

No tracker call and no rule runs here, so the answer is fast and a burst of webhooks
costs queue messages, not tracker quota. A change made by the integration user (our own
write, echoed by the tracker) is ``ignored`` here once a worker has learnt that user's id
(:meth:`SyncDeps.known_integration_user_id`); until then ingest skips it, as before.

Duplicates and replays. The signature covers the body, not the delivery id
(``X-Atlassian-Webhook-Identifier``), so whoever captured one delivery could send it again
under fresh ids. A delivery is a duplicate when its body was seen before: within five
minutes by the FIFO queue's deduplication (by the body's hash, so racing copies meet there
too), after that by the remembered body hash (one conditional put). Jira's retry of a
delivery carries the same id and the same stored body, so the body alone catches it; the
id adds nothing the body does not (issue 19: it was a second write per webhook). A retry
whose body differed would cost one more ingest, which re-reads the issue and finds nothing
new to send (ingest is idempotent). A signed (Jira Cloud) delivery
whose signed ``timestamp`` is outside ``[now - MAX_AGE, now + CLOCK_SKEW]`` is refused
with ``400 stale_webhook`` and queues nothing; its body hash is remembered for longer than
that window, so a replay is caught by one or the other. Jira Server (``?secret=``) signs
nothing: whoever holds its URL can forge any body, so only the body dedup applies.
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

MAX_AGE = timedelta(days=2)  # a signed delivery older than this is a replay (Jira retries
# for about 30 minutes)
CLOCK_SKEW = timedelta(minutes=15)  # how far ahead of ours Jira's clock may be
BODY_SEEN_FOR = MAX_AGE + 2 * CLOCK_SKEW  # outlives the window of any accepted timestamp


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
    if is_signed(headers):
        _refuse_stale(event)
    ours = deps.known_integration_user_id()
    if ours and event.author_id == ours:
        # our own write (an apply): ingest would skip it; dropping it here saves the
        # dedup writes, a queue message and an ingest invocation per synced change
        return {"status": "ignored"}
    body_hash = hashlib.sha256(raw_body).hexdigest()
    claimed = hook_body_key(body_hash)
    # one conditional put, no read; claimed before the message is queued, so a function
    # that dies in between drops this one hint: the reconcile sweep brings the change
    # instead (as for any webhook Jira never sent)
    if not claim(claimed, "queued", ttl=BODY_SEEN_FOR):
        return {"status": "duplicate"}
    try:
        enqueue_ingest(
            IngestMessage.from_event(event, source="webhook"),
            deps=deps,
            dedup=hook_dedup(body_hash),
        )
        for other in events[1:]:  # an issue link: the other issue changed too
            enqueue_ingest(
                IngestMessage.from_event(other, source="webhook"),
                deps=deps,
                dedup=hook_dedup(f"{body_hash}:{other.issue_id}"),
            )
    except Exception:
        with suppress(Exception):  # it expires anyway; the original error is what matters
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
