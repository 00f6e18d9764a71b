"""The reconcile sweep: find changes no webhook announced, so a lost webhook only delays.

The schedule fires every minute; a run does the sweep when ``reconcile_interval_seconds``
have passed since the last one (5 minutes by default, 1 minute for a tracker that sends no
webhooks and is followed by this sweep alone), so the interval is a setting, not a deploy.

Every run searches the tracker for issues updated since the last run (minus an overlap for
clock skew and indexing lag), in minutes relative to now so the tracker user's time zone
cannot shift the window, and queues an ingest for each one under sync. Ingest drops what
it already sent, so the overlap costs reads, never duplicates.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime
from typing import Any

from chalicelib.store.models import utcnow
from chalicelib.sync.deps import SyncDeps, default_deps
from chalicelib.sync.ingest import enqueue_ingest, ingest_message
from chalicelib.sync.store import get_key, set_key, twins_of_issue
from chalicelib.trackers.base import TrackerError

log = logging.getLogger("twinsync.reconcile")

CURSOR = "reconcile#cursor"
FIRST_WINDOW_MINUTES = 60
MAX_PAGES = 20
SLACK_S = 5  # a schedule may fire a little early


def _any_active_trigger() -> bool:
    from chalicelib.ops.triggers import all_triggers

    return any(t.get("active") for t in all_triggers())


def window_jql(last_run: datetime | None, now: datetime, overlap_seconds: int) -> str:
    if last_run is None:
        minutes = FIRST_WINDOW_MINUTES
    else:
        minutes = math.ceil(((now - last_run).total_seconds() + overlap_seconds) / 60)
    return f"updated >= -{max(1, minutes)}m ORDER BY updated ASC"


def reconcile_all(*, deps: SyncDeps | None = None) -> dict[str, Any]:
    deps = deps or default_deps()
    now = utcnow()
    cursor = get_key(CURSOR)
    last_run = datetime.fromisoformat(cursor.value) if cursor and cursor.value else None
    interval = deps.settings.reconcile_interval_seconds
    if last_run is not None and (now - last_run).total_seconds() < interval - SLACK_S:
        return {"skipped": True, "next_in_s": round(interval - (now - last_run).total_seconds())}
    jql = window_jql(last_run, now, deps.settings.reconcile_overlap_seconds)
    checked = queued = 0
    page_cursor = None
    # with active triggers, an issue not under sync may have come to match one: a tracker
    # without webhooks (or a lost webhook) must not keep it from being picked up
    watching = _any_active_trigger()
    try:
        for _ in range(MAX_PAGES):
            page = deps.tracker.search(jql, cursor=page_cursor, limit=100)
            for ref in page.issues:
                checked += 1
                updated = page.updated.get(ref.key, "")
                twins = twins_of_issue(ref.key)
                if not twins and not watching:
                    continue  # not under sync, and no trigger could want it
                if twins and updated and all(t.seen_updated == updated for t in twins):
                    continue  # already read at this very version
                enqueue_ingest(
                    ingest_message(ref.key, source="reconcile"),
                    deps=deps,
                    dedup=f"rec#{ref.key}#{updated or now.isoformat()}",
                )
                queued += 1
            page_cursor = page.next_cursor
            if not page_cursor:
                break
    except TrackerError as exc:
        log.warning("reconcile stopped early: %s (next run covers the window)", exc)
        return {"checked": checked, "queued": queued, "error": str(exc)}
    set_key(CURSOR, now.isoformat())
    from chalicelib.sync.resume import resume_all

    return {"checked": checked, "queued": queued, "resumed": resume_all(deps=deps)}
