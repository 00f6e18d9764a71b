"""Runs a Chalice app's queue handlers and schedules locally, the way Lambda would.

``chalice local`` serves routes only. This runner long-polls each SQS queue that the app
subscribes to (in moto), builds Lambda-shaped records, calls the very handler Lambda
calls (``app.handler_map[name]``), deletes what succeeded (honouring
``batchItemFailures``) and leaves failed records to come back after their visibility
timeout and, past the redrive policy, to reach the dead-letter queue. It also fires every
``rate(...)`` schedule, optionally faster than deployed.

Live first: deployed, the catch-up lane's functions (``*_catchup``, the jobs queue, the
reconcile schedule; ADR 0003) run on CPUs of their own; here every handler shares one
process. So a catch-up handler does not start while a live one runs (waiting at most
:data:`LIVE_FIRST_MAX_WAIT_S`, so catch-up work never stops), which is what separate
functions give a live change in AWS.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chalice.app import Chalice, ScheduledEventConfig, SQSEventConfig
from chalice.local import LambdaContext

log = logging.getLogger("devstack.runner")

LIVE_FIRST_MAX_WAIT_S = 2.0
CATCH_UP_SUFFIX = "_catchup"
CATCH_UP_HANDLERS = frozenset({"jobs", "reconcile"})


def is_catch_up(name: str) -> bool:
    """Does handler ``name`` do catch-up work (it yields to live handlers here)?"""
    return name.endswith(CATCH_UP_SUFFIX) or name in CATCH_UP_HANDLERS


_RATE = re.compile(r"rate\((\d+)\s+(minute|minutes|hour|hours|day|days|second|seconds)\)")
_UNIT = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> float:
    """Seconds between firings of a ``rate(N unit)`` schedule expression."""
    match = _RATE.fullmatch(str(expression).strip())
    if not match:
        raise ValueError(f"only rate(...) schedules run locally, not {expression!r}")
    return int(match.group(1)) * _UNIT[match.group(2).rstrip("s")]


def sqs_record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """An SQS message as Lambda's event source mapping hands it to a function."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def scheduled_event(name: str, region: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:123456789012:rule/{name}"],
        "detail": {},
    }


@dataclass
class RunnerStats:
    invocations: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    finished: dict[str, int] = field(default_factory=dict)  # schedule runs that returned

    def count(
        self, name: str, failed: bool = False, records: int = 0, seconds: float = 0.0
    ) -> None:
        self.invocations[name] = self.invocations.get(name, 0) + 1
        self.records[name] = self.records.get(name, 0) + records
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds
        if failed:
            self.failures[name] = self.failures.get(name, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "invocations": dict(self.invocations),
            "failures": dict(self.failures),
            "records": dict(self.records),
            "seconds": {k: round(v, 4) for k, v in self.seconds.items()},
            "finished": dict(self.finished),
        }


