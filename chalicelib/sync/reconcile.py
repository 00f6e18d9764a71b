"""The reconcile sweep: find changes no webhook announced, so a lost webhook only delays.

The schedule fires every minute; a run does the sweep when ``reconcile_interval_seconds``
have passed since the last complete one (5 minutes by default, 1 minute for a tracker that
sends no webhooks and is followed by this sweep alone), so the interval is a setting, not a
deploy. A sweep that stopped early (its page budget, a tracker error) continues at the next
run, without waiting for the interval.

The sweep reads issues in ``updated``, then key, order and remembers the position of the
last one it read: Jira's own ``updated`` time (milliseconds, from the search answer) and the
key. JQL dates only have minute precision and absolute ones are read in the tracker user's
time zone, so the search asks for ``updated >= -Nm`` (minutes relative to now, widened by
the overlap for clock skew) and the sweep itself skips what lies at or before its position.
Paging follows the tracker's cursor, which never skips an issue that still matches (see
``Tracker.search``): an issue updated during the sweep moves to the end and is read again
there or in the next run. The saved position only moves past what was actually read, and
the last ``reconcile_overlap_seconds`` before a run are looked at again at the next one
(indexing lag): ingest drops what it already sent, so re-reading costs reads, never
duplicates.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import datetime, timedelta
from typing import Any

import msgspec

from chalicelib.store.models import utcnow
from chalicelib.store.namespaces import RECONCILE_CURSOR, RECONCILE_STATUS, reconcile_dedup
from chalicelib.sync.events import close_error, get_error, record_error
from chalicelib.sync.messages import IngestMessage, enqueue_ingest
from chalicelib.sync.services import SyncDeps
from chalicelib.sync.store import get_key, set_key, twins_of_issue
from chalicelib.trackers.base import TrackerError

log = logging.getLogger("twinsync.reconcile")

FIRST_WINDOW_MINUTES = 60
MAX_PAGES = 20
SKIP_PAGES_FACTOR = 5  # pages of issues already read, per page of the budget
PAGE_SIZE = 100
SLACK_S = 5  # a schedule may fire a little early
ORDER = "ORDER BY updated ASC, key ASC"


# --- the sweep's position (pure) ----------------------------------------------------------


def parse_updated(text: str) -> datetime | None:
    """Jira's ``2026-01-02T10:00:00.000+0000`` (any offset) as an aware datetime."""
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def _key_order(key: str) -> tuple[str, int]:
    project, _, number = key.rpartition("-")
    return (project, int(number)) if number.isdigit() else (key, -1)


class Position(msgspec.Struct, frozen=True, order=True):
    """A place in the sweep's order: ``updated``, then the key as Jira sorts it."""

    when: datetime
    key_order: tuple[str, int] = ("", -1)
    key: str = ""

    @classmethod
    def of(cls, key: str, updated: str) -> Position | None:
        when = parse_updated(updated) if updated else None
        return cls(when, _key_order(key), key) if when else None


class Cursor(msgspec.Struct, frozen=True):
    """What a run saves: the last complete sweep, and where reading has got to."""

    last_run: datetime | None = None  # the last sweep that read to the end
    position: Position | None = None  # the last issue read
    saved_at: datetime | None = None  # when ``position`` was saved
    pending: bool = False  # the last run stopped early: the next one continues at once

    def skip_through(self, overlap_seconds: int) -> Position | None:
        """What a new run may skip: up to the position, but never the last ``overlap``
        seconds before it was saved (an issue changed then may not have been indexed)."""
        if self.position is None or self.saved_at is None:
            return self.position
        floor = Position(self.saved_at - timedelta(seconds=overlap_seconds))
        return min(self.position, floor)

    def dump(self) -> str:
        return json.dumps(
            {
                "run": self.last_run.isoformat() if self.last_run else None,
                "at": self.saved_at.isoformat() if self.saved_at else None,
                "updated": self.position.when.isoformat() if self.position else None,
                "key": self.position.key if self.position else None,
                "pending": self.pending,
            }
        )

    @classmethod
    def load(cls, text: str | None) -> Cursor:
        if not text:
            return cls()
        if not text.startswith("{"):  # before keyset paging: the time of the last sweep
            when = datetime.fromisoformat(text)
            return cls(last_run=when, position=Position(when), saved_at=when)
        data = json.loads(text)
        run = datetime.fromisoformat(data["run"]) if data.get("run") else None
        at = datetime.fromisoformat(data["at"]) if data.get("at") else None
        position = None
        if data.get("updated"):
            key = str(data.get("key") or "")
            position = Position(datetime.fromisoformat(data["updated"]), _key_order(key), key)
        return cls(last_run=run, position=position, saved_at=at, pending=bool(data.get("pending")))


