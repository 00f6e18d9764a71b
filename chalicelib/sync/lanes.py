"""Two lanes through the same stages: live changes, and catch-up work beside them.

A person's change (a webhook, "sync this issue") is **live**; the work a bulk job makes,
the reconcile sweep's findings (a node starting beside a tracker with history, a missed
webhook) and what either produces on the other end (the first apply, the link-back) is
**catch-up**. SQS FIFO queues have no priorities, so catch-up work has queues of its own
(``ingest``, ``deliver`` and ``apply``, each with a ``-catchup`` twin) consumed by their
own functions: a live change never waits in a queue behind a job's issues (ADR 0003).

How work finds its lane:

- the queue handlers and the schedules say which lane they work in (:func:`working`, in
  :mod:`chalicelib.workers`); everything a catch-up handler sends goes to the catch-up
  queue of the stage it sends to (:func:`route`, in ``SyncDeps.enqueue``);
- a replica made in the catch-up lane says so on the wire (``lane: catch_up``,
  :func:`mark`), so the receiving node applies it from its catch-up apply queue
  (:func:`of`). No marker, or a peer that predates it, is live.

Order per twin holds across the lanes without the queues: a replica's version grows with
every change of its issue and apply never applies a version older than the one it
applied (ADR 0004), so a catch-up replica that arrives after a newer live one changes
nothing; both lanes hold the twin while they work on it (``holding``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from chalicelib.config import ResourceNames
from chalicelib.trackers.changes import utc_time

LIVE = "live"
CATCH_UP = "catch_up"
LANES = (LIVE, CATCH_UP)

# (live queue, its catch-up twin) as ResourceNames attributes
QUEUE_PAIRS = (
    ("ingest_queue_url", "ingest_catchup_queue_url"),
    ("deliver_queue_url", "deliver_catchup_queue_url"),
    ("apply_queue_url", "apply_catchup_queue_url"),
)

_CURRENT: ContextVar[str] = ContextVar("twinsync_lane", default=LIVE)


def current() -> str:
    """The lane of the work this handler is doing (live unless a block says otherwise)."""
    return _CURRENT.get()


@contextmanager
def working(lane: str) -> Iterator[str]:
    """Do the block's work in ``lane`` (an unknown lane is live)."""
    token = _CURRENT.set(lane if lane in LANES else LIVE)
    try:
        yield _CURRENT.get()
    finally:
        _CURRENT.reset(token)


def route(queue_url: str, resources: ResourceNames, lane: str | None = None) -> str:
    """The queue a message meant for ``queue_url`` goes to in ``lane`` (default: the
    current one): a stage's catch-up queue for catch-up work, else ``queue_url`` itself."""
    if (lane or current()) != CATCH_UP:
        return queue_url
    for live, catch_up in QUEUE_PAIRS:
        if getattr(resources, live) == queue_url:
            return str(getattr(resources, catch_up))
    return queue_url


def stage_urls(resources: ResourceNames) -> list[str]:
    """The ingest, deliver and apply queues of both lanes."""
    return [str(getattr(resources, name)) for pair in QUEUE_PAIRS for name in pair]


def mark(wire: dict[str, Any]) -> dict[str, Any]:
    """An outgoing replica as it enters the outbox: catch-up work says so; live work
    carries no marker (exactly what a peer before lanes sends)."""
    if current() == CATCH_UP:
        wire["lane"] = CATCH_UP
    else:
        wire.pop("lane", None)
    return wire


def of(replica: Any) -> str:
    """The lane a received replica (or its wire object) asks for: catch-up only when it
    says so; a removal, an old peer's replica or anything else is live."""
    wire = replica if isinstance(replica, Mapping) else getattr(replica, "payload", None)
    if isinstance(wire, Mapping) and wire.get("lane") == CATCH_UP:
        return CATCH_UP
    return LIVE


def older_read(updated: str | None, seen_updated: str | None) -> bool:
    """Is a read of an issue (its ``updated``) older than the one its twin last sent?

    Two lanes may read the same issue at once (a job's ingest and a person's webhook);
    the older read must not be sent after the newer one, or it would look like an edit
    made on top of it (ADR 0004). Equal or unknown times are not older."""
    read, seen = utc_time(updated or ""), utc_time(seen_updated or "")
    return read is not None and seen is not None and read < seen
