"""Drift scan and drift repair as job kinds: bounded pieces of work inside a job step.

:mod:`chalicelib.ops.job_runner` runs the steps (saving, cancel, retry, ADR 0003); this module
does one piece of a drift job each time it is asked (:func:`iterate`):

- ``drift_scan`` walks the connection's twins in key order, :data:`BATCH` at a time (the
  last key read is the job's ``cursor``, so a step that dies resumes there), describes
  them here, asks the other end for its half, compares (:func:`chalicelib.ops.drift.
  compare`) and keeps the drifted ones in chunks ``job#<id>#d#<n>`` for the repair; the
  job's ``result`` holds the counts and the first :data:`REPORTED` drifted twins.
- ``drift_repair`` walks the drifted twins of a finished scan, :data:`REPAIR_BATCH` at a
  time: first this end forgets the mirrors it lost, then the other end repairs its half
  (it forgets its lost mirrors, then resends), then this end resends. So each resend
  reaches an end that has already forgotten what it lost. A repair does not wait for the
  resent replicas to be applied: a new scan shows the outcome.

Reads are paced like bulk sync: a batch takes its share of the jobs' budget first.
"""

from __future__ import annotations

import json
import math
from typing import Any

from chalicelib.net.errors import OutboundError, PeerRefused
from chalicelib.ops.drift import EndRepair, InvalidView, TwinView, compare, stored_plan
from chalicelib.ops.drift_ends import (
    PeerCannotBeCalled,
    can_call_other,
    other_repair,
    other_views,
    repair,
    under_way,
    view_of,
)
from chalicelib.ops.jobstate import CHUNK, JobState
from chalicelib.ops.jobstate import DRIFT_KINDS as KINDS
from chalicelib.store.keys import get_key
from chalicelib.store.models import ConnectionModel, KeyModel, TwinModel
from chalicelib.store.namespaces import job_findings_key
from chalicelib.sync.services import SyncDeps
from chalicelib.sync.store import get_twin
from chalicelib.trackers import budget
from chalicelib.trackers.base import RateLimited
from chalicelib.trackers.pacing import budget_for, window_of

BATCH = 20
REPAIR_BATCH = 10
REPORTED = 100
TWINS_PER_ADMISSION = 4  # a twin costs one read per end; an issue of a bulk sync about ten
PEER_RETRY_S = 30.0

__all__ = ["KINDS", "can_call_other", "count_twins", "empty_result", "iterate"]


def empty_result(kind: str) -> dict[str, Any]:
    if kind == "drift_scan":
        return {
            "scanned": 0,
            "clean": 0,
            "drifted": 0,
            "pending": 0,
            "unmatched": 0,
            "excluded": 0,
            "twins": [],
            "twins_truncated": False,
        }
    return {"repaired": 0, "failed": 0, "forgotten": 0, "resent_here": 0, "resent_there": 0}


# --- storage of findings --------------------------------------------------------------------


def _save_findings(job_id: str, index: int, items: list[dict[str, Any]]) -> None:
    KeyModel(key=job_findings_key(job_id, index), value=json.dumps(items)).save()


def _read_findings(job_id: str, index: int) -> list[dict[str, Any]]:
    item = get_key(job_findings_key(job_id, index))
    return json.loads(item.value) if item is not None and item.value else []


def count_twins(connection_id: str) -> int:
    return sum(1 for t in TwinModel.query(connection_id) if t.status != "stopped")


# --- one piece of work ----------------------------------------------------------------------


def iterate(job: JobState, connection: ConnectionModel, *, deps: SyncDeps, now: float) -> bool:
    """One bounded piece of a drift job; True if the state changed."""
    waiting = job.waiting or {}
    if waiting.get("reason") == "peer_unreachable" and now < float(waiting.get("until") or 0):
        return False
    plan = budget_for(deps.tracker.kind)
    paused = budget.snapshot(now, plan).paused_until
    if paused is not None:
        job.wait("retry_after", paused)
        return False
    try:
        if job.kind == "drift_scan":
            return _scan_batch(job, connection, deps=deps, now=now, plan=plan)
        return _repair_batch(job, connection, deps=deps, now=now, plan=plan)
    except RateLimited as exc:
        budget.pause(exc.retry_after, now)
        job.wait("retry_after", now + exc.retry_after)
        return False
    except PeerCannotBeCalled:
        job.fail_job(
            "The other end is a private node, which cannot be called: start the drift scan "
            "on the private node.",
            now,
        )
        return True
    except (OutboundError, PeerRefused, InvalidView) as exc:
        job.wait("peer_unreachable", now + PEER_RETRY_S)
        job.error = f"The other end did not answer: {exc}"
        return True


def _take(job: JobState, twins: int, now: float, plan: Any) -> bool:
    if budget.take_for_jobs(math.ceil(twins / TWINS_PER_ADMISSION), now, plan):
        return True
    job.wait("rate", (window_of(now, plan.window_s) + 1) * plan.window_s)
    return False


