"""The jobs queue's handler (what ``app.py`` calls), with its batch semantics.

Batch size is 1: a step runs for several seconds and a job's steps are ordered by the FIFO
group anyway. Before the step runs, the message's visibility is shortened to a little more
than a step can take, so a step whose function dies (killed, timed out) is delivered again
within seconds instead of after the queue's long visibility timeout. A step that keeps
failing makes the job ``failed`` after the retry budget, with the error to read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from chalicelib.queues import (
    QueueMessage,
    process_batch,
    queue_url_for,
    sqs_client,
    visibility_delayer,
)
from chalicelib.runtime import ready

log = logging.getLogger("twinsync.ops.workers")

STEP_VISIBILITY_S = 30


def _hold(message: QueueMessage, url: str, region: str) -> None:
    if not message.receipt_handle or queue_url_for(message, [url]) is None:
        return
    try:
        sqs_client(region).change_message_visibility(
            QueueUrl=url, ReceiptHandle=message.receipt_handle, VisibilityTimeout=STEP_VISIBILITY_S
        )
    except Exception:  # the queue's own timeout still brings it back, later
        log.warning("could not shorten the visibility of step %s", message.message_id)


def jobs_batch(records: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, str]]]:
    from chalicelib.ops.jobs import give_up, run_step

    settings = ready()
    url = settings.resources.jobs_queue_url

    def handle(message: QueueMessage) -> None:
        _hold(message, url, settings.region)
        run_step(message)

    return process_batch(
        records, handle, give_up=give_up, delay=visibility_delayer([url], settings.region)
    )
