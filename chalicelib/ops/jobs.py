"""Bulk jobs: bulk sync (a JQL query), bulk connect (pairs), drift scan and repair: the
admin operations that start, show, list and cancel them.

A job is kept by :mod:`chalicelib.ops.job_store` and run as bounded steps on the jobs
queue by :mod:`chalicelib.ops.job_runner`.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Mapping
from typing import Any

from chalicelib.errors import BadRequest, Conflict, NotFound
from chalicelib.ops import drift_job, job_store
from chalicelib.ops.job_runner import Clock, enqueue_step
from chalicelib.ops.job_store import cancel_requested, load
from chalicelib.ops.jobstate import CHUNK, JobState, view
from chalicelib.store import audit
from chalicelib.store.models import ConnectionModel, new_id
from chalicelib.store.pages import Page
from chalicelib.sync.services import SyncDeps
from chalicelib.trackers import budget, jql

MAX_PAIRS = 10_000

PAGE_SIZES = (10, 100)


# --- starting --------------------------------------------------------------------------------


def _int(body: Mapping[str, Any], name: str, low: int, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise BadRequest(f"{name} must be a whole number from {low} to {high}.", field=name)
    return value


def _unknown(body: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadRequest(f"Unknown field {unknown[0]!r}.", code="unknown_field", field=unknown[0])


def start_bulk_sync(
    connection: ConnectionModel,
    body: Mapping[str, Any],
    *,
    deps: SyncDeps,
    trigger: Mapping[str, Any] | None = None,
    clock: Clock = time.time,
) -> JobState:
    """``POST …/bulk-sync {jql, page_size?, max_per_hour?}`` (or a trigger's query)."""
    from chalicelib.ops.triggers import check_jql

    _unknown(body, {"page_size", "max_per_hour"} | (set() if trigger else {"jql"}))
    text = trigger["jql"] if trigger else body.get("jql")
    if not isinstance(text, str) or not text.strip():
        raise BadRequest("jql must be the JQL query of the issues to sync.", field="jql")
    check_jql(text.strip(), deps=deps)
    now = clock()
    job = _new_job(
        "bulk_sync",
        connection,
        now,
        state="listing",
        jql=text.strip(),
        trigger_id=str(trigger["id"]) if trigger else None,
        page_size=_int(body, "page_size", *PAGE_SIZES) or PAGE_SIZES[1],
        max_per_hour=_int(body, "max_per_hour", 1, 1_000_000),
    )
    return _create(job, [], deps=deps)


def parse_pairs(body: Mapping[str, Any]) -> list[list[str]]:
    """``{"pairs": [[local, remote] | {local_key, remote_key}, ...]}`` or ``{"csv": "…"}``."""
    _unknown(body, {"pairs", "csv", "max_per_hour"})
    raw: list[Any]
    if isinstance(body.get("csv"), str) and "pairs" not in body:
        raw = [row for row in csv.reader(io.StringIO(body["csv"])) if any(c.strip() for c in row)]
        if raw and raw[0] and raw[0][0].strip().lower() in ("local_key", "local"):
            raw = raw[1:]
    elif isinstance(body.get("pairs"), list):
        raw = body["pairs"]
    else:
        raise BadRequest(
            'Send "pairs": [["ABC-1", "XYZ-9"], ...] or "csv": "ABC-1,XYZ-9\\n...".',
            field="pairs",
        )
    if not raw or len(raw) > MAX_PAIRS:
        raise BadRequest(f"Give between 1 and {MAX_PAIRS} pairs.", field="pairs")
    pairs: list[list[str]] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        if isinstance(item, Mapping):
            item = [item.get("local_key"), item.get("remote_key")]
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise BadRequest(f"Pair {i + 1} must be [local_key, remote_key].", field="pairs")
        local, remote = (str(v).strip() if isinstance(v, str) else "" for v in item)
        if not jql.KEY_RE.match(local) or not jql.KEY_RE.match(remote):
            raise BadRequest(f"Pair {i + 1} has an invalid issue key.", field="pairs")
        if local in seen:
            raise BadRequest(f"{local} appears in more than one pair.", field="pairs")
        seen.add(local)
        pairs.append([local, remote])
    return pairs


def start_bulk_connect(
    connection: ConnectionModel,
    body: Mapping[str, Any],
    *,
    deps: SyncDeps,
    clock: Clock = time.time,
) -> JobState:
    """``POST …/bulk-connect {pairs | csv, max_per_hour?}``."""
    pairs = parse_pairs(body)
    now = clock()
    job = _new_job(
        "bulk_connect",
        connection,
        now,
        total=len(pairs),
        chunks=(len(pairs) + CHUNK - 1) // CHUNK,
        max_per_hour=_int(body, "max_per_hour", 1, 1_000_000),
    )
    return _create(job, pairs, deps=deps)


def _new_job(
    kind: str, connection: ConnectionModel, now: float, *, state: str = "running", **fields: Any
) -> JobState:
    """A job of ``kind`` started now by this admin (a running one has its start time)."""
    started: dict[str, Any] = {"started_at": now} if state == "running" else {}
    return JobState(
        id=f"job-{new_id()}",
        kind=kind,
        connection_id=connection.id,
        state=state,
        created_at=now,
        created_by=audit.admin_actor(),
        updated_at=now,
        **started,
        **fields,
    )


def start_drift_scan(
    connection: ConnectionModel,
    body: Mapping[str, Any],
    *,
    deps: SyncDeps,
    clock: Clock = time.time,
) -> JobState:
    """``POST …/drift-scan {}``: compare every twin of the connection through both ends."""
    _unknown(body, set())
    if not drift_job.can_call_other(connection):
        raise Conflict(
            "The other end of this connection is a private node, which this node cannot call: "
            "start the drift scan on the private node (it calls this one).",
            code="peer_is_private",
        )
    now = clock()
    job = _new_job(
        "drift_scan",
        connection,
        now,
        total=drift_job.count_twins(connection.id),
        result=drift_job.empty_result("drift_scan"),
    )
    return _create(job, [], deps=deps)


def start_drift_repair(
    connection: ConnectionModel,
    scan_id: str,
    body: Mapping[str, Any],
    *,
    deps: SyncDeps,
    clock: Clock = time.time,
) -> JobState:
    """``POST …/drift-scan/{job_id}/repair {}``: re-sync the twins that scan found drifted."""
    _unknown(body, set())
    scan, _ = _require(scan_id)
    if scan.kind != "drift_scan" or scan.connection_id != connection.id:
        raise NotFound(
            f"No drift scan {scan_id} of connection {connection.id} on this node.",
            code="job_not_found",
        )
    if scan.state != "done":
        raise Conflict(
            f"Drift scan {scan_id} is {scan.state}; repair the twins of a finished scan.",
            code="scan_not_finished",
        )
    drifted = int((scan.result or {}).get("drifted") or 0)
    if not drifted:
        raise Conflict(f"Drift scan {scan_id} found no drifted twin.", code="nothing_to_repair")
    now = clock()
    job = _new_job(
        "drift_repair",
        connection,
        now,
        total=drifted,
        result=drift_job.empty_result("drift_repair"),
        source_job=scan.id,
    )
    return _create(job, [], deps=deps)


def _create(job: JobState, items: list[Any], *, deps: SyncDeps) -> JobState:
    job_store.create(job, items)
    budget.note_jobs_on(job.created_at)  # live sync's calls count from now on
    enqueue_step(job.id, 0, deps=deps)
    audit.record(
        "job.started",
        actor=job.created_by,
        connection_id=job.connection_id,
        details={
            "job_id": job.id,
            "kind": job.kind,
            "jql": job.jql,
            "trigger_id": job.trigger_id,
            "pairs": job.total if job.kind == "bulk_connect" else None,
            "source_job": job.source_job,
        },
    )
    return job


# --- reading and cancelling ----------------------------------------------------------------


def _require(job_id: str) -> tuple[JobState, int]:
    loaded = load(job_id)
    if loaded is None:
        raise NotFound(f"No job {job_id} on this node.", code="job_not_found")
    return loaded


def show(job_id: str, *, clock: Clock = time.time) -> dict[str, Any]:
    job, _ = _require(job_id)
    job.cancel_requested = job.cancel_requested or (not job.final and cancel_requested(job_id))
    return view(job, clock())


def cancel(job_id: str, *, clock: Clock = time.time) -> dict[str, Any]:
    """Ask the job to stop: its next step cancels it (items in flight finish normally)."""
    job, _ = _require(job_id)
    if job.final:
        raise Conflict(f"Job {job_id} is already {job.state}.", code="job_finished")
    job_store.request_cancel(job_id)
    audit.record("job.cancelled", connection_id=job.connection_id, details={"job_id": job_id})
    job.cancel_requested = True
    return view(job, clock())


def jobs_page(
    *,
    connection_id: str | None = None,
    limit: int,
    after: dict[str, str] | None = None,
    clock: Clock = time.time,
) -> Page[dict[str, Any]]:
    """``GET /api/v1/jobs``: one page of the node's jobs (or of one connection's), newest
    first, each as ``show``."""
    ids = job_store.job_ids_page(connection_id=connection_id, limit=limit, after=after)
    loaded = job_store.load_many(ids.items)
    now = clock()
    views = []
    for job_id in ids.items:
        if job_id not in loaded:
            continue
        job, cancel = loaded[job_id]
        job.cancel_requested = job.cancel_requested or (not job.final and cancel)
        views.append(view(job, now))
    return Page(views, ids.after)


def jobs_of(connection_id: str, *, clock: Clock = time.time) -> list[dict[str, Any]]:
    found = []
    for job_id in job_store.recent_job_ids(connection_id):
        loaded = load(job_id)
        if loaded is not None:
            found.append(view(loaded[0], clock()))
    return found
