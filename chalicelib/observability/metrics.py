"""Twinsync's CloudWatch metrics: their names, and their emission in embedded metric format.

The names below are a contract with the deployed alarms and dashboard (``infra/``): rename
one only together with them. Every metric is in namespace ``Twinsync`` with one dimension,
``Node`` (the node id, one deployment per tenant), so an alarm is per node.

=========================  ============  ===================================================
name                       unit          what, when
=========================  ============  ===================================================
``ChangesSynced``          Count         a replica that changed this node's tracker (apply,
                                         outcome ``applied``, something written)
``SyncLatency``            Milliseconds  tracker edit → twin updated: the source issue's
                                         ``updated`` time to the end of its apply here
``TrackerCalls``           Count         requests to this node's tracker
``TrackerThrottled``       Count         of those, the tracker's 429 answers
``OpenErrorRecords``       Count         error records still open (a gauge, every
                                         ``reconcile`` run, each minute)
``OldestQueueMessageAge``  Seconds       age of the oldest record in a batch a queue handler
                                         got (ingest, deliver, apply, jobs)
``PrivatePeerLag``         Seconds       on a public node, how long the oldest change waits
                                         for its private peer to pull it (``poll`` view's
                                         ``behind_age_s``), every ``reconcile`` run
``BulkJobItems``           Count         issues a bulk job step finished (the rate is its
                                         ``Sum`` per period)
=========================  ============  ===================================================

Metrics are buffered for a unit of work (:func:`collecting`: a request, a queue handler's
batch, a schedule) and written when it ends as one EMF JSON line (Powertools' EMF
provider serialises it) on stdout, where CloudWatch Logs turns it into metrics; outside a
unit of work a metric is written at once. Counts are summed per unit of work; other units
keep every value (at most 99 per line; EMF allows 100).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import IO, Any

NAMESPACE = "Twinsync"
DIMENSION_NODE = "Node"

CHANGES_SYNCED = "ChangesSynced"
SYNC_LATENCY = "SyncLatency"
TRACKER_CALLS = "TrackerCalls"
TRACKER_THROTTLED = "TrackerThrottled"
OPEN_ERROR_RECORDS = "OpenErrorRecords"
OLDEST_QUEUE_MESSAGE_AGE = "OldestQueueMessageAge"
PRIVATE_PEER_LAG = "PrivatePeerLag"
BULK_JOB_ITEMS = "BulkJobItems"

COUNT = "Count"
MILLISECONDS = "Milliseconds"
SECONDS = "Seconds"

# Every metric with its unit: the whole contract in one table (tests and docs read it).
UNITS = {
    CHANGES_SYNCED: COUNT,
    SYNC_LATENCY: MILLISECONDS,
    TRACKER_CALLS: COUNT,
    TRACKER_THROTTLED: COUNT,
    OPEN_ERROR_RECORDS: COUNT,
    OLDEST_QUEUE_MESSAGE_AGE: SECONDS,
    PRIVATE_PEER_LAG: SECONDS,
    BULK_JOB_ITEMS: COUNT,
}

# Gauges are a level, not a number of events: their values are kept, never summed.
GAUGES = frozenset({OPEN_ERROR_RECORDS})

MAX_VALUES = 99  # per metric in one EMF document (at 100 Powertools prints one itself)

Buffer = dict[str, list[float]]
_buffer: ContextVar[Buffer | None] = ContextVar("twinsync_metrics", default=None)
# ``node`` stays None outside a node (a benchmark driving trackers, a CLI): no EMF then
_state: dict[str, Any] = {"node": None, "stream": None}


def configure(node_id: str, *, stream: IO[str] | None = None) -> None:
    """The node these metrics are about; ``stream`` (default: stdout) is where EMF goes."""
    _state["node"] = node_id
    if stream is not None:
        _state["stream"] = stream


def add(name: str, value: float = 1) -> None:
    """Count or measure ``name`` (one of :data:`UNITS`) in the current unit of work."""
    if name not in UNITS:
        raise ValueError(f"unknown metric {name!r}: add it to chalicelib/observability/metrics")
    buffer = _buffer.get()
    if buffer is None:
        _write({name: [float(value)]})
        return
    values = buffer.setdefault(name, [])
    if UNITS[name] == COUNT and name not in GAUGES and values:
        values[0] += value
    else:
        values.append(float(value))


@contextmanager
def collecting() -> Iterator[Buffer]:
    """Buffer the metrics of the block (a unit of work) and write them when it ends, even
    when it fails. Nested blocks belong to the outer one."""
    if _buffer.get() is not None:
        yield _buffer.get() or {}
        return
    buffer: Buffer = {}
    token = _buffer.set(buffer)
    try:
        yield buffer
    finally:
        _buffer.reset(token)
        if buffer:
            _write(buffer)


def _write(buffer: Buffer) -> None:
    """One EMF document per 100 values of any metric, one JSON line each."""
    if _state["node"] is None:
        return  # not a node: nobody reads these lines
    try:
        for document in documents(buffer, node=_state["node"]):
            stream = _state["stream"] or sys.stdout
            stream.write(json.dumps(document, separators=(",", ":")) + "\n")
            stream.flush()
    except Exception:  # a metric is never worth a failed sync
        import logging

        logging.getLogger("twinsync.metrics").warning("metrics not written", exc_info=True)


def documents(buffer: Buffer, *, node: str) -> list[dict[str, Any]]:
    """``buffer`` as CloudWatch EMF documents (Powertools' EMF provider does the format)."""
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
        AmazonCloudWatchEMFProvider,
    )

    out = []
    chunks = max([1, *(-(-len(v) // MAX_VALUES) for v in buffer.values())])
    for i in range(chunks):
        provider = AmazonCloudWatchEMFProvider(namespace=NAMESPACE)
        provider.dimension_set = {DIMENSION_NODE: node}
        for name, values in buffer.items():
            for value in values[i * MAX_VALUES : (i + 1) * MAX_VALUES]:
                provider.add_metric(name=name, unit=UNITS[name], value=value)
        if provider.metric_set:
            out.append(dict(provider.serialize_metric_set()))
    return out
