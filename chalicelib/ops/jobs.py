"""Bulk jobs: bulk sync (a JQL query) and bulk connect (pairs), run as bounded steps.

Storage (keys table): ``job#<id>`` holds the state (:class:`~chalicelib.ops.jobstate.
JobState` as JSON) with the step number in ``counter``; ``job#<id>#c#<n>`` the n-th chunk
of listed keys (or pairs); ``job#<id>#cancel`` a cancel request. ``jobs#<connection>`` in
the events table lists a connection's jobs.

A step is one message on the jobs queue (FIFO, one group per job, so one step of a job at
a time). It runs for at most :data:`STEP_SECONDS`: it lists a page, or settles what is in
flight and admits what pacing allows, saving the state after every change, then saves
the state with the next step number *conditionally on the current one* and queues the next
step. So:

- a step that dies is delivered again (the worker shortens its visibility) and redoes its
  work from the last saved state; admitting an item twice is harmless (the twin exists);
- a duplicate or late message (its step number is not the job's) does nothing but make
  sure the job's current step is queued;
- a step that outlived its visibility cannot overwrite the state a newer step saved.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from pynamodb.exceptions import PutError

from chalicelib.errors import BadRequest, Conflict, NotFound
from chalicelib.ops import drift_job
from chalicelib.ops.jobstate import CHUNK, JobState, view
from chalicelib.queues import QueueMessage
from chalicelib.store import audit
from chalicelib.store.keys import condition_failed, get_key, set_key
from chalicelib.store.models import ConnectionModel, EventModel, KeyModel, TwinModel, new_id
from chalicelib.store.namespaces import (
    job_cancel_key,
    job_chunk_key,
    job_group,
    job_item_dedup,
    job_key,
    job_step_dedup,
    jobs_pk,
)
from chalicelib.sync.events import record_transaction
from chalicelib.sync.links import get_connection
from chalicelib.sync.services import SyncDeps
from chalicelib.sync.store import create_twin, get_twin
from chalicelib.trackers import budget, jql
from chalicelib.trackers.base import InvalidRequest, PermissionDenied, RateLimited, Unavailable
from chalicelib.trackers.base import NotFound as IssueNotFound
from chalicelib.trackers.pacing import TokenBucket, admit, budget_for, window_of
from chalicelib.trackers.retry import retry_later

log = logging.getLogger("twinsync.ops.jobs")

STEP_SECONDS = 8.0
POLL_SECONDS = 0.5
MAX_PAIRS = 10_000
PAGE_SIZES = (10, 100)

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class Superseded(Exception):
    """Another step saved the job meanwhile: this one stops without writing."""


# --- storage --------------------------------------------------------------------------------


def load(job_id: str) -> tuple[JobState, int] | None:
    try:
        item = KeyModel.get(job_key(job_id), consistent_read=True)
    except KeyModel.DoesNotExist:
        return None
    return JobState.from_dict(json.loads(item.value or "{}")), int(item.counter or 0)


def save(job: JobState, counter: int, *, next_counter: int | None = None) -> None:
    """Save ``job`` if its step number is still ``counter`` (else :class:`Superseded`)."""
    item = KeyModel(
        key=job_key(job.id),
        value=json.dumps(job.to_dict(), separators=(",", ":")),
        counter=counter if next_counter is None else next_counter,
    )
    try:
        item.save(condition=KeyModel.counter == counter)
    except PutError as exc:
        if condition_failed(exc):
            raise Superseded(job.id) from exc
        raise


def _save_chunk(job_id: str, index: int, items: list[Any]) -> None:
    KeyModel(key=job_chunk_key(job_id, index), value=json.dumps(items)).save()


def _read_chunk(job_id: str, index: int) -> list[Any]:
    item = get_key(job_chunk_key(job_id, index))
    return json.loads(item.value) if item is not None and item.value else []


def cancel_requested(job_id: str) -> bool:
    return get_key(job_cancel_key(job_id)) is not None


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
    started = {"started_at": now} if state == "running" else {}
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
    for index in range(0, len(items), CHUNK):
        _save_chunk(job.id, index // CHUNK, items[index : index + CHUNK])
    KeyModel(
        key=job_key(job.id), value=json.dumps(job.to_dict(), separators=(",", ":")), counter=0
    ).save(condition=KeyModel.key.does_not_exist())
    EventModel(
        pk=jobs_pk(job.connection_id),
        sk=job.id,
        data={"id": job.id, "kind": job.kind, "created_at": job.created_at},
    ).save()
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


def enqueue_step(job_id: str, step: int, *, deps: SyncDeps) -> None:
    deps.enqueue(
        deps.settings.resources.jobs_queue_url,
        {"job_id": job_id, "step": step},
        group=job_group(job_id),
        dedup=job_step_dedup(job_id, step),
    )


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
    set_key(job_cancel_key(job_id), "requested")
    audit.record("job.cancelled", connection_id=job.connection_id, details={"job_id": job_id})
    job.cancel_requested = True
    return view(job, clock())


def jobs_of(connection_id: str, *, clock: Clock = time.time) -> list[dict[str, Any]]:
    found = []
    for item in EventModel.query(jobs_pk(connection_id), scan_index_forward=False, limit=20):
        loaded = load(item.sk)
        if loaded is not None:
            found.append(view(loaded[0], clock()))
    return found


# --- running a step --------------------------------------------------------------------------


def run_step(
    message: QueueMessage,
    *,
    deps: SyncDeps,
    clock: Clock = time.time,
    sleep: Sleep = time.sleep,
    step_seconds: float = STEP_SECONDS,
) -> None:
    """The jobs queue's handler for one step message."""
    job_id = str(message.body.get("job_id", ""))
    step = message.body.get("step")
    loaded = load(job_id) if job_id else None
    if loaded is None or not isinstance(step, int):
        return
    job, counter = loaded
    if job.final:
        return
    if step != counter:
        if step < counter:
            enqueue_step(job_id, counter, deps=deps)  # make sure the current step is queued
        return
    try:
        _run(job, counter, deps=deps, clock=clock, sleep=sleep, step_seconds=step_seconds)
    except Superseded:
        log.warning("job %s: step %d was superseded by a newer one", job_id, step)


