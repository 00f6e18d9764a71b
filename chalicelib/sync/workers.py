"""Entry points of the queue-triggered and scheduled functions (what ``app.py`` calls).

Each queue handler states its batch semantics through :func:`chalicelib.queues.process_batch`:
ordered per message group, partial batch failures, backoff through visibility, and after
the retry budget an error record instead of a silent loss.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from chalicelib.queues import QueueMessage, process_batch, visibility_delayer
from chalicelib.runtime import ready

Records = Iterable[Mapping[str, Any]]
BatchResult = dict[str, list[dict[str, str]]]


def _run(records: Records, handle: Callable[[QueueMessage], None], stage: str) -> BatchResult:
    settings = ready()
    from chalicelib.sync.events import record_give_up

    names = settings.resources
    return process_batch(
        records,
        handle,
        give_up=lambda message, exc: record_give_up(stage, message, exc),
        delay=visibility_delayer(
            [names.ingest_queue_url, names.deliver_queue_url, names.apply_queue_url],
            settings.region,
        ),
    )


def ingest_batch(records: Records) -> BatchResult:
    from chalicelib.sync.ingest import handle_ingest

    return _run(records, handle_ingest, "ingest")


def deliver_batch(records: Records) -> BatchResult:
    from chalicelib.sync.deliver import handle_deliver

    return _run(records, handle_deliver, "deliver")


def apply_batch(records: Records) -> BatchResult:
    from chalicelib.sync.apply import handle_apply

    return _run(records, handle_apply, "apply")


def poll_peers(remaining_ms: Callable[[], int]) -> dict[str, Any]:
    from chalicelib.sync.poll import poll_all_peers

    ready()
    return poll_all_peers(remaining_ms=remaining_ms)


def reconcile() -> dict[str, Any]:
    from chalicelib.sync.reconcile import reconcile_all

    ready()
    return reconcile_all()
