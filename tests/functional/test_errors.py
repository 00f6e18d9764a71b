"""After its retry budget a failing change becomes an error record: listed, retried,
resolved. A failing issue blocks only itself; nothing is lost silently."""

from __future__ import annotations

import json

import boto3
import pytest

from chalicelib import workers
from chalicelib.queues import BatchPolicy
from chalicelib.root import Providers, use_providers
from chalicelib.store.models import TwinModel
from chalicelib.trackers.base import Unavailable
from tests.conftest import admin_headers
from tests.factories.connections import saved_connection
from tests.factories.memory_tracker import MemoryTracker
from tests.factories.sqs import sqs_record

MAX = BatchPolicy().max_attempts


@pytest.fixture
def failing(node):
    tracker = MemoryTracker.with_projects("OPS")
    saved_connection("conn-e", name="errors")
    TwinModel(connection_id="conn-e", local_key="OPS-1", remote_key="X-1").save()

    with use_providers(Providers(tracker=lambda settings: tracker)):
        yield tracker


def ingest_record(key: str, receive_count: int) -> dict:
    body = {"issue_key": key, "source": "webhook", "connection_id": "conn-e", "local_key": key}
    return sqs_record(body, group=f"issue#{key}", receive_count=receive_count)


def test_a_failing_issue_is_retried_then_recorded_and_blocks_only_itself(failing, client):
    failing.fail_with = Unavailable("Jira is down", status=503)
    first = ingest_record("OPS-1", 1)
    early = workers.ingest_batch([first])  # retried, not recorded
    assert early == {"batchItemFailures": [{"itemIdentifier": first["messageId"]}]}
    assert json.loads(client.http.get("/api/v1/errors", headers=admin_headers()).body) == []

    last = workers.ingest_batch([ingest_record("OPS-1", MAX)])
    assert last == {"batchItemFailures": []}  # given up: the record is the error, not the DLQ
    (error,) = json.loads(client.http.get("/api/v1/errors", headers=admin_headers()).body)
    assert error["connection_id"] == "conn-e" and error["issue_key"] == "OPS-1"
    assert error["stage"] == "ingest" and error["attempts"] == MAX
    assert "Jira is down" in error["message"] and error["tracker_message"] == "Jira is down"
    assert error["status"] == "open"
    assert TwinModel.get("conn-e", "OPS-1").status == "error"


def test_retry_puts_the_same_work_back_and_resolve_closes_it(failing, client, node):
    failing.fail_with = Unavailable("Jira is down", status=503)
    workers.ingest_batch([ingest_record("OPS-1", MAX)])
    workers.ingest_batch([ingest_record("OPS-2", MAX)])
    errors = json.loads(client.http.get("/api/v1/errors", headers=admin_headers()).body)
    by_key = {e["issue_key"]: e["id"] for e in errors}

    retried = client.http.post(f"/api/v1/errors/{by_key['OPS-1']}/retry", headers=admin_headers())
    assert retried.status_code == 200 and json.loads(retried.body)["status"] == "retried"
    sqs = boto3.client("sqs", region_name="us-east-1")
    got = sqs.receive_message(QueueUrl=node["TWINSYNC_QUEUE_INGEST_URL"], MaxNumberOfMessages=10)
    assert [json.loads(m["Body"])["issue_key"] for m in got["Messages"]] == ["OPS-1"]
    assert TwinModel.get("conn-e", "OPS-1").status == "queued"

    resolved = client.http.post(
        f"/api/v1/errors/{by_key['OPS-2']}/resolve", headers=admin_headers()
    )
    assert json.loads(resolved.body)["status"] == "resolved"
    assert json.loads(client.http.get("/api/v1/errors", headers=admin_headers()).body) == []
    again = client.http.post(f"/api/v1/errors/{by_key['OPS-2']}/retry", headers=admin_headers())
    assert again.status_code == 409 and json.loads(again.body)["error"]["code"] == "error_closed"


def test_unknown_error_ids_are_a_clear_404(client):
    response = client.http.post("/api/v1/errors/nope/retry", headers=admin_headers())
    assert response.status_code == 404
    assert json.loads(response.body)["error"]["code"] == "error_not_found"
