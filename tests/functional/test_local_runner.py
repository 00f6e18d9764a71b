"""The local runner drives queue handlers and schedules the way Lambda does."""

from __future__ import annotations

import json
import threading
import time

import boto3
import pytest
from chalice import Chalice
from moto import mock_aws

from chalicelib.queues import BatchPolicy, process_batch, visibility_delayer
from devstack.runner import LocalRunner, rate_seconds

REGION = "us-east-1"


@pytest.fixture
def sqs():
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


def make_queues(sqs, max_receive: int = 2, visibility: int = 30) -> tuple[str, str]:
    dlq = sqs.create_queue(QueueName="work-dlq.fifo", Attributes={"FifoQueue": "true"})
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq["QueueUrl"], AttributeNames=["QueueArn"])
    queue = sqs.create_queue(
        QueueName="work.fifo",
        Attributes={
            "FifoQueue": "true",
            "VisibilityTimeout": str(visibility),
            "RedrivePolicy": json.dumps(
                {
                    "deadLetterTargetArn": dlq_arn["Attributes"]["QueueArn"],
                    "maxReceiveCount": max_receive,
                }
            ),
        },
    )
    return queue["QueueUrl"], dlq["QueueUrl"]


def build_app(queue_url: str, handled: list[str], gave_up: list[str]) -> Chalice:
    app = Chalice(app_name="runner-test")

    def handle(message):
        if message.body["n"] == "bad":
            raise RuntimeError("boom")
        handled.append(message.body["n"])

    @app.on_sqs_message(queue="work.fifo", batch_size=10)
    def work(event):
        return process_batch(
            event.to_dict()["Records"],
            handle,
            give_up=lambda m, exc: gave_up.append(m.body["n"]),
            delay=visibility_delayer([queue_url], REGION),
            policy=BatchPolicy(max_attempts=3, backoff_base=0, backoff_cap=0, backoff_floor=0),
        )

    fired = threading.Event()

    @app.schedule("rate(5 minutes)")
    def tick(event):
        fired.set()

    app.fired = fired  # type: ignore[attr-defined]
    return app


def send(sqs, url: str, n: str, group: str) -> None:
    sqs.send_message(
        QueueUrl=url,
        MessageBody=json.dumps({"n": n}),
        MessageGroupId=group,
        MessageDeduplicationId=f"{group}-{n}",
    )


def test_rate_expressions():
    assert rate_seconds("rate(1 minute)") == 60
    assert rate_seconds("rate(5 minutes)") == 300
    with pytest.raises(ValueError):
        rate_seconds("cron(0 * * * ? *)")


def test_successes_are_deleted_and_a_failing_group_blocks_only_itself(sqs):
    url, _ = make_queues(sqs, max_receive=10)
    handled: list[str] = []
    app = build_app(url, handled, [])
    runner = LocalRunner(app, queue_urls={"work.fifo": url}, sqs=sqs, wait_seconds=0)
    send(sqs, url, "a1", "a")
    send(sqs, url, "bad", "b")
    send(sqs, url, "b2", "b")
    send(sqs, url, "c1", "c")
    source = runner.sqs_sources()[0]
    runner.drain_once(source, url)
    # group b failed at its first message, so b2 must wait behind it (FIFO per twin)
    assert sorted(handled) == ["a1", "c1"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (
        int(attrs["ApproximateNumberOfMessages"])
        + int(attrs["ApproximateNumberOfMessagesNotVisible"])
        == 2
    )


def test_after_the_retry_budget_the_failure_is_given_up_not_lost(sqs):
    url, _ = make_queues(sqs, max_receive=10)
    handled: list[str] = []
    gave_up: list[str] = []
    app = build_app(url, handled, gave_up)
    runner = LocalRunner(app, queue_urls={"work.fifo": url}, sqs=sqs, wait_seconds=0)
    send(sqs, url, "bad", "b")
    send(sqs, url, "b2", "b")
    source = runner.sqs_sources()[0]
    for _ in range(20):
        runner.drain_once(source, url)
        if handled:
            break
    assert gave_up == ["bad"]
    assert handled == ["b2"]


def test_a_crashing_handler_reaches_the_dead_letter_queue(sqs):
    url, dlq = make_queues(sqs, max_receive=1, visibility=0)
    app = Chalice(app_name="crash")

    @app.on_sqs_message(queue="work.fifo")
    def work(event):
        raise RuntimeError("crash")

    runner = LocalRunner(app, queue_urls={"work.fifo": url}, sqs=sqs, wait_seconds=0)
    send(sqs, url, "x", "g")
    source = runner.sqs_sources()[0]
    runner.drain_once(source, url)  # the handler crashes: nothing is deleted
    time.sleep(0.01)  # visibility timeout 0: visible again from the next millisecond
    runner.drain_once(source, url)  # this receive finds it past maxReceiveCount
    msgs = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=0)
    assert [json.loads(m["Body"])["n"] for m in msgs.get("Messages", [])] == ["x"]


def test_schedules_fire_with_a_faster_local_interval(sqs):
    url, _ = make_queues(sqs)
    app = build_app(url, [], [])
    runner = LocalRunner(
        app, queue_urls={"work.fifo": url}, sqs=sqs, schedule_overrides={"tick": 0.05}
    )
    runner.start()
    try:
        assert app.fired.wait(5)
    finally:
        runner.stop()


def test_a_schedule_fired_now_runs_once_and_counts_as_finished(sqs):
    url, _ = make_queues(sqs)
    app = build_app(url, [], [])
    runner = LocalRunner(app, queue_urls={"work.fifo": url}, sqs=sqs)  # timer: 5 minutes
    runner.fire_now("tick")
    assert app.fired.wait(5)
    deadline = time.monotonic() + 5
    while runner.stats.as_dict()["finished"].get("tick") != 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert runner.stats.as_dict()["finished"] == {"tick": 1}
    assert runner.stats.as_dict()["invocations"] == {"tick": 1}
