"""The state of a bulk job and how it moves (pure: no AWS, no tracker).

A job is a sequence of bounded steps; between steps everything it knows is in this state,
saved after every change, so a step that dies is simply run again from it:

    listing ──(last page read)──► running ──(every item settled)──► done
       │                              │
       └──────── cancel ──────────────┴──► cancelled        (any) ──► failed

- ``listing`` (bulk sync only): the query is walked page by page in key order; the keys
  are saved in chunks (:data:`CHUNK` keys each), so the set of issues is fixed once listed
  and pages cannot shift under the job while it syncs them.
- ``running``: items are admitted from ``position`` onwards (paced, see
  :mod:`chalicelib.trackers.pacing`); an admitted item is *in flight* until its twin is synced
  (``done``) or in error, stopped or silent for too long (``failed``).

Items already under sync count as done; items whose sync was stopped (a tombstone) are
``skipped``: syncing them again is an explicit act.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import msgspec

from chalicelib.trackers.pacing import INITIAL_WINDOW, next_window

CHUNK = 100
FINAL = ("done", "cancelled", "failed")
DRIFT_KINDS = ("drift_scan", "drift_repair")  # run by chalicelib.ops.drift_job
KINDS = ("bulk_sync", "bulk_connect", *DRIFT_KINDS)
MAX_FAILURES_KEPT = 50
SAMPLES = 12
ITEM_TIMEOUT_S = 900.0


class JobState(msgspec.Struct):
    id: str
    kind: str
    connection_id: str
    state: str
    created_at: float
    created_by: str
    jql: str | None = None
    trigger_id: str | None = None
    page_size: int = 100
    cursor: str | None = None  # the tracker's page cursor while listing
    pages_read: int = 0
    tail: list[Any] = msgspec.field(default_factory=list)  # listed keys not yet in a full chunk
    chunks: int = 0
    total: int = 0
    position: int = 0
    in_flight: dict[str, float] = msgspec.field(default_factory=dict)  # key -> admitted at
    done: int = 0
    failed: int = 0
    skipped: int = 0
    failures: list[dict[str, str]] = msgspec.field(default_factory=list)
    waiting: dict[str, Any] | None = None
    max_per_hour: int | None = None
    tokens: float | None = None
    tokens_at: float | None = None
    started_at: float | None = None
    updated_at: float | None = None
    finished_at: float | None = None
    cancel_requested: bool = False
    error: str | None = None
    samples: list[list[float]] = msgspec.field(default_factory=list)  # [time, settled] for the rate
    steps: int = 0
    running_step: int | None = None  # the step under way (set when it starts)
    restarts: int = 0  # steps that died and were run again
    window: float = INITIAL_WINDOW  # how many issues may be in flight (adapts to latency)
    base_latency: float | None = None  # the fastest an issue completed: the idle pipeline
    last_cut: float | None = None
    ceiling: int = 20
    result: dict[str, Any] | None = None  # drift jobs: what the scan found, what was repaired
    source_job: str | None = None  # drift repair: the scan whose drifted twins it repairs

    # --- serialisation ---------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        # a deep copy, as ``dataclasses.asdict`` made (tuples stay tuples, unlike to_builtins)
        return copy.deepcopy(msgspec.structs.asdict(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobState:
        known = set(cls.__struct_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    # --- what it is --------------------------------------------------------------------

    @property
    def final(self) -> bool:
        return self.state in FINAL

    @property
    def settled(self) -> int:
        return self.done + self.failed + self.skipped

    @property
    def remaining(self) -> int:
        """Items not yet admitted (known only once listing is over)."""
        return max(0, self.total - self.position)

    def chunk_of(self, index: int) -> tuple[int, int]:
        return divmod(index, CHUNK)

    # --- moves -------------------------------------------------------------------------

    def listed(self, keys: list[Any], next_cursor: str | None, now: float) -> list[list[Any]]:
        """A page was read: returns the chunks that are now full (to be saved, in order)."""
        self.tail.extend(keys)
        self.total += len(keys)
        self.pages_read += 1
        self.cursor = next_cursor
        full = []
        while len(self.tail) >= CHUNK:
            full.append(self.tail[:CHUNK])
            self.tail = self.tail[CHUNK:]
        self.chunks += len(full)
        if next_cursor is None or not keys:
            if self.tail:
                full.append(self.tail)
                self.chunks += 1
                self.tail = []
            self.start_running(now)
        self.updated_at = now
        return full

    def start_running(self, now: float) -> None:
        self.state = "running"
        self.cursor = None
        self.started_at = self.started_at or now
        self.sample(now)

    def admitted(self, key: str, outcome: str, now: float, error: str | None = None) -> None:
        """Item at ``position`` was admitted: in flight, already done, skipped or failed."""
        self.position += 1
        if outcome == "in_flight":
            self.in_flight[key] = now
        elif outcome == "done":
            self.done += 1
        elif outcome == "skipped":
            self.skipped += 1
        else:
            self.fail(key, error or outcome)
        self.updated_at = now

    def fail(self, key: str, error: str) -> None:
        self.failed += 1
        if len(self.failures) < MAX_FAILURES_KEPT:
            self.failures.append({"key": key, "error": error})

    def observe(
        self,
        statuses: Mapping[str, tuple[str, str | None]],
        now: float,
        *,
        timeout: float = ITEM_TIMEOUT_S,
    ) -> int:
        """Settle in-flight items from their twins' status; returns how many settled."""
        settled = 0
        for key, admitted_at in list(self.in_flight.items()):
            status, error = statuses.get(key, ("missing", None))
            if status == "synced":
                self.done += 1
                self.adapt(now - admitted_at, now)
            elif status == "error":
                self.fail(key, error or "sync failed")
            elif status == "stopped":
                self.fail(key, error or "sync was stopped")
            elif status == "missing":
                self.fail(key, "the twin record disappeared (connection deleted?)")
            elif now - admitted_at > timeout:
                self.fail(key, f"no answer from the other side within {int(timeout)} s")
            else:
                continue
            del self.in_flight[key]
            settled += 1
        if settled:
            self.updated_at = now
        return settled

    def adapt(self, latency: float, now: float) -> None:
        """One issue completed in ``latency`` seconds: the window follows (see pacing)."""
        self.base_latency = (
            latency if self.base_latency is None else min(self.base_latency, latency)
        )
        self.window, self.last_cut = next_window(
            self.window,
            latency,
            base=self.base_latency,
            now=now,
            last_cut=self.last_cut,
            ceiling=self.ceiling,
        )

    def finish_if_done(self, now: float) -> bool:
        if self.state == "running" and self.position >= self.total and not self.in_flight:
            self.state = "done"
            self.finished_at = now
            self.waiting = None
            self.sample(now)
            return True
        return False

    def cancel(self, now: float) -> None:
        self.state = "cancelled"
        self.finished_at = now
        self.waiting = None
        self.updated_at = now

    def fail_job(self, error: str, now: float) -> None:
        self.state = "failed"
        self.error = error
        self.finished_at = now
        self.waiting = None
        self.updated_at = now

    def wait(self, reason: str | None, until: float | None) -> None:
        self.waiting = None if reason is None else {"reason": reason, "until": until}

    def sample(self, now: float) -> None:
        self.samples.append([now, float(self.settled)])
        del self.samples[:-SAMPLES]