class LocalRunner:
    """Drains queues into handlers and fires schedules, each in its own thread."""

    def __init__(
        self,
        app: Chalice,
        *,
        queue_urls: Mapping[str, str],
        sqs: Any,
        region: str = "us-east-1",
        function_timeout_s: int = 60,
        schedule_overrides: Mapping[str, float] | None = None,
        wait_seconds: int = 1,
    ) -> None:
        self.app = app
        self.queue_urls = dict(queue_urls)
        self.sqs = sqs
        self.region = region
        self.function_timeout_s = function_timeout_s
        self.schedule_overrides = dict(schedule_overrides or {})
        self.wait_seconds = wait_seconds
        self.stats = RunnerStats()
        self._live = threading.Condition()
        self._live_running = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _context(self, name: str) -> LambdaContext:
        return LambdaContext(
            function_name=name, memory_size=512, max_runtime_ms=self.function_timeout_s * 1000
        )

    def sqs_sources(self) -> list[SQSEventConfig]:
        return [s for s in self.app.event_sources if isinstance(s, SQSEventConfig)]

    def schedules(self) -> list[ScheduledEventConfig]:
        return [s for s in self.app.event_sources if isinstance(s, ScheduledEventConfig)]

    def start(self) -> None:
        for source in self.sqs_sources():
            url = self.queue_urls.get(source.queue or "")
            if url is None:
                raise ValueError(f"no local queue for {source.name} ({source.queue})")
            self._spawn(f"sqs-{source.name}", self._drain_forever, source, url)
        for schedule in self.schedules():
            self._spawn(f"schedule-{schedule.name}", self._fire_forever, schedule)

    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 2.0) -> None:
        """Stop taking work; wait at most ``timeout`` in all (a long poll may be mid-call:
        its thread is a daemon, and the message it holds returns after its visibility)."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    # --- queues ---------------------------------------------------------------------------

    @contextmanager
    def _lane(self, name: str) -> Iterator[None]:
        """Run a handler in its lane: live ones are counted, catch-up ones wait for them."""
        if is_catch_up(name):
            with self._live:
                self._live.wait_for(lambda: self._live_running == 0, LIVE_FIRST_MAX_WAIT_S)
            yield
            return
        with self._live:
            self._live_running += 1
        try:
            yield
        finally:
            with self._live:
                self._live_running -= 1
                self._live.notify_all()

    def _queue_arn(self, url: str) -> str:
        attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return attrs["Attributes"]["QueueArn"]

    def _drain_forever(self, source: SQSEventConfig, url: str) -> None:
        arn = self._queue_arn(url)
        while not self._stop.is_set():
            try:
                self.drain_once(source, url, arn)
            except Exception:
                log.exception("queue runner %s failed; continuing", source.name)
                self._stop.wait(1)

    def drain_once(self, source: SQSEventConfig, url: str, arn: str | None = None) -> int:
        """Receive one batch and hand it to the handler; returns how many were received."""
        arn = arn or self._queue_arn(url)
        response = self.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=max(1, min(10, source.batch_size)),
            WaitTimeSeconds=self.wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        event = {"Records": [sqs_record(m, arn, self.region) for m in messages]}
        handler = self.app.handler_map[source.name]
        started = time.perf_counter()
        try:
            with self._lane(source.name):
                result = handler(event, self._context(source.name))
        except Exception:
            log.exception(
                "handler %s raised; the batch returns after its visibility timeout", source.name
            )
            self.stats.count(
                source.name,
                failed=True,
                records=len(messages),
                seconds=time.perf_counter() - started,
            )
            return len(messages)
        elapsed = time.perf_counter() - started
        failures = result.get("batchItemFailures", []) if isinstance(result, dict) else []
        failed = {item["itemIdentifier"] for item in failures}
        self.stats.count(source.name, failed=bool(failed), records=len(messages), seconds=elapsed)
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
        return len(messages)

    # --- schedules ------------------------------------------------------------------------

    def interval(self, schedule: ScheduledEventConfig) -> float:
        if schedule.name in self.schedule_overrides:
            return self.schedule_overrides[schedule.name]
        return rate_seconds(str(schedule.schedule_expression))

    def fire(self, schedule: ScheduledEventConfig) -> Any:
        self.stats.count(schedule.name)
        handler = self.app.handler_map[schedule.name]
        with self._lane(schedule.name):
            return handler(
                scheduled_event(schedule.name, self.region), self._context(schedule.name)
            )

    def _fire_logged(self, schedule: ScheduledEventConfig) -> None:
        try:
            self.fire(schedule)
        except Exception:
            log.exception("schedule %s failed", schedule.name)
            self.stats.count(schedule.name, failed=True)
        finally:  # a run that ended, either way (what a benchmark waits for)
            finished = self.stats.finished
            finished[schedule.name] = finished.get(schedule.name, 0) + 1

    def fire_now(self, name: str) -> None:
        """Fire schedule ``name`` once now, in a thread of its own, besides its timer (a
        benchmark puts the sweep where it measures it: ``LocalStack.sweep_now``)."""
        schedule = next(s for s in self.schedules() if s.name == name)
        threading.Thread(target=self._fire_logged, args=(schedule,), daemon=True).start()

    def _fire_forever(self, schedule: ScheduledEventConfig) -> None:
        every = self.interval(schedule)
        next_at = time.monotonic() + every
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            self._fire_logged(schedule)
            next_at = max(next_at + every, time.monotonic())
