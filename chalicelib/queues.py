"""SQS plumbing: sending to the FIFO queues, and the batch semantics of every queue handler.

One place decides retry-or-drop for queue records (:func:`process_batch`):

- records are handled in order; when one fails, every later record of the same message
  group in the batch is failed too (FIFO order per twin must hold);
- a failure is retried through SQS itself: the record is reported in
  ``batchItemFailures`` and its visibility is set to a backoff delay (or the tracker's
  ``Retry-After``), so nothing sleeps inside a function;
- after ``max_attempts`` receives, ``give_up`` records the failure (an error record with
  retry/resolve) and the message is removed: a failing issue blocks only itself and
  nothing is lost silently. Messages that crash the handler before that still reach the
  queue's dead-letter queue through the redrive policy.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

import msgspec

from chalicelib.observability import logs, metrics

log = logging.getLogger("twinsync.queues")

MAX_VISIBILITY = 12 * 60 * 60


class RetryLater(Exception):
    """The work could not be done now (remote trouble); try again after ``delay`` seconds."""

    def __init__(self, message: str, *, delay: float | None = None) -> None:
        super().__init__(message)
        self.delay = delay


class PermanentFailure(Exception):
    """The work can never succeed as it is (e.g. a sync script fails): recorded at once."""


class QueueMessage(msgspec.Struct, frozen=True):
    """One SQS record, parsed at the edge."""

    message_id: str
    receipt_handle: str
    body: Mapping[str, Any]
    group_id: str | None
    receive_count: int
    queue_arn: str
    sent_at_ms: int | None = None

    @property
    def queue_name(self) -> str:
        return self.queue_arn.rsplit(":", 1)[-1]


def parse_records(records: Iterable[Mapping[str, Any]]) -> list[QueueMessage]:
    """Lambda SQS records → messages; a body that is not a JSON object becomes ``{}``."""
    messages = []
    for record in records:
        attributes = record.get("attributes", {})
        try:
            body = json.loads(record.get("body") or "{}")
        except ValueError:
            body = {}
        messages.append(
            QueueMessage(
                message_id=record["messageId"],
                receipt_handle=record.get("receiptHandle", ""),
                body=body if isinstance(body, dict) else {},
                group_id=attributes.get("MessageGroupId"),
                receive_count=int(attributes.get("ApproximateReceiveCount", "1")),
                queue_arn=record.get("eventSourceARN", ""),
                sent_at_ms=_int_or_none(attributes.get("SentTimestamp")),
            )
        )
    return messages


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def backoff_seconds(attempt: int, *, base: float = 2.0, cap: float = 900.0, floor: int = 1) -> int:
    """Exponential backoff with jitter, at least ``floor`` seconds."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    return max(floor, int(random.uniform(ceiling / 2, ceiling)))  # noqa: S311 - jitter


class BatchPolicy(msgspec.Struct, frozen=True):
    max_attempts: int = 8
    backoff_base: float = 2.0
    backoff_cap: float = 900.0
    backoff_floor: int = 1


DEFAULT_POLICY = BatchPolicy()

Handler = Callable[[QueueMessage], None]
GiveUp = Callable[[QueueMessage, Exception], None]
Delay = Callable[[QueueMessage, int], None]


