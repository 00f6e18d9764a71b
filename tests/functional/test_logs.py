"""The node's logs come out: JSON lines at the stage's level, with the unit of work's keys
(issue 15). Chalice sets the ``twinsync`` logger to ERROR without propagation; the
composition root takes it over, so every ``twinsync.*`` info line reaches stdout (CloudWatch
Logs in Lambda) as one JSON object."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from typing import Any

import pytest
from chalice import Blueprint, Chalice
from chalice.test import Client

from chalicelib.api.routing import json_route
from chalicelib.errors import TwinsyncError
from chalicelib.observability import logs
from chalicelib.queues import RetryLater, process_batch
from chalicelib.root import reset as root_reset
from chalicelib.root import root
from infra.package import ROOT
from tests.conftest import node_env
from tests.factories.sqs import sqs_record


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of ``text`` parsed; a line that is not one JSON object fails the test."""
    lines = [line for line in text.splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]
    assert all(isinstance(p, dict) for p in parsed), lines
    return parsed


def test_a_fresh_app_logs_info_as_json_at_the_configured_level() -> None:
    """In a fresh process, as Lambda runs it: ``import app`` (Chalice sets the logger up),
    then the first invocation builds the root, which applies ``TWINSYNC_LOG_LEVEL``."""
    script = (
        "import logging, app\n"
        "from chalicelib.root import root\n"
        "root()\n"
        "logging.getLogger('twinsync.ops.initiate').info('initiated %s', 'c-1')\n"
        "logging.getLogger('twinsync.ops.initiate').debug('not at INFO')\n"
    )
    env = {
        **node_env(),
        "TWINSYNC_LOG_LEVEL": "info",
        "PATH": "/usr/bin:/bin",
        "AWS_DEFAULT_REGION": "us-east-1",
        **{var: "x" for var in _resource_vars()},
    }
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    lines = json_lines(out.stdout)
    assert [line["message"] for line in lines] == ["initiated c-1"]
    line = lines[0]
    assert line["level"] == "INFO"
    assert line["logger"] == "twinsync.ops.initiate"
    assert line["service"] == "twinsync"
    assert line["node"] == "node-a"
    assert line["timestamp"].endswith("+00:00")


def _resource_vars() -> list[str]:
    from chalicelib.config import _RESOURCE_VARS

    return list(_RESOURCE_VARS.values())


@pytest.fixture
def log_at(node, monkeypatch, capsys):
    """Rebuild the root with ``TWINSYNC_LOG_LEVEL`` = the given level; returns a reader of
    the JSON lines written since."""

    def configure(level: str):
        monkeypatch.setenv("TWINSYNC_LOG_LEVEL", level)
        root_reset()
        root()
        capsys.readouterr()
        return lambda: json_lines(capsys.readouterr().out)

    yield configure
    logging.getLogger("twinsync").setLevel(logging.INFO)


def test_the_level_comes_from_the_stage(log_at) -> None:
    read = log_at("WARNING")
    logging.getLogger("twinsync.x").info("quiet")
    logging.getLogger("twinsync.x").warning("loud")
    assert [line["message"] for line in read()] == ["loud"]

    read = log_at("DEBUG")
    logging.getLogger("twinsync.x").debug("detail")
    assert [line["message"] for line in read()] == ["detail"]


def test_wire_loggers_stay_quiet_when_the_app_logs_debug(log_at) -> None:
    log_at("DEBUG")
    assert not logging.getLogger("botocore").isEnabledFor(logging.DEBUG)