def first_window_minutes(
    connections_since: datetime | None, now: datetime, overlap_seconds: int
) -> int:
    """How far a node's first sweep (no saved position) looks back, in minutes: to when its
    oldest connection was made (nothing changed before it can have been under sync, and a
    first sync reads an issue whole), or the overlap alone when it has none; never more
    than FIRST_WINDOW_MINUTES. A tracker with a long history is not crawled ahead of the
    live changes of a node that has just started beside it. Relative minutes, so the
    tracker's own clock bounds the window (no skew between the two clocks)."""
    since = connections_since if connections_since is not None else now
    seconds = max(0.0, (now - since).total_seconds()) + overlap_seconds
    return max(1, min(FIRST_WINDOW_MINUTES, math.ceil(seconds / 60)))


def _oldest_connection() -> datetime | None:
    from chalicelib.store.models import ConnectionModel

    return min((c.created_at for c in ConnectionModel.scan()), default=None)


def window_jql(
    after: Position | None,
    now: datetime,
    overlap_seconds: int,
    first_minutes: int = FIRST_WINDOW_MINUTES,
) -> str:
    """``updated >= -Nm`` reaching back to ``after`` (plus the overlap for clock skew);
    ``first_minutes`` when there is no position yet (see :func:`first_window_minutes`)."""
    if after is None:
        minutes = first_minutes
    else:
        minutes = math.ceil(((now - after.when).total_seconds() + overlap_seconds) / 60)
    return f"updated >= -{max(1, minutes)}m {ORDER}"


# --- the sweep ------------------------------------------------------------------------------


def _any_active_trigger() -> bool:
    from chalicelib.sync.trigger_match import all_triggers

    return any(t.get("active") for t in all_triggers())


class _Sweep(msgspec.Struct):
    deps: SyncDeps
    now: datetime
    watching: bool
    after: Position | None
    checked: int = 0
    queued: int = 0
    reread: int = 0

    def look_at(self, key: str, updated: str) -> None:
        position = Position.of(key, updated)
        if position is not None and self.after is not None and position <= self.after:
            self.reread += 1  # read before (an earlier page, run or the overlap)
            return
        self.checked += 1
        if position is not None:
            self.after = position
        twins = twins_of_issue(key)
        if not twins and not self.watching:
            return  # not under sync, and no trigger could want it
        if twins and updated and all(t.seen_updated == updated for t in twins):
            return  # already read at this very version
        enqueue_ingest(
            IngestMessage(key, source="reconcile"),
            deps=self.deps,
            dedup=reconcile_dedup(key, updated or self.now.isoformat()),
        )
        self.queued += 1


def reconcile_all(
    *, deps: SyncDeps, max_pages: int = MAX_PAGES, page_size: int = PAGE_SIZE
) -> dict[str, Any]:
    """One scheduled run: sweep from the saved position, at most ``max_pages`` pages.

    The answer has ``checked``, ``queued`` and ``reread`` (came again, already looked at);
    ``more: true`` when the page budget ran out (the next run continues), ``error`` when the
    tracker failed (likewise), ``resumed`` when the sweep ran to its end or budget.
    """
    now = utcnow()
    saved = get_key(RECONCILE_CURSOR)
    cursor = Cursor.load(saved.value if saved else None)
    interval = deps.settings.reconcile_interval_seconds
    if cursor.last_run is not None and not cursor.pending:
        since = (now - cursor.last_run).total_seconds()
        if since < interval - SLACK_S:
            return {"skipped": True, "next_in_s": round(interval - since)}
    overlap = deps.settings.reconcile_overlap_seconds
    start = cursor.skip_through(overlap)
    first = FIRST_WINDOW_MINUTES
    if start is None:  # the node's first sweep
        first = first_window_minutes(_oldest_connection(), now, overlap)
    jql = window_jql(start, now, overlap, first)
    # with active triggers, an issue not under sync may have come to match one: a tracker
    # without webhooks (or a lost webhook) must not keep it from being picked up
    sweep = _Sweep(deps, now, watching=_any_active_trigger(), after=start)
    page_cursor: str | None = None
    finished = False
    # the budget counts pages that brought something new; pages of issues read before
    # (a resumed sweep passing what it read, minute by minute) have their own, larger cap
    pages = passing = 0
    try:
        while pages < max(1, max_pages) and passing < SKIP_PAGES_FACTOR * max(1, max_pages):
            checked = sweep.checked
            page = deps.tracker.search(jql, cursor=page_cursor, limit=page_size)
            for ref in page.issues:
                sweep.look_at(ref.key, page.updated.get(ref.key, ""))
            if sweep.checked > checked:
                pages += 1
            else:
                passing += 1
            page_cursor = page.next_cursor
            if not page_cursor or not page.issues:
                finished = True
                break
    except TrackerError as exc:
        log.warning("reconcile stopped early: %s (the next run continues)", exc)
        _save(cursor, sweep.after, now, finished=False)
        note_failed_run(exc, now)
        return {**_counts(sweep), "error": str(exc)}
    _save(cursor, sweep.after, now, finished=finished)
    note_good_run(now)
    from chalicelib.sync.resume import resume_all

    result = {**_counts(sweep), "resumed": resume_all(deps=deps)}
    if not finished:
        log.info("reconcile read its %d pages; the next run continues", max_pages)
        result["more"] = True
    return result


