"""Entry points of the queue-triggered and scheduled functions (what ``app.py`` calls).

Each gets its collaborators from the composition root (:mod:`chalicelib.root`). Each queue
handler states its batch semantics through :func:`chalicelib.queues.process_batch`: ordered
per message group, partial batch failures, backoff through visibility, and after the retry
budget an error record instead of a silent loss.

Live changes and catch-up work (a job's issues, the reconcile sweep's findings, what they
produce on the other end) go through the same stages on separate queues, each consumed by
its own function (:mod:`chalicelib.sync.lanes`): the handler says which lane it works in.

The jobs queue's batch size is 1: a step runs for several seconds and a job's steps are
ordered by the FIFO group anyway. Before the step runs, the message's visibility is
shortened to a little more than a step can take, so a step whose function dies (killed,
timed out) is delivered again within seconds instead of after the queue's long visibility
timeout. A step that keeps failing makes the job ``failed`` after the retry budget, with
the error to read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from chalicelib.observability import logs, metrics
from chalicelib.queues import (
    QueueMessage,
    process_batch,
    queue_url_for,
    sqs_client,
    visibility_delayer,
)

if TYPE_CHECKING:
    from chalicelib.root import Root
    from chalicelib.sync.services import SyncDeps

log = logging.getLogger("twinsync.workers")

Records = Iterable[Mapping[str, Any]]
BatchResult = dict[str, list[dict[str, str]]]
Stage = Callable[..., None]

STEP_VISIBILITY_S = 30

# Which way a stage moves a change: to the other end (ingest, deliver) or from it (apply).
DIRECTIONS = {"ingest": "outgoing", "deliver": "outgoing", "apply": "incoming"}
# the lanes of chalicelib.sync.lanes, named here so that ``import app`` does not load it
LIVE, CATCH_UP = "live", "catch_up"


def root() -> Root:
    """The container's root, imported on a function's first invocation (``import app`` is
    every function's init, and ``script_runner`` never needs a root)."""
    from chalicelib.root import root as built

    return built()


def _run(node: Root, records: Records, handle: Stage, stage: str, lane: str) -> BatchResult:
    from chalicelib.sync.events import record_give_up

    deps: SyncDeps = node.sync
    names = node.settings.resources
    from chalicelib.sync import lanes

    with lanes.working(lane):  # what the stage sends on stays in its lane
        return process_batch(
            records,
            lambda message: handle(message, deps=deps),
            give_up=lambda message, exc: record_give_up(
                stage, message, exc, node_id=node.settings.node_id, fetch=deps.fetch
            ),
            delay=visibility_delayer(lanes.stage_urls(names), node.settings.region),
            stage=stage,
            direction=DIRECTIONS.get(stage),
        )


def _stage(name: str) -> Stage:
    if name == "ingest":
        from chalicelib.sync.ingest import handle_ingest

        return handle_ingest
    if name == "deliver":
        from chalicelib.sync.deliver import handle_deliver

        return handle_deliver
    from chalicelib.sync.apply import handle_apply

    return handle_apply


def _stage_batch(records: Records, stage: str, lane: str) -> BatchResult:
    from chalicelib.connections.store import reads_shared

    node = root()
    function = stage if lane == LIVE else f"{stage}_catchup"
    # each stage reads each connection once per batch, ingest the triggers too (issue 19)
    triggers: AbstractContextManager[None] = nullcontext()
    if stage == "ingest":
        from chalicelib.sync.trigger_match import triggers_shared

        triggers = triggers_shared()
    with logs.context(function=function), metrics.collecting(), reads_shared(), triggers:
        return _run(node, records, _stage(stage), stage, lane)


def ingest_batch(records: Records) -> BatchResult:
    return _stage_batch(records, "ingest", LIVE)


def deliver_batch(records: Records) -> BatchResult:
    return _stage_batch(records, "deliver", LIVE)


def apply_batch(records: Records) -> BatchResult:
    return _stage_batch(records, "apply", LIVE)


def ingest_catchup_batch(records: Records) -> BatchResult:
    """Catch-up work's ingest (a job's issues, the sweep's findings), beside the live one."""
    return _stage_batch(records, "ingest", CATCH_UP)


def deliver_catchup_batch(records: Records) -> BatchResult:
    return _stage_batch(records, "deliver", CATCH_UP)


def apply_catchup_batch(records: Records) -> BatchResult:
    return _stage_batch(records, "apply", CATCH_UP)


def jobs_batch(records: Records) -> BatchResult:
    node = root()
    with logs.context(function="jobs"), metrics.collecting():
        return _jobs(node, records)


def _jobs(node: Root, records: Records) -> BatchResult:
    from chalicelib.ops.job_runner import give_up, run_step

    url = node.settings.resources.jobs_queue_url
    region = node.settings.region

    def handle(message: QueueMessage) -> None:
        _hold(message, url, region)
        run_step(message, deps=node.sync)  # in the catch-up lane (chalicelib.sync.lanes)

    return process_batch(
        records, handle, give_up=give_up, delay=visibility_delayer([url], region), stage="jobs"
    )


def _hold(message: QueueMessage, url: str, region: str) -> None:
    if not message.receipt_handle or queue_url_for(message, [url]) is None:
        return
    try:
        sqs_client(region).change_message_visibility(
            QueueUrl=url, ReceiptHandle=message.receipt_handle, VisibilityTimeout=STEP_VISIBILITY_S
        )
    except Exception:  # the queue's own timeout still brings it back, later
        log.warning("could not shorten the visibility of step %s", message.message_id)


def poll_peers(remaining_ms: Callable[[], int]) -> dict[str, Any]:
    from chalicelib.ops.poll import poll_all_peers

    node = root()
    with logs.context(function="poll_peers"), metrics.collecting():
        return poll_all_peers(remaining_ms=remaining_ms, deps=node.sync)


def reconcile() -> dict[str, Any]:
    from chalicelib.sync import lanes
    from chalicelib.sync.reconcile import reconcile_all

    node = root()
    # what the sweep finds is catch-up work (a node beside a tracker with history, a missed
    # webhook): it waits in the catch-up queues, never in front of a live change
    with logs.context(function="reconcile"), metrics.collecting(), lanes.working(lanes.CATCH_UP):
        result = reconcile_all(deps=node.sync)
        _gauges()
        return result


def _gauges() -> None:
    """The node's levels as metrics, once a minute (with the reconcile schedule)."""
    from chalicelib.ops.queue_view import gauges

    try:
        levels = gauges()
    except Exception:  # a metric is never worth a failed schedule
        log.warning("could not read the node's gauges", exc_info=True)
        return
    metrics.add(metrics.OPEN_ERROR_RECORDS, levels["open_errors"] or 0.0)
    if levels["private_peer_lag_s"] is not None:
        metrics.add(metrics.PRIVATE_PEER_LAG, levels["private_peer_lag_s"])