def test_every_line_of_a_queue_record_carries_its_keys(log_at) -> None:
    read = log_at("INFO")
    seen: list[dict[str, Any]] = []

    def handle(message):
        logging.getLogger("twinsync.sync.apply").info("applying")
        seen.append(logs.current_keys())
        if message.body["remote_key"] == "B-2":
            raise RetryLater("the tracker is busy", delay=5)

    records = [
        sqs_record({"connection_id": "c-1", "seq": 7, "remote_key": "B-1"}, group="g1"),
        sqs_record({"connection_id": "c-1", "seq": 8, "remote_key": "B-2"}, group="g2"),
    ]
    with logs.context(function="apply"):
        result = process_batch(
            records,
            handle,
            give_up=lambda m, e: None,
            delay=lambda m, s: None,
            stage="apply",
            direction="incoming",
        )
    assert result == {"batchItemFailures": [{"itemIdentifier": records[1]["messageId"]}]}
    lines = read()
    first = [line for line in lines if line.get("message_id") == records[0]["messageId"]]
    assert first[0]["message"] == "applying"
    for line in first:
        assert line["connection_id"] == "c-1"
        assert line["remote_key"] == "B-1"
        assert line["seq"] == 7
        assert line["function"] == "apply"
    done = [line for line in lines if line.get("event") == "sync.transaction"]
    assert [(t["remote_key"], t["outcome"]) for t in done] == [("B-1", "done"), ("B-2", "retry")]
    for line in done:
        assert line["stage"] == "apply"
        assert line["direction"] == "incoming"
        assert line["attempt"] == 1
        assert line["duration_ms"] >= 0
    # keys end with their record: the second record never saw the first one's
    assert seen[1]["remote_key"] == "B-2" and seen[1]["seq"] == 8
    assert logs.current_keys() == {}


def test_keys_of_other_threads_do_not_mix() -> None:
    import threading

    seen: dict[str, dict[str, Any]] = {}
    inside = threading.Event()
    release = threading.Event()

    def work(name: str) -> None:
        with logs.context(connection_id=name):
            inside.set()
            release.wait(5)
            seen[name] = logs.current_keys()

    other = threading.Thread(target=work, args=("c-other",))
    other.start()
    inside.wait(5)
    with logs.context(connection_id="c-main"):
        release.set()
        other.join(5)
        seen["main"] = logs.current_keys()
    assert seen == {"c-other": {"connection_id": "c-other"}, "main": {"connection_id": "c-main"}}


def _crashing_app() -> Chalice:
    app = Chalice(app_name="twinsync")
    bp = Blueprint(__name__)

    @json_route(bp, "/api/v1/connections/{cid}/boom", ["GET"], auth=None)
    def boom(request, cid):
        logging.getLogger("twinsync.api").info("about to fail")
        raise RuntimeError("kaboom")

    @json_route(bp, "/api/v1/gateway", ["GET"], auth=None)
    def gateway(request):
        raise TwinsyncError("upstream broke")

    @json_route(bp, "/api/v1/peer", ["GET"], auth=None)
    def peer(request):
        from chalicelib.errors import BadGateway

        raise BadGateway("the other node did not answer")

    @json_route(bp, "/api/v1/refused", ["GET"], auth=None)
    def refused(request):
        from chalicelib.errors import Conflict

        raise Conflict("no")

    app.register_blueprint(bp)
    return app


def test_a_5xx_names_the_request_its_log_lines_carry(log_at) -> None:
    read = log_at("INFO")
    with Client(_crashing_app()) as client:
        response = client.http.get("/api/v1/connections/c-9/boom")
    assert response.status_code == 500
    error = json.loads(response.body)["error"]
    assert error["code"] == "internal_error"
    request_id = error["request_id"]
    lines = [line for line in read() if line.get("request_id") == request_id]
    assert [line["message"] for line in lines] == [
        "about to fail",
        "unhandled error on GET /api/v1/connections/{cid}/boom",
    ]
    failed = lines[-1]
    assert failed["level"] == "ERROR"
    assert failed["connection_id"] == "c-9"
    assert "kaboom" in json.dumps(failed["exception"])


def test_a_twinsync_5xx_is_logged_with_its_request_id_and_a_4xx_has_none(log_at) -> None:
    read = log_at("INFO")
    with Client(_crashing_app()) as client:
        gateway = client.http.get("/api/v1/gateway")
        peer = client.http.get("/api/v1/peer")
        refused = client.http.get("/api/v1/refused")
    lines = read()
    for response, message, level in (
        (gateway, "GET /api/v1/gateway failed: upstream broke", "ERROR"),
        (peer, "GET /api/v1/peer failed: the other node did not answer", "WARNING"),
    ):
        request_id = json.loads(response.body)["error"]["request_id"]
        found = [line for line in lines if line.get("request_id") == request_id]
        assert [(line["message"], line["level"]) for line in found] == [(message, level)]
    assert refused.status_code == 409
    assert "request_id" not in json.loads(refused.body)["error"]


def test_redact_masks_credentials_in_urls() -> None:
    assert logs.redact("GET https://bot:s3cret@jira.test/x") == "GET https://***@jira.test/x"