def _run(
    job: JobState, counter: int, *, deps: SyncDeps, clock: Clock, sleep: Sleep, step_seconds: float
) -> None:
    deadline = clock() + step_seconds
    if job.running_step == counter:
        job.restarts += 1  # this step began before and did not finish: it died
    job.running_step = counter
    save(job, counter)  # so that a death from here on is seen by the next attempt
    while True:
        try:
            progressed = _iterate(job, deps=deps, now=clock())
        except Unavailable as exc:
            save(job, counter)  # keep what this step did; the queue runs it again
            raise retry_later(exc, f"job {job.id}: the tracker failed") from exc
        if job.final or clock() >= deadline:
            break
        if progressed:
            save(job, counter)
        else:
            sleep(max(0.0, min(POLL_SECONDS, deadline - clock())))
    job.steps += 1
    job.sample(clock())
    save(job, counter, next_counter=counter + 1)
    if job.final:
        log.info("job %s %s: %d done, %d failed", job.id, job.state, job.done, job.failed)
    else:
        enqueue_step(job.id, counter + 1, deps=deps)


def _iterate(job: JobState, *, deps: SyncDeps, now: float) -> bool:
    """One bounded piece of work; True if the state changed."""
    if cancel_requested(job.id):
        job.cancel(now)
        return True
    connection = get_connection(job.connection_id)
    if connection is None or connection.status == "deleted":
        job.fail_job("The connection was deleted.", now)
        return True
    if connection.status != "active":
        job.wait("connection_not_active", None)
        return False
    if job.kind in drift_job.KINDS:
        return drift_job.iterate(job, connection, deps=deps, now=now)
    if job.state == "listing":
        return _list_page(job, deps=deps, now=now)
    settled = _settle(job, now)
    if job.finish_if_done(now):
        return True
    return bool(_admit(job, connection, deps=deps, now=now) or settled)


def _list_page(job: JobState, *, deps: SyncDeps, now: float) -> bool:
    paused = budget.snapshot(now, budget_for(deps.tracker.kind)).paused_until
    if paused is not None:
        job.wait("retry_after", paused)
        return False
    try:
        page = deps.tracker.search(
            jql.in_key_order(job.jql or ""), cursor=job.cursor, limit=job.page_size
        )
    except RateLimited as exc:
        budget.pause(exc.retry_after, now)
        job.wait("retry_after", now + exc.retry_after)
        return False
    except InvalidRequest as exc:
        job.fail_job(f"The tracker refuses the query now: {exc.message}", now)
        return True
    first = job.chunks
    full = job.listed([ref.key for ref in page.issues], page.next_cursor, now)
    for offset, chunk in enumerate(full):
        _save_chunk(job.id, first + offset, chunk)
    job.wait(None, None)
    return True


def _settle(job: JobState, now: float) -> int:
    if not job.in_flight:
        return 0
    keys = [(job.connection_id, key) for key in job.in_flight]
    statuses = {
        twin.local_key: (twin.status, twin.error)
        for twin in TwinModel.batch_get(keys, consistent_read=True)
    }
    return job.observe(statuses, now)


