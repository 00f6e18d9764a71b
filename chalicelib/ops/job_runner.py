"""Running bulk jobs (:mod:`chalicelib.ops.jobs`) as bounded steps on the jobs queue.

A step is one message on the jobs queue (FIFO, one group per job, so one step of a job at
a time). It runs for at most :data:`STEP_SECONDS`: it lists a page, or settles what is in
flight and admits what pacing allows, saving the state after every change, then saves
the state with the next step number *conditionally on the current one*
(:mod:`chalicelib.ops.job_store`) and queues the next step. So:

- a step that dies is delivered again (the worker shortens its visibility) and redoes its
  work from the last saved state; admitting an item twice is harmless (the twin exists);
- a duplicate or late message (its step number is not the job's) does nothing but make
  sure the job's current step is queued;
- a step that outlived its visibility cannot overwrite the state a newer step saved.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from chalicelib.observability import logs, metrics
from chalicelib.ops import teardown
from chalicelib.ops.job_store import (
    Superseded,
    cancel_requested,
    load,
    read_chunk,
    save,
    save_chunk,
)
from chalicelib.ops.jobstate import DRIFT_KINDS, JobState
from chalicelib.queues import QueueMessage
from chalicelib.store.models import ConnectionModel, TwinModel
from chalicelib.store.namespaces import job_group, job_item_dedup, job_step_dedup
from chalicelib.sync import lanes
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


Clock = Callable[[], float]

Sleep = Callable[[float], None]


def enqueue_step(job_id: str, step: int, *, deps: SyncDeps) -> None:
    deps.enqueue(
        deps.settings.resources.jobs_queue_url,
        {"job_id": job_id, "step": step},
        group=job_group(job_id),
        dedup=job_step_dedup(job_id, step),
    )


# --- running a step --------------------------------------------------------------------------


def run_step(
    message: QueueMessage,
    *,
    deps: SyncDeps,
    clock: Clock = time.time,
    sleep: Sleep = time.sleep,
    step_seconds: float = STEP_SECONDS,
) -> None:
    """The jobs queue's handler for one step message (or a deleted connection's clean-up
    page, :mod:`chalicelib.ops.teardown`). Everything a step sends is catch-up work: its
    issues go through the catch-up queues, never in front of a live change."""
    with lanes.working(lanes.CATCH_UP):
        _handle(message, deps=deps, clock=clock, sleep=sleep, step_seconds=step_seconds)


def _handle(
    message: QueueMessage, *, deps: SyncDeps, clock: Clock, sleep: Sleep, step_seconds: float
) -> None:
    if teardown.handles(message.body):
        teardown.run(message.body, deps=deps)
        return
    job_id = str(message.body.get("job_id", ""))
    step = message.body.get("step")
    loaded = load(job_id) if job_id else None
    if loaded is None or not isinstance(step, int):
        return
    job, counter = loaded
    logs.bind(connection_id=job.connection_id)
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
    budget.note_jobs_on(clock())  # live sync's calls count while a job may read them
    settled = job.settled
    try:
        _steps(job, counter, deps=deps, clock=clock, sleep=sleep, deadline=deadline)
    finally:
        if job.settled > settled:
            metrics.add(metrics.BULK_JOB_ITEMS, job.settled - settled)


def _steps(
    job: JobState, counter: int, *, deps: SyncDeps, clock: Clock, sleep: Sleep, deadline: float
) -> None:
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
        log.info(
            "job %s %s: %d done, %d failed",
            job.id,
            job.state,
            job.done,
            job.failed,
            extra={"event": "job.finished", "kind": job.kind, "state": job.state},
        )
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
    if job.kind in DRIFT_KINDS:
        # a drift job's modules (its views, the comparison, both ends' reads), imported when
        # one runs: a bulk sync's step does not need them (cold start, issue 19)
        from chalicelib.ops import drift_job

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
        save_chunk(job.id, first + offset, chunk)
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
            chunks[index] = read_chunk(job.id, index)
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
    from chalicelib.sync.messages import IngestMessage, enqueue_ingest

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
        twin.update(actions=[TwinModel.status.set("queued"), TwinModel.error.remove()])
    enqueue_ingest(
        IngestMessage(key, source="job", connection_id=connection.id),
        deps=deps,
        dedup=job_item_dedup(job_id, key),
    )
    return "in_flight", None


def _connect_item(
    connection: ConnectionModel, local_key: str, remote_key: str, *, deps: SyncDeps
) -> tuple[str, str, str | None]:
    from chalicelib.sync.connect import (
        CONNECTABLE,
        UNKNOWN,
        CannotConnect,
        ask_other_end,
        check_pair,
        connect_issue,
    )

    try:
        issue = deps.tracker.get_issue(local_key)
    except (IssueNotFound, PermissionDenied):
        return "failed", local_key, f"{local_key} was not found in this node's tracker."
    try:
        existing = check_pair(connection, issue.key, remote_key)
        if existing is None or existing.status == "stopped":  # a new pair: ask the other end
            verdict = ask_other_end(connection, issue.key, remote_key, deps=deps)
            if verdict is not None and verdict.verdict not in (CONNECTABLE, UNKNOWN):
                return "failed", local_key, verdict.message or f"{remote_key} cannot be connected."
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
    logs.bind(connection_id=job.connection_id)
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