def _counts(sweep: _Sweep) -> dict[str, Any]:
    return {"checked": sweep.checked, "queued": sweep.queued, "reread": sweep.reread}


def _save(cursor: Cursor, after: Position | None, now: datetime, *, finished: bool) -> None:
    """Move the position to what was read; the run time only when the sweep finished."""
    if finished:
        # everything up to now was read (the overlap still covers what was not indexed)
        after = max(after, Position(now)) if after is not None else Position(now)
        set_key(RECONCILE_CURSOR, Cursor(last_run=now, position=after, saved_at=now).dump())
    elif after == cursor.position:
        return  # nothing read: keep the saved position and its overlap as they were
    else:
        stopped = Cursor(last_run=cursor.last_run, position=after, saved_at=now, pending=True)
        set_key(RECONCILE_CURSOR, stopped.dump())


# --- the operator's view of the runs --------------------------------------------------------


def run_status() -> dict[str, Any]:
    """How the last run went: ``{at, ok, error, failing_since, error_id}`` (empty: none yet),
    plus ``last_sweep_at``, when a sweep last read to the end."""
    saved = get_key(RECONCILE_STATUS)
    status = json.loads(saved.value) if saved and saved.value else {}
    cursor_item = get_key(RECONCILE_CURSOR)
    cursor = Cursor.load(cursor_item.value if cursor_item else None)
    status["last_sweep_at"] = cursor.last_run.isoformat() if cursor.last_run else None
    return status


def note_failed_run(exc: TrackerError, now: datetime) -> None:
    """A run the tracker stopped: one open error record per failing streak, not per run.

    The sweep continues at the next run on its own, but while the tracker keeps failing no
    change without a webhook reaches the other side: the operator must see it (the open
    errors alarm counts the record; the health report shows the streak).
    """
    previous = _status()
    error_id = previous.get("error_id")
    item = get_error(error_id) if error_id else None
    if item is None or item.data.get("status") != "open":
        error_id = record_error(stage="reconcile", connection_id=None, issue_key=None, exc=exc)[
            "id"
        ]
        log.error("reconcile cannot read the tracker: %s (error record %s)", exc, error_id)
    set_key(
        RECONCILE_STATUS,
        json.dumps(
            {
                "at": now.isoformat(),
                "ok": False,
                "error": str(exc)[:500],
                "failing_since": previous.get("failing_since") or now.isoformat(),
                "error_id": error_id,
            }
        ),
    )


def note_good_run(now: datetime) -> None:
    """A run that read what it set out to: a failing streak's error record is closed."""
    previous = _status()
    error_id = previous.get("error_id")
    if error_id:
        item = get_error(error_id)
        if item is not None and item.data.get("status") == "open":
            close_error(item, "resolved")
            log.info("reconcile reads the tracker again; error %s resolved", error_id)
    set_key(RECONCILE_STATUS, json.dumps({"at": now.isoformat(), "ok": True}))


def _status() -> dict[str, Any]:
    saved = get_key(RECONCILE_STATUS)
    return json.loads(saved.value) if saved and saved.value else {}
