"""Ingest: a hint that an issue changed becomes a replica in each of its connections' outboxes.

The webhook (or the reconcile sweep, or "sync this issue") is only a hint: the issue is
re-read from the tracker, unless it is a webhook's its twins have read past already (a
replay, or late: :mod:`chalicelib.sync.hook_guard`). Changes made by the integration
user are ours and never synced back; an edit made here that an apply overwrote before it
was read is found in the changelog at this read (:mod:`chalicelib.sync.recovery`), and a
read that an apply wrote over meanwhile is made again. The issue is sent to each of its twins
(:mod:`chalicelib.sync.outgoing`); then an issue that now matches an active trigger comes
under sync (:mod:`chalicelib.sync.trigger_match`), and an issue that is gone ends its
twin links (:mod:`chalicelib.sync.deletion`).
"""

from __future__ import annotations

import logging

from chalicelib.queues import PermanentFailure, QueueMessage
from chalicelib.store.models import TwinModel, utcnow
from chalicelib.sync import hook_guard, trigger_match
from chalicelib.sync.ingest_message import enqueue_ingest as enqueue_ingest  # its old home
from chalicelib.sync.messages import IngestMessage
from chalicelib.sync.outgoing import send_replica
from chalicelib.sync.services import SyncDeps
from chalicelib.sync.store import twins_of_issue
from chalicelib.trackers.base import NotFound
from chalicelib.trackers.retry import retrying_later

log = logging.getLogger("twinsync.ingest")


def handle_ingest(message: QueueMessage, *, deps: SyncDeps) -> None:
    hint = IngestMessage.from_body(message.body)
    if hint.author_id and hint.author_id == deps.integration_user_id():
        log.debug("skipping our own change to %s", hint.issue_key)
        return
    ref = hint.ref
    if not ref:
        return
    timed = hint.replay_claim and hint.event_at is not None  # a webhook's, with its time
    known = twins_of_issue(hint.issue_key) if timed and hint.issue_key else None
    if not hook_guard.is_news(hint, known or ()):
        log.info("a delivery for %s read past already (a replay, or late): dropped", ref)
        return
    read_at = utcnow()  # an apply that ends after this may have written over the read
    try:
        with retrying_later(unavailable_retry_after=False):
            issue = deps.tracker.get_issue(ref)
    except NotFound:
        log.info("issue %s is gone; nothing to sync", ref)
        from chalicelib.sync import deletion  # a deleted issue's (cold start: issue 19)

        deletion.issue_gone(hint, deps=deps)
        return
    failed: PermanentFailure | None = None
    # the twins read for the guard, unless the issue's key moved since the delivery, or
    # there were none then: one may have been made since (an apply's first sync), and this
    # read may show an edit made after it
    twins = known if known and issue.key == hint.issue_key else twins_of_issue(issue.key)
    for twin in twins:
        mark = hook_guard.Mark(twin, hint.event_at)
        try:
            send_replica(issue, twin, deps=deps, read_at=read_at, mark=mark)
        except PermanentFailure as exc:  # e.g. this connection's script: the others go on
            # deterministic for this version of the issue: the sweep need not bring it again
            twin.update(actions=mark.ride([TwinModel.seen_updated.set(issue.updated)]))
            mark.carried()
            failed = failed or exc
    trigger_match.put_under_sync_if_matching(issue, hint, deps=deps)
    if failed is not None:
        raise failed
