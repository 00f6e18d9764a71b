"""The node's shared tracker budget, kept in DynamoDB so every function instance sees it.

Items in the keys table (``KeyModel``), each expiring an hour after its window:

- ``budget#use#<window>``: tracker calls made in that window (everything: live sync, jobs,
  trigger checks), added by :class:`~chalicelib.trackers.paced.PacedTracker`;
- ``budget#jobs#<window>``: issues jobs admitted in that window, taken with a conditional
  add so that all jobs together stay under ``Budget.jobs_per_window``;
- ``budget#pause``: until when (epoch seconds, in ``counter``) the tracker asked us to wait
  (``Retry-After``); it only ever moves later;
- ``budget#jobs-on``: a job is under way. Each job's creation and each of its steps
  renew it for ``JOBS_ON_FOR``.

Live sync only adds to the usage counter: it is never refused. Jobs are the counter's
only reader, so live sync counts only while a job is under way (one read at each flush,
:func:`add_usage`): with no job it was a write every few seconds of every busy function
instance for nothing, and at a change now and then a write per change on each node
(issue 19).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import msgspec
from pynamodb.exceptions import UpdateError

from chalicelib.store.keys import condition_failed, get_key
from chalicelib.store.models import KeyModel
from chalicelib.store.namespaces import (
    BUDGET_JOBS_ON,
    BUDGET_PAUSE,
    budget_jobs_key,
    budget_usage_key,
)
from chalicelib.trackers.pacing import Budget, window_of

log = logging.getLogger("twinsync.ops.budget")

KEEP = timedelta(hours=1)
JOBS_ON_FOR = timedelta(minutes=15)  # outlives a step's wait between two steps


def _expiry(now: float, keep: timedelta = KEEP) -> datetime:
    return datetime.fromtimestamp(now, UTC) + keep


def add_usage(calls: int, now: float, budget: Budget) -> None:
    """Count ``calls`` tracker calls made around ``now`` (never refused), when a job is
    under way to read the count; else they are let go (nothing reads them)."""
    if calls <= 0 or not jobs_on():
        return
    item = KeyModel(key=budget_usage_key(window_of(now, budget.window_s)))
    item.update(actions=[KeyModel.counter.add(calls), KeyModel.expires_at.set(_expiry(now))])


def jobs_on() -> bool:
    """Is a job under way on this node (a job made or stepped within ``JOBS_ON_FOR``)?"""
    return get_key(BUDGET_JOBS_ON) is not None


def note_jobs_on(now: float) -> None:
    """A job is under way: live sync's calls count from now on (one blind put)."""
    KeyModel(key=BUDGET_JOBS_ON, expires_at=_expiry(now, JOBS_ON_FOR)).save()


def pause(seconds: float, now: float) -> None:
    """Every job waits until ``now + seconds`` (a later pause already recorded wins)."""
    until = int(now + max(0.0, seconds)) + 1
    item = KeyModel(key=BUDGET_PAUSE)
    try:
        item.update(
            actions=[KeyModel.counter.set(until), KeyModel.expires_at.set(_expiry(until))],
            condition=KeyModel.counter.does_not_exist() | (KeyModel.counter < until),
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise


class Snapshot(msgspec.Struct, frozen=True):
    usage: int
    jobs_taken: int
    paused_until: float | None


def snapshot(now: float, budget: Budget) -> Snapshot:
    """Usage (the larger of this window and the last), jobs' admissions, the pause."""
    window = window_of(now, budget.window_s)
    wanted = [
        budget_usage_key(window),
        budget_usage_key(window - 1),
        budget_jobs_key(window),
        BUDGET_PAUSE,
    ]
    found = {item.key: item for item in KeyModel.batch_get(wanted, consistent_read=True)}

    def count(key: str) -> int:
        item = found.get(key)
        return int(item.counter or 0) if item is not None else 0

    pause_item = found.get(BUDGET_PAUSE)
    paused = float(pause_item.counter) if pause_item and pause_item.counter else None
    return Snapshot(
        usage=max(count(budget_usage_key(window)), count(budget_usage_key(window - 1))),
        jobs_taken=count(budget_jobs_key(window)),
        paused_until=paused if paused and paused > now else None,
    )


def take_for_jobs(count: int, now: float, budget: Budget) -> int:
    """Admit ``count`` issues against the jobs' share of this window; 0 if it is used up."""
    if count <= 0:
        return 0
    window = window_of(now, budget.window_s)
    limit = budget.jobs_per_window - count
    if limit < 0:
        return 0
    item = KeyModel(key=budget_jobs_key(window))
    try:
        item.update(
            actions=[KeyModel.counter.add(count), KeyModel.expires_at.set(_expiry(now))],
            condition=KeyModel.counter.does_not_exist() | (KeyModel.counter <= limit),
        )
    except UpdateError as exc:
        if condition_failed(exc):
            return 0  # another job took the rest of this window
        raise
    return count
