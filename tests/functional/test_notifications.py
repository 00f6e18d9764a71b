"""Outgoing notification webhooks: registered through the admin API (validated at the edge,
through the SSRF guard), told when an issue goes into error or a connection is paused.

The receiver is a real HTTP server on loopback; the node reaches it through its guarded
fetcher because the test stage allows private URLs (``TWINSYNC_ALLOW_PRIVATE_URLS``, as
every functional test's node does); with that allowance off, the same URL is refused.
Tests wait for the receiver to get a request, never for a fixed time.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import msgspec
import pytest

from chalicelib import workers
from chalicelib.root import Providers, root, use_providers
from chalicelib.store.models import ConnectionModel, TwinModel
from chalicelib.sync.deliver import pause
from chalicelib.trackers.base import Unavailable
from tests.conftest import admin_headers
from tests.factories.connections import saved_connection
from tests.factories.memory_tracker import MemoryTracker
from tests.factories.sqs import sqs_record

HOOKS = "/api/v1/notifications/webhooks"
WAIT_S = 10


class Receiver:
    """A loopback HTTP server that queues every JSON body POSTed to it."""

    def __init__(self, status: int = 200) -> None:
        self.bodies: queue.Queue[dict[str, Any]] = queue.Queue()
        received, answer = self.bodies, status

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                received.put(json.loads(self.rfile.read(length)))
                self.send_response(answer)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def next(self) -> dict[str, Any]:
        return self.bodies.get(timeout=WAIT_S)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


def _register(client, body: Any) -> Any:
    return client.http.post(HOOKS, headers=admin_headers(), body=json.dumps(body))


# --- the edge ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({}, "missing_field", "url"),
        ({"url": 42}, "invalid_field", "url"),
        ({"url": "ftp://hooks.example/x"}, "notification_url_not_allowed", "url"),
        ({"url": "http://169.254.169.254/latest"}, "notification_url_not_allowed", "url"),
        ({"url": "https://hooks.example/x", "events": []}, "invalid_field", "events"),
        (
            {"url": "https://hooks.example/x", "events": ["everything"]},
            "invalid_field",
            "events[0]",
        ),
        ({"url": "http://127.0.0.1:9/x", "secret": "s"}, "unknown_field", "secret"),
    ],
)
def test_bad_registrations_are_refused_with_a_clear_400(client, body, code, field):
    response = _register(client, body)
    assert response.status_code == 400, response.body
    error = response.json_body["error"]
    assert (error["code"], error.get("field")) == (code, field)
    assert error["message"]


def test_loopback_is_refused_without_the_private_url_allowance(node, receiver):
    # (the Chalice test client lays the dev stage's variables over each request, so the
    # production policy is given to the operation directly)
    from chalicelib.errors import BadRequest
    from chalicelib.ops.notifications import register

    production = msgspec.structs.replace(root().settings, allow_private_urls=False)
    with pytest.raises(BadRequest) as refused:
        register({"url": receiver.url}, settings=production)
    assert refused.value.code == "notification_url_not_allowed"
    assert receiver.bodies.empty()


def test_register_list_test_and_remove(client, receiver):
    created = _register(client, {"url": receiver.url, "events": ["connection_paused"]})
    assert created.status_code == 201, created.body
    hook = created.json_body
    assert hook["url"] == receiver.url and hook["events"] == ["connection_paused"]
    assert _register(client, {"url": receiver.url}).status_code == 409  # already there

    listed = client.http.get(HOOKS, headers=admin_headers()).json_body
    assert [h["id"] for h in listed["webhooks"]] == [hook["id"]]
    assert set(listed["events"]) == {"issue_error", "connection_paused"}

    tested = client.http.post(f"{HOOKS}/{hook['id']}/test", headers=admin_headers())
    assert tested.json_body == {"delivered": True, "status": 200, "error": None}
    message = receiver.next()
    assert message["twinsync"]["event"] == "test" and "node-a" in message["text"]

    assert client.http.delete(f"{HOOKS}/{hook['id']}", headers=admin_headers()).status_code == 204
    assert client.http.get(HOOKS, headers=admin_headers()).json_body["webhooks"] == []
    missing = client.http.delete(f"{HOOKS}/{hook['id']}", headers=admin_headers())
    assert missing.status_code == 404
    assert missing.json_body["error"]["code"] == "webhook_not_found"


def test_a_receiver_that_refuses_is_reported_by_the_test_call(client):
    with Receiver(status=500) as failing:
        hook = _register(client, {"url": failing.url}).json_body
        answer = client.http.post(f"{HOOKS}/{hook['id']}/test", headers=admin_headers())
        assert answer.json_body["delivered"] is False and answer.json_body["status"] == 500


# --- the events -------------------------------------------------------------------------------


@pytest.fixture
def failing_tracker(node):
    tracker = MemoryTracker.with_projects("OPS")
    tracker.fail_with = Unavailable("Jira is down", status=503)
    saved_connection("conn-n", name="notified")
    TwinModel(connection_id="conn-n", local_key="OPS-1", remote_key="X-1").save()
    with use_providers(Providers(tracker=lambda settings: tracker)):
        yield tracker


def _give_up_on(key: str) -> None:
    body = {"issue_key": key, "source": "webhook", "connection_id": "conn-n", "local_key": key}
    record = sqs_record(body, group=f"issue#{key}", receive_count=8)
    assert workers.ingest_batch([record]) == {"batchItemFailures": []}  # given up: recorded


def test_an_issue_in_error_and_a_paused_connection_are_notified_once(
    client, receiver, failing_tracker
):
    assert _register(client, {"url": receiver.url}).status_code == 201

    _give_up_on("OPS-1")
    message = receiver.next()
    details = message["twinsync"]
    assert details["event"] == "issue_error"
    assert (details["connection_id"], details["issue_key"]) == ("conn-n", "OPS-1")
    assert "OPS-1" in message["text"] and details["error_id"]

    _give_up_on("OPS-2")  # same connection, within the quiet period: no second message
    connection = ConnectionModel.get("conn-n")
    pause(connection, "The other end does not answer.", deps=root().sync)
    paused = receiver.next()  # the next message is the pause, not OPS-2's error
    assert paused["twinsync"]["event"] == "connection_paused"
    assert paused["twinsync"]["connection_id"] == "conn-n"
    assert "does not answer" in paused["text"]
    assert receiver.bodies.empty()


def test_a_receiver_that_is_down_never_fails_the_give_up(client, failing_tracker):
    with Receiver() as gone:
        url = gone.url
    assert _register(client, {"url": url}).status_code == 201
    _give_up_on("OPS-1")  # the error is recorded all the same
    errors = client.http.get("/api/v1/errors", headers=admin_headers()).json_body
    assert [e["issue_key"] for e in errors] == ["OPS-1"]