def _admit(job: JobState, connection: ConnectionModel, *, deps: SyncDeps, now: float) -> int:
    plan = budget_for(deps.tracker.kind)
    job.ceiling = plan.in_flight
    snap = budget.snapshot(now, plan)
    bucket = None
    if job.max_per_hour:
        bucket = TokenBucket.per_hour(job.max_per_hour, now)
        if job.tokens is not None and job.tokens_at is not None:
            bucket = TokenBucket(bucket.rate, bucket.capacity, job.tokens, job.tokens_at)
        bucket = bucket.refill(now)
    decision = admit(
        want=job.remaining,
        in_flight=len(job.in_flight),
        usage=snap.usage,
        jobs_taken=snap.jobs_taken,
        paused_until=snap.paused_until,
        now=now,
        budget=plan,
        job_tokens=bucket.tokens if bucket else None,
        window=job.window,
    )
    if not decision.count:
        job.wait(decision.waiting, decision.until)  # none: only items in flight are left
        return 0
    granted = budget.take_for_jobs(decision.count, now, plan)
    if not granted:
        job.wait("rate", (window_of(now, plan.window_s) + 1) * plan.window_s)
        return 0
    job.wait(None, None)
    admitted = 0
    for item in _next_items(job, granted):
        try:
            outcome, key, error = _admit_item(job, connection, item, deps=deps)
        except RateLimited as exc:
            budget.pause(exc.retry_after, now)
            job.wait("retry_after", now + exc.retry_after)
            break
        job.admitted(key, outcome, now, error)
        admitted += 1
    if bucket is not None:
        spent = bucket.take(admitted)
        job.tokens, job.tokens_at = spent.tokens, spent.at
    return admitted


def _next_items(job: JobState, count: int) -> list[Any]:
    items: list[Any] = []
    position = job.position
    chunks: dict[int, list[Any]] = {}
    while len(items) < count and position < job.total:
        index, offset = job.chunk_of(position)
        if index not in chunks:
            chunks[index] = _read_chunk(job.id, index)
        chunk = chunks[index]
        if offset >= len(chunk):
            break  # a chunk shorter than the count says (should not happen)
        items.append(chunk[offset])
        position += 1
    return items


def _admit_item(
    job: JobState, connection: ConnectionModel, item: Any, *, deps: SyncDeps
) -> tuple[str, str, str | None]:
    if job.kind == "bulk_connect":
        return _connect_item(connection, str(item[0]), str(item[1]), deps=deps)
    outcome, error = put_under_sync(connection, str(item), job_id=job.id, deps=deps)
    return outcome, str(item), error


def put_under_sync(
    connection: ConnectionModel, key: str, *, job_id: str, deps: SyncDeps
) -> tuple[str, str | None]:
    """Bulk sync of one issue: ``in_flight``, ``done`` (already synced) or ``skipped``."""
    from chalicelib.sync.ingest import enqueue_ingest, ingest_message

    twin = get_twin(connection.id, key)
    if twin is not None and twin.status == "stopped":
        return "skipped", None
    if twin is not None and twin.status == "synced":
        return "done", None
    if twin is None:
        twin = TwinModel(connection_id=connection.id, local_key=key, status="queued")
        if create_twin(twin):
            record_transaction(
                connection.id,
                key,
                direction="outgoing",
                changes=[f"job:{job_id}"],
                outcome="put under sync by a bulk job",
            )
    elif twin.status == "error":
        twin.update(actions=[TwinModel.status.set("queued"), TwinModel.error.set(None)])
    enqueue_ingest(
        ingest_message(key, source="job", connection_id=connection.id),
        deps=deps,
        dedup=job_item_dedup(job_id, key),
    )
    return "in_flight", None


def _connect_item(
    connection: ConnectionModel, local_key: str, remote_key: str, *, deps: SyncDeps
) -> tuple[str, str, str | None]:
    from chalicelib.sync.connect import CannotConnect, connect_issue

    try:
        issue = deps.tracker.get_issue(local_key)
    except (IssueNotFound, PermissionDenied):
        return "failed", local_key, f"{local_key} was not found in this node's tracker."
    try:
        twin = connect_issue(connection, issue, remote_key, deps=deps)
    except CannotConnect as exc:
        return "failed", local_key, str(exc)
    return ("done" if twin.status == "synced" else "in_flight"), local_key, None


def give_up(message: QueueMessage, exc: BaseException) -> None:
    """The queue's last word on a step that kept failing: the job fails, visibly."""
    job_id = str(message.body.get("job_id", ""))
    loaded = load(job_id) if job_id else None
    if loaded is None:
        return
    job, counter = loaded
    if job.final:
        return
    job.fail_job(
        f"A step failed {message.receive_count} times; last error: {type(exc).__name__}: {exc}",
        time.time(),
    )
    try:
        save(job, counter, next_counter=counter + 1)
    except Superseded:
        log.warning("job %s moved on while its failed step was given up", job_id)