# --- what an admin sees -------------------------------------------------------------------


def iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    when = datetime.fromtimestamp(moment, UTC)
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


def rate_per_hour(job: JobState, now: float) -> float | None:
    """Settled items per hour: over the recent samples when they span time, else overall."""
    points = [*job.samples, [now if not job.final else job.finished_at or now, job.settled]]
    if len(points) >= 2:
        (t0, n0), (t1, n1) = points[0], points[-1]
        if t1 - t0 >= 1.0 and n1 > n0:
            return (n1 - n0) / (t1 - t0) * 3600.0
    if job.started_at is None or not job.settled:
        return None
    elapsed = (job.finished_at or now) - job.started_at
    return job.settled / elapsed * 3600.0 if elapsed > 0 else None


def expected_rate(job: JobState, measured: float | None) -> float | None:
    """The rate the rest of the job will go at: the measured one, but never above the job's
    own ``max_per_hour`` (its first issues go at once, from a full bucket), and that cap
    itself while nothing has been measured yet."""
    cap = float(job.max_per_hour) if job.max_per_hour else None
    if measured is None:
        return cap
    return min(measured, cap) if cap is not None else measured


def view(job: JobState, now: float) -> dict[str, Any]:
    """``GET /api/v1/jobs/{id}``: progress, rate and an ETA."""
    rate = rate_per_hour(job, now)
    listing = job.state == "listing"
    left = None if listing else job.total - job.settled
    eta = None
    pace = expected_rate(job, rate)
    if not job.final and pace and left is not None:
        eta = left / pace * 3600.0
    state = job.state
    if job.cancel_requested and not job.final:
        state = "cancelling"
    waiting = None
    if job.waiting and not job.final:
        waiting = {"reason": job.waiting["reason"], "until": iso(job.waiting.get("until"))}
    return {
        "id": job.id,
        "kind": job.kind,
        "connection_id": job.connection_id,
        "state": state,
        "jql": job.jql,
        "trigger_id": job.trigger_id,
        "total": job.total,
        "total_known": not listing,
        "done": job.done,
        "failed": job.failed,
        "skipped": job.skipped,
        "in_flight": len(job.in_flight),
        "window": round(job.window, 1),
        "remaining": left,
        "rate_per_hour": round(rate, 1) if rate else None,
        "eta_seconds": round(eta) if eta is not None else None,
        "eta": iso(now + eta) if eta is not None else None,
        "waiting": waiting,
        "failures": list(job.failures),
        "error": job.error,
        "steps": job.steps,
        "restarted_steps": job.restarts,
        "created_by": job.created_by,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "updated_at": iso(job.updated_at),
        "finished_at": iso(job.finished_at),
        "result": job.result,
        "source_job": job.source_job,
    }
