"""One node in moto with a local connection (project OPS ↔ project SUP) and a queue pump.

The pump drives the node's real queues (SQS in moto) through the app's own handlers, the
way the local runner does, until nothing is left. Bulk-job steps run with a fake clock
whose ``sleep`` lets the other queues move: a step sees its items complete within itself,
as it would with functions running in parallel. The tracker is the in-memory fake (a Jira
Server site; its search understands the JQL subset operations use).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from tests.conftest import admin_headers
from tests.factories import project
from tests.factories.memory_tracker import MemoryTracker

A_URL = "https://a.twinsync.test"
ALICE_ID = "acc-alice"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@dataclass
class Pump:
    """Moves every message of the node's queues through the app's handlers."""

    app: Any
    resources: Any
    clock: Clock
    sqs: Any = field(default_factory=lambda: boto3.client("sqs", region_name="us-east-1"))
    step_errors: list[BaseException] = field(default_factory=list)
    step_seconds: float = 5.0
    steps: int = 0

    def __post_init__(self) -> None:
        from devstack.node import queue_bindings
        from devstack.runner import LocalRunner

        self.runner = LocalRunner(
            self.app, queue_urls=queue_bindings(self.resources), sqs=self.sqs, wait_seconds=0
        )
        self.sources = [s for s in self.runner.sqs_sources() if s.name != "jobs"]
        self.urls = queue_bindings(self.resources)

    def drain_sync(self, rounds: int = 100) -> int:
        """Ingest, deliver and apply until all three are empty; how many messages moved."""
        moved = 0
        for _ in range(rounds):
            batch = sum(
                self.runner.drain_once(source, self.urls[source.queue]) for source in self.sources
            )
            moved += batch
            if not batch:
                break
        return moved

    def sleep(self, seconds: float) -> None:
        self.drain_sync(rounds=3)
        self.clock.now += seconds

    def run_job_steps(self, limit: int = 200) -> int:
        """Run job steps (and let the rest move in their sleeps) until no step is queued."""
        from chalicelib.ops.job_runner import run_step
        from chalicelib.queues import parse_records
        from chalicelib.root import root
        from devstack.runner import sqs_record

        url = self.resources.jobs_queue_url
        ran = 0
        for _ in range(limit):
            got = self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=0, AttributeNames=["All"]
            ).get("Messages", [])
            if not got:
                self.drain_sync()
                got = self.sqs.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=0, AttributeNames=["All"]
                ).get("Messages", [])
                if not got:
                    break
            (message,) = parse_records(
                [sqs_record(got[0], "arn:aws:sqs:us-east-1:1:jobs.fifo", "")]
            )
            ran += 1
            self.steps += 1
            try:
                run_step(
                    message,
                    deps=root().sync,
                    clock=self.clock,
                    sleep=self.sleep,
                    step_seconds=self.step_seconds,
                )
            except Exception as exc:  # the queue would deliver it again: do so now
                self.step_errors.append(exc)
                self.sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"], VisibilityTimeout=0
                )
                continue
            self.sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
        return ran

    def drain(self) -> None:
        self.drain_sync()
        self.run_job_steps()
        self.drain_sync()


@dataclass
class Ops:
    """The harness a test gets: the admin API, the tracker, the pump, the connection."""

    client: Any
    tracker: MemoryTracker
    pump: Pump
    connection_id: str = ""  # the OPS end: its issues are in OPS, its twins come to OPS
    other_id: str = ""  # the SUP end

    def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        response = self.client.http.request(
            method,
            path,
            headers=admin_headers(),
            body=b"" if body is None else json.dumps(body).encode(),
        )
        text = response.body.decode() if isinstance(response.body, bytes) else response.body
        try:
            data = json.loads(text) if text else None
        except ValueError:
            data = text
        return response.status_code, data

    def conn(self, suffix: str = "") -> str:
        return f"/api/v1/connections/{self.connection_id}{suffix}"

    def webhook(self, key: str, kind: str = "issue_updated", author: str = ALICE_ID) -> None:
        """What the tracker's webhook would queue after a person changed ``key``."""
        from chalicelib.root import root
        from chalicelib.sync.messages import IngestMessage, enqueue_ingest

        message = IngestMessage(key, source="webhook", kind=kind, author_id=author)
        enqueue_ingest(message, deps=root().sync, dedup=f"hook#{uuid.uuid4().hex}")

    def twin(self, key: str, connection_id: str | None = None) -> Any:
        from chalicelib.sync.store import get_twin

        return get_twin(connection_id or self.connection_id, key)

    def twin_of(self, key: str) -> Any:
        """The SUP end's twin whose remote is ``key`` (an OPS issue)."""
        from chalicelib.sync.store import twin_by_remote

        return twin_by_remote(self.other_id, key)

    def history(self, key: str, connection_id: str | None = None) -> list[dict[str, Any]]:
        from chalicelib.sync.events import history

        return history(connection_id or self.connection_id, key)

    def sync_pair(self, summary: str = "Printer on fire") -> tuple[str, str]:
        """An OPS issue synced to a new SUP twin; returns both keys."""
        issue = self.tracker.add_issue("OPS", summary)
        status, body = self.api("POST", self.conn("/sync"), {"issue_key": issue.key})
        assert status == 202, body
        self.pump.drain()
        other = self.twin_of(issue.key)
        assert other is not None and self.twin(issue.key).status == "synced"
        return issue.key, other.local_key


@pytest.fixture
def ops(node: dict[str, str]) -> Iterator[Ops]:
    from chalice.test import Client

    from app import app
    from chalicelib.root import Providers, root, use_providers
    from chalicelib.sync import trigger_match

    tracker = MemoryTracker(projects=[project("OPS"), project("SUP")], kind="jira_server")
    trigger_match._matches.clear()
    with use_providers(Providers(tracker=lambda settings: tracker)), Client(app) as client:
        harness = Ops(client, tracker, Pump(app, root().settings.resources, Clock()))
        status, body = harness.api(
            "POST",
            "/api/v1/connections",
            {
                "destination_url": A_URL,
                "mode": "basic",
                "local_short_name": "Ops",
                "remote_short_name": "Support",
                "name": f"ops-sup-{uuid.uuid4().hex[:6]}",
                "incoming_project": "OPS",
                "destination_incoming_project": "SUP",
            },
        )
        assert status == 201, body
        harness.connection_id = body["connection"]["id"]
        from chalicelib.sync.links import get_connection

        harness.other_id = str(get_connection(harness.connection_id).local_peer_id)
        yield harness

    trigger_match._matches.clear()
