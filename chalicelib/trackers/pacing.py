"""Pacing rules (pure): how fast bulk work may go so that live sync always comes first.

The tracker is one budget shared by everything a node does with it. Live sync never waits
for it: its calls are only *counted*. Bulk jobs are the ones that yield:

- **usage**: every tracker call of the node is counted per window (``Budget.window_s``)
  while a job is under way (jobs are the count's only reader: :mod:`.budget`); while the
  usage is above the high-water mark, jobs admit nothing, so a burst of live changes
  gets the tracker to itself;
- **rate**: all jobs of a node together admit at most ``jobs_per_window`` issues per window
  (each issue costs a handful of calls downstream), and a job may be capped lower still
  (``max_per_hour``, a token bucket in the job's own state);
- **window**: a job has a limited number of issues under way (admitted, not yet synced).
  The limit adapts like a congestion window: it grows while issues complete about as fast
  as an idle pipeline completes them, and halves when their latency shows they are queuing
  (:func:`next_window`). A live change shares the queues with those issues, so this keeps
  what it may wait behind to a few seconds, while the job still uses the capacity there is;
  a slow or failing other side slows the job down instead of piling work up;
- **Retry-After**: a 429 seen anywhere on the node pauses every job until it has passed
  (live sync honours it per message through the queue);
- **per-issue write caps** (Jira Cloud: about 20 writes per 2 s and 100 per 30 s to one
  issue): :class:`IssueWriteCaps` keeps each issue's recent writes and says how long the
  next one must wait.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

import msgspec
from msgspec.structs import replace


class Budget(msgspec.Struct, frozen=True):
    """A node's tracker budget and the share bulk jobs may take of it.

    The defaults are deliberately modest: an issue costs a bulk job about five calls on
    this node's tracker (search page share, read, link-back apply) and as many writes on
    the other side, so 20 issues per 10 s is about 10 calls a second here, 7,200 issues an
    hour at most, well under what a Jira Cloud site allows one account.
    """

    window_s: int = 10
    capacity: int = 150  # tracker calls per window this node allows itself
    high_water: float = 0.7  # jobs admit nothing while usage is above this share
    jobs_per_window: int = 20  # issues all jobs together may admit per window
    in_flight: int = 20  # issues one job may ever have under way at once

    @property
    def high_water_calls(self) -> int:
        return int(self.capacity * self.high_water)


# Jira Cloud limits by cost and per issue; Server/Data Center only if its admin enabled rate
# limiting, and then per user: it can take more.
BUDGETS = {
    "jira_cloud": Budget(),
    "jira_server": Budget(capacity=300, jobs_per_window=40, in_flight=40),
}
CLOUD_ISSUE_WRITE_CAPS: tuple[tuple[int, float], ...] = ((20, 2.0), (100, 30.0))


def budget_for(tracker_kind: str) -> Budget:
    return BUDGETS.get(tracker_kind, Budget())


def window_of(now: float, window_s: int) -> int:
    """The number of the budget window ``now`` falls in."""
    return int(now // window_s)


class Admission(msgspec.Struct, frozen=True):
    """How many issues a job may start now; when none, why and until when."""

    count: int
    waiting: str | None = None  # retry_after | live_first | window_full | rate | job_rate
    until: float | None = None


def admit(
    *,
    want: int,
    in_flight: int,
    usage: int,
    jobs_taken: int,
    paused_until: float | None,
    now: float,
    budget: Budget,
    job_tokens: float | None = None,
    window: float | None = None,
) -> Admission:
    """The admission decision of one job step (the counters come from the shared budget)."""
    if want <= 0:
        return Admission(0)
    if paused_until is not None and paused_until > now:
        return Admission(0, "retry_after", paused_until)
    if usage >= budget.high_water_calls:
        return Admission(0, "live_first", (window_of(now, budget.window_s) + 1) * budget.window_s)
    limit = budget.in_flight if window is None else min(budget.in_flight, int(window))
    room = max(1, limit) - in_flight
    if room <= 0:
        return Admission(0, "window_full")
    rate_room = budget.jobs_per_window - jobs_taken
    if rate_room <= 0:
        return Admission(0, "rate", (window_of(now, budget.window_s) + 1) * budget.window_s)
    count = min(want, room, rate_room)
    if job_tokens is not None:
        whole = math.floor(job_tokens)
        if whole <= 0:
            return Admission(0, "job_rate")
        count = min(count, whole)
    return Admission(count)


INITIAL_WINDOW = 4.0
# A job's issues travel the catch-up lane (chalicelib.sync.lanes): their queueing no longer
# delays live changes, so the target only keeps the job's own queue short (it was 5 s when
# live changes waited behind it: ADR 0003).
MIN_TARGET_S = 15.0
TARGET_FACTOR = 3.0


def latency_target(base: float | None) -> float:
    """How long an issue may take before the job counts it as queuing behind others."""
    return max(MIN_TARGET_S, TARGET_FACTOR * base) if base else MIN_TARGET_S


def next_window(
    window: float,
    latency: float,
    *,
    base: float | None,
    now: float,
    last_cut: float | None,
    ceiling: int,
) -> tuple[float, float | None]:
    """``(window, last_cut)`` after one issue completed in ``latency`` seconds.

    Additive increase (about one more per window's worth of completions, one per
    completion while latency is well under target), multiplicative decrease (halve, at
    most once per target interval, since one queue backs up many issues at once).
    """
    target = latency_target(base)
    if latency > target:
        if last_cut is None or now - last_cut >= target:
            return max(1.0, window / 2), now
        return window, last_cut
    step = 1.0 if latency <= target / 2 else 1.0 / max(1.0, window)
    return min(float(ceiling), window + step), last_cut


class TokenBucket(msgspec.Struct, frozen=True):
    """A per-job rate cap: ``rate`` tokens per second, at most ``capacity`` saved up."""

    rate: float
    capacity: float
    tokens: float
    at: float

    @classmethod
    def per_hour(cls, per_hour: int, now: float) -> TokenBucket:
        rate = per_hour / 3600.0
        capacity = max(1.0, rate * 10)  # at most ten seconds' worth at once
        return cls(rate=rate, capacity=capacity, tokens=1.0, at=now)

    def refill(self, now: float) -> TokenBucket:
        elapsed = max(0.0, now - self.at)
        return replace(self, tokens=min(self.capacity, self.tokens + elapsed * self.rate), at=now)

    def take(self, count: int) -> TokenBucket:
        return replace(self, tokens=self.tokens - count)

    def seconds_until(self, count: float = 1.0) -> float:
        missing = count - self.tokens
        return 0.0 if missing <= 0 else missing / self.rate


class IssueWriteCaps(msgspec.Struct):
    """Sliding windows of writes per issue: how long until the next write stays under caps."""

    limits: Sequence[tuple[int, float]] = CLOUD_ISSUE_WRITE_CAPS
    max_issues: int = 2000
    _writes: dict[str, deque[float]] = msgspec.field(default_factory=dict)

    @property
    def horizon(self) -> float:
        return max(seconds for _, seconds in self.limits)

    def wait_for(self, key: str, now: float) -> float:
        """Seconds to wait before writing to ``key`` (0: now is fine)."""
        writes = self._writes.get(key)
        if not writes:
            return 0.0
        wait = 0.0
        for count, seconds in self.limits:
            recent = [t for t in writes if t > now - seconds]
            if len(recent) >= count:
                # the oldest write that keeps the window full must leave it first
                wait = max(wait, recent[len(recent) - count] + seconds - now)
        return max(0.0, wait)

    def record(self, key: str, now: float) -> None:
        writes = self._writes.setdefault(key, deque())
        writes.append(now)
        while writes and writes[0] <= now - self.horizon:
            writes.popleft()
        if len(self._writes) > self.max_issues:
            self._forget(now)

    def _forget(self, now: float) -> None:
        for key in [k for k, w in self._writes.items() if not w or w[-1] <= now - self.horizon]:
            del self._writes[key]