def _next_twins(connection_id: str, after: str | None) -> list[TwinModel]:
    condition = TwinModel.local_key > after if after else None
    found = []
    for twin in TwinModel.query(connection_id, condition, consistent_read=True):
        found.append(twin)
        if len(found) >= BATCH:
            break
    return found


def _scan_batch(
    job: JobState, connection: ConnectionModel, *, deps: SyncDeps, now: float, plan: Any
) -> bool:
    twins = _next_twins(connection.id, job.cursor)
    if not twins:
        _finish_scan(job, now)
        return True
    if not _take(job, len(twins), now, plan):
        return False
    result = job.result or empty_result(job.kind)
    busy = under_way(connection.id)
    mine: list[TwinView] = []
    for twin in twins:
        if twin.status == "stopped":
            continue
        view = view_of(connection, twin, deps=deps, busy=busy)
        if view is None:
            result["excluded"] += 1
        else:
            mine.append(view)
    linked = [v for v in mine if v.found and v.twin_key]
    theirs = other_views(connection, linked, deps=deps) if linked else []
    answers = dict(zip([v.key for v in linked], theirs, strict=True))
    for view in mine:
        other = answers.get(view.key)
        if other is None:  # not linked yet (no remote key), or its issue is gone here
            state = "pending" if view.found else "unmatched"
            result[state] += 1
            result["scanned"] += 1
            continue
        finding = compare(view, other)
        result[finding.state] += 1
        result["scanned"] += 1
        if finding.state == "drifted":
            if len(result["twins"]) < REPORTED:
                result["twins"].append(finding.report())
            else:
                result["twins_truncated"] = True
            job.tail.append(finding.to_json())
            if len(job.tail) >= CHUNK:
                _save_findings(job.id, job.chunks, job.tail)
                job.chunks += 1
                job.tail = []
    job.result = result
    job.cursor = twins[-1].local_key
    job.done = result["scanned"]
    job.total = max(job.total, job.done)
    job.error = None
    job.wait(None, None)
    job.updated_at = now
    return True


def _finish_scan(job: JobState, now: float) -> None:
    if job.tail:
        _save_findings(job.id, job.chunks, job.tail)
        job.chunks += 1
        job.tail = []
    job.total = job.done
    job.state = "done"
    job.finished_at = now
    job.waiting = None
    job.updated_at = now


def _repair_batch(
    job: JobState, connection: ConnectionModel, *, deps: SyncDeps, now: float, plan: Any
) -> bool:
    if job.position >= job.total:
        job.state = "done"
        job.finished_at = now
        job.waiting = None
        return True
    findings = _next_findings(job, REPAIR_BATCH)
    if not findings:
        job.position = job.total
        return True
    if not _take(job, len(findings), now, plan):
        return False
    result = job.result or empty_result(job.kind)
    ours: list[tuple[TwinModel, Any]] = []
    for item in findings:
        twin = get_twin(connection.id, str(item["local_key"]))
        if twin is None or twin.status == "stopped" or not twin.remote_key:
            job.fail(str(item["local_key"]), "the twin is gone or stopped since the scan")
            result["failed"] += 1
            continue
        ours.append((twin, stored_plan(item)))
    # 1. this end forgets what it lost, so the other end's resend brings it back
    for twin, _ in ours:
        outcome = repair(connection, twin, EndRepair(), deps=deps)
        result["forgotten"] += int(outcome.get("forgotten") or 0)
    # 2. the other end forgets what it lost and resends what it is the source of
    asked = [(t.local_key, t.remote_key, p.there) for t, p in ours]
    answers = other_repair(connection, asked, deps=deps) if asked else []
    for answer in answers:
        result["forgotten"] += int(answer.get("forgotten") or 0)
        result["resent_there"] += 1 if answer.get("resent") else 0
    # 3. this end resends what it is the source of
    for twin, plan_of in ours:
        if plan_of.here.acts:
            outcome = repair(connection, twin, plan_of.here, deps=deps)
            result["resent_here"] += 1 if outcome.get("resent") else 0
        result["repaired"] += 1
        job.done += 1
    job.position += len(findings)
    job.result = result
    job.error = None
    job.wait(None, None)
    job.updated_at = now
    return True


def _next_findings(job: JobState, count: int) -> list[dict[str, Any]]:
    if not job.source_job:
        return []
    items: list[dict[str, Any]] = []
    position = job.position
    chunks: dict[int, list[dict[str, Any]]] = {}
    while len(items) < count and position < job.total:
        index, offset = divmod(position, CHUNK)
        if index not in chunks:
            chunks[index] = _read_findings(job.source_job, index)
        if offset >= len(chunks[index]):
            break
        items.append(chunks[index][offset])
        position += 1
    return items