def process_batch(
    records: Iterable[Mapping[str, Any]],
    handle: Handler,
    *,
    give_up: GiveUp,
    delay: Delay,
    policy: BatchPolicy = DEFAULT_POLICY,
    stage: str = "",
    direction: str | None = None,
) -> dict[str, list[dict[str, str]]]:
    """Run ``handle`` over a batch; return Lambda's partial batch response.

    Each record is a unit of work: its lines carry the message id and the ids its body
    names (connection, issue, job), and it ends with one ``sync.transaction`` line:
    ``stage``, ``direction`` (``outgoing``, ``incoming``), ``outcome`` (``done``,
    ``retry``, ``gave_up``, ``waiting``: behind its group's failed head), ``attempt`` and
    ``duration_ms``.
    """
    failures: list[dict[str, str]] = []
    failed_groups: dict[str, int] = {}
    messages = parse_records(records)
    sent = [m.sent_at_ms for m in messages if m.sent_at_ms is not None]
    if sent:
        age_s = time.time() - min(sent) / 1000
        metrics.add(metrics.OLDEST_QUEUE_MESSAGE_AGE, max(0.0, round(age_s, 3)))
    for message in messages:
        with logs.context(
            stage=stage or None, message_id=message.message_id, **logs.keys_of(message.body)
        ):
            started = time.perf_counter()
            outcome = _process_one(message, handle, give_up, delay, policy, failed_groups)
            log.info(
                "%s %s: %s",
                stage or "queue",
                message.message_id,
                outcome,
                extra={
                    "event": "sync.transaction",
                    "direction": direction,
                    "outcome": outcome,
                    "attempt": message.receive_count,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            if outcome in ("retry", "waiting"):
                failures.append({"itemIdentifier": message.message_id})
    return {"batchItemFailures": failures}


def _process_one(
    message: QueueMessage,
    handle: Handler,
    give_up: GiveUp,
    delay: Delay,
    policy: BatchPolicy,
    failed_groups: dict[str, int],
) -> str:
    """Handle one record; what became of it: ``done``, ``retry``, ``gave_up`` or ``waiting``."""
    if message.group_id is not None and message.group_id in failed_groups:
        # FIFO: the rest of the group waits behind its failed head, and comes back
        # with it (an invisible follower would keep the whole group locked).
        delay(message, failed_groups[message.group_id])
        return "waiting"
    try:
        handle(message)
    except Exception as exc:
        if message.receive_count >= policy.max_attempts or isinstance(exc, PermanentFailure):
            log.warning(
                "giving up on message %s after %d attempts: %s",
                message.message_id,
                message.receive_count,
                exc,
            )
            give_up(message, exc)
            return "gave_up"
        wait = exc.delay if isinstance(exc, RetryLater) and exc.delay else None
        if wait is None:
            wait = backoff_seconds(
                message.receive_count,
                base=policy.backoff_base,
                cap=policy.backoff_cap,
                floor=policy.backoff_floor,
            )
        if not isinstance(exc, RetryLater):
            log.exception("message %s failed, retry in %ss", message.message_id, wait)
        else:
            log.info("message %s: %s; retry in %ss", message.message_id, exc, wait)
        seconds = min(MAX_VISIBILITY, int(wait))
        delay(message, seconds)
        if message.group_id is not None:
            failed_groups[message.group_id] = seconds
        return "retry"
    return "done"


# --- sending and visibility (SQS) ------------------------------------------------------


@lru_cache(maxsize=1)
def sqs_client(region: str) -> Any:
    from chalicelib import aws_clients

    return aws_clients.client("sqs", region=region)


def send(
    queue_url: str,
    body: Mapping[str, Any],
    *,
    group_id: str,
    dedup_id: str,
    region: str,
) -> None:
    """Put one message on a FIFO queue (``dedup_id`` makes a resend within 5 min a no-op)."""
    sqs_client(region).send_message(
        QueueUrl=queue_url,
        MessageBody=json.dumps(body, separators=(",", ":")),
        MessageGroupId=group_id[:128],
        MessageDeduplicationId=dedup_id[:128],
    )


def queue_url_for(message: QueueMessage, urls: Iterable[str]) -> str | None:
    """The configured queue URL whose name matches the record's source ARN."""
    for url in urls:
        if url.rstrip("/").rsplit("/", 1)[-1] == message.queue_name:
            return url
    return None


def visibility_delayer(urls: Iterable[str], region: str) -> Delay:
    """A ``delay`` for :func:`process_batch` that sets the failed record's visibility."""
    url_list = list(urls)

    def delay(message: QueueMessage, seconds: int) -> None:
        url = queue_url_for(message, url_list)
        if url is None or not message.receipt_handle:
            return
        try:
            sqs_client(region).change_message_visibility(
                QueueUrl=url, ReceiptHandle=message.receipt_handle, VisibilityTimeout=seconds
            )
        except Exception:  # the record still returns after the queue's own timeout
            log.warning("could not set visibility of %s", message.message_id, exc_info=True)

    return delay


# --- how a queue is doing (the health report) -------------------------------------------

DEPTH_ATTRIBUTES = [
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "RedrivePolicy",
]


def queue_state(url: str, region: str) -> dict[str, Any]:
    """Depth of a queue and of its dead-letter queue; ``reachable: False`` with the error
    code when SQS refuses or does not answer (never raises)."""
    client = sqs_client(region)
    try:
        attrs = client.get_queue_attributes(QueueUrl=url, AttributeNames=DEPTH_ATTRIBUTES)[
            "Attributes"
        ]
    except Exception as exc:
        return {"reachable": False, "error": _aws_code(exc)}
    state: dict[str, Any] = {
        "reachable": True,
        "visible": int(attrs.get("ApproximateNumberOfMessages", 0)),
        "in_flight": int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
        "delayed": int(attrs.get("ApproximateNumberOfMessagesDelayed", 0)),
        "dead_letter": None,
    }
    redrive = json.loads(attrs["RedrivePolicy"]) if attrs.get("RedrivePolicy") else {}
    dlq_name = str(redrive.get("deadLetterTargetArn", "")).rsplit(":", 1)[-1]
    if dlq_name:
        try:
            dlq_url = client.get_queue_url(QueueName=dlq_name)["QueueUrl"]
            dlq = client.get_queue_attributes(
                QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            state["dead_letter"] = int(dlq.get("ApproximateNumberOfMessages", 0))
        except Exception as exc:
            state["dead_letter_error"] = _aws_code(exc)
    return state


def _aws_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", type(exc).__name__))
    return type(exc).__name__
