"""``GET /api/v1/health``: tables, queues, open errors, each peer, the last reconcile.

The peer that stopped is a real one that went away: a loopback port where nothing listens
any more, reached through the node's own SSRF-guarded fetcher.
"""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest

from chalicelib.root import build_sync, root
from chalicelib.store.models import ConnectionModel, utcnow
from chalicelib.sync import private
from chalicelib.sync.events import list_errors
from chalicelib.sync.reconcile import reconcile_all
from chalicelib.trackers.base import Unavailable
from tests.conftest import admin_headers
from tests.factories.connections import saved_connection
from tests.factories.memory_tracker import MemoryTracker

HEALTH = "/api/v1/health"


def _closed_port() -> int:
    """A loopback port that answered once and now refuses: a peer that stopped."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _health(client) -> dict:
    response = client.http.get(HEALTH, headers=admin_headers())
    assert response.status_code == 200, response.body
    return response.json_body


def _run_for(seconds: int):
    left = [seconds * 1000]

    def remaining() -> int:
        left[0] -= 1000
        return left[0]

    return remaining


def test_health_needs_the_admin_token(client):
    assert client.http.get(HEALTH).status_code == 401


def test_a_healthy_node_reports_its_tables_queues_and_no_problem(client):
    report = _health(client)
    assert report["status"] == "ok" and report["problems"] == []
    assert set(report["tables"]) == {
        "connections",
        "invitations",
        "twins",
        "entries",
        "events",
        "keys",
    }
    assert all(t["reachable"] and t["status"] == "ACTIVE" for t in report["tables"].values())
    assert set(report["queues"]) == {
        "ingest",
        "deliver",
        "apply",
        "jobs",
        "ingest_catchup",
        "deliver_catchup",
        "apply_catchup",
    }
    for queue in report["queues"].values():
        assert queue["reachable"] and queue["visible"] == 0 and queue["dead_letter"] == 0
    assert report["open_errors"] == 0 and report["connections"] == []
    assert report["reconcile"]["last_run_at"] is None


def test_a_stopped_public_peer_is_reported_unreachable(client, monkeypatch):
    port = _closed_port()
    connection = saved_connection(
        "conn-down", remote_public=True, remote_url=f"http://127.0.0.1:{port}"
    )
    private.follow(connection, remaining_ms=_run_for(10), deps=root().sync)  # one pull fails

    report = _health(client)
    (conn,) = report["connections"]
    assert conn["id"] == "conn-down"
    assert conn["peer"]["reachable"] is False
    assert conn["peer"]["error"] and conn["peer"]["failed_at"]
    assert conn["peer"]["last_contact_at"] is None
    assert report["status"] == "degraded"
    assert "the peer of connection conn-down is unreachable" in report["problems"]


def test_a_private_peer_that_stopped_pulling_is_reported_unreachable(client):
    saved_connection("conn-quiet", remote_public=False)
    connection = ConnectionModel.get("conn-quiet")
    connection.update(
        actions=[ConnectionModel.peer_last_pull_at.set(utcnow() - timedelta(minutes=10))]
    )
    (conn,) = _health(client)["connections"]
    assert conn["peer"]["reachable"] is False
    assert conn["peer"]["lag_s"] >= 600


def test_a_peer_that_answers_again_is_reachable(client, monkeypatch):
    from chalicelib.sync import peer_contact

    saved_connection("conn-back", remote_public=True, remote_url="https://b.twinsync.test")
    peer_contact.note_unreachable("conn-back", "connection refused")
    peer_contact.note_reached("conn-back")
    (conn,) = _health(client)["connections"]
    assert conn["peer"]["reachable"] is True and conn["peer"]["error"] is None


@pytest.fixture
def failing_tracker(node):
    tracker = MemoryTracker.with_projects("OPS")
    deps = build_sync(root().settings, tracker=tracker, fetch=lambda *a, **k: None)
    return tracker, deps


def test_a_failing_reconcile_opens_one_error_and_shows_in_health(client, failing_tracker):
    tracker, deps = failing_tracker
    tracker.fail_next["search"] = [Unavailable("Jira is down", status=503) for _ in range(2)]
    assert "Jira is down" in reconcile_all(deps=deps)["error"]
    assert "Jira is down" in reconcile_all(deps=deps)["error"]  # the next run: same streak

    (error,) = list_errors()
    assert error["stage"] == "reconcile" and "Jira is down" in error["message"]
    report = _health(client)
    assert report["open_errors"] == 1
    assert report["reconcile"]["ok"] is False and "Jira is down" in report["reconcile"]["error"]
    assert "1 open error record(s)" in report["problems"]
    assert any(p.startswith("reconcile failing since") for p in report["problems"])

    reconcile_all(deps=deps)  # the tracker answers again: the streak's error is resolved
    assert list_errors() == []
    report = _health(client)
    assert report["reconcile"]["ok"] is True and report["reconcile"]["last_sweep_at"]
    assert report["status"] == "ok"


def test_an_open_error_record_makes_the_node_degraded(client):
    from chalicelib.sync.events import record_error

    saved_connection("conn-e")
    record_error(stage="apply", connection_id="conn-e", issue_key="OPS-1", exc=ValueError("x"))
    report = _health(client)
    assert report["open_errors"] == 1
    assert report["connections"][0]["open_errors"] == 1
    assert report["status"] == "degraded"
