"""The audit log: every configuration change with who and when; JSON and JSON lines."""

from __future__ import annotations

import json

import pytest

from tests.conftest import admin_headers
from tests.factories.cluster import three_nodes


def actions(entries):
    return [e["action"] for e in entries]


def test_connection_changes_are_recorded_with_the_admin_as_actor(ops):
    cid = ops.connection_id
    assert ops.api("PATCH", ops.conn(), {"description": "escalations"})[0] == 200
    assert ops.api("POST", ops.conn("/deactivate"), {"reason": "holiday"})[0] == 200
    assert ops.api("POST", ops.conn("/activate"))[0] == 200
    status, entries = ops.api("GET", f"/api/v1/audit?connection_id={cid}")
    assert status == 200
    assert actions(entries) == [
        "connection.activated",
        "connection.deactivated",
        "connection.edited",
        "connection.created",
    ]
    newest, *_, oldest = entries
    assert oldest["details"]["local"] is True and oldest["details"]["mode"] == "basic"
    assert entries[1]["details"]["reason"] == "holiday"
    assert entries[2]["details"]["fields"] == ["description"]
    assert newest["actor"].startswith("admin:") and newest["time"].endswith("Z")
    assert "key" not in json.dumps(entries).replace("local_key", "").replace("remote_key", "")


def test_json_lines_export_is_oldest_first_one_object_per_line(ops):
    ops.api("PATCH", ops.conn(), {"description": "one"})
    status, text = ops.api("GET", "/api/v1/audit?format=jsonl")
    assert status == 200
    lines = [json.loads(line) for line in text.splitlines()]
    assert [entry["action"] for entry in lines] == ["connection.created", "connection.edited"]
    raw = ops.client.http.get("/api/v1/audit?format=jsonl", headers=admin_headers())
    assert raw.headers["Content-Type"].startswith("application/x-ndjson")
    assert ops.api("GET", "/api/v1/audit?format=xml")[0] == 400
    assert ops.api("GET", "/api/v1/audit?limit=x")[0] == 400


def test_the_audit_log_needs_the_admin_token(ops):
    assert ops.client.http.get("/api/v1/audit").status_code == 401


def test_deleting_a_connection_is_recorded(ops):
    assert ops.api("DELETE", ops.conn())[0] == 204
    _, entries = ops.api("GET", f"/api/v1/audit?connection_id={ops.connection_id}")
    assert entries[0]["action"] == "connection.deleted"


@pytest.fixture
def cluster(aws, monkeypatch):
    with three_nodes(aws, monkeypatch) as nodes:
        yield nodes


def test_the_other_end_is_the_actor_of_what_it_does(cluster):
    created = cluster.admin(
        "node-a",
        "POST",
        "/api/v1/connections",
        {
            "destination_url": None,
            "mode": "basic",
            "local_short_name": "A",
            "remote_short_name": "P",
            "name": "A_to_P",
            "incoming_project": "SUP",
        },
    )
    assert created.status == 201
    code = created.body["invitation_code"]
    accepted = cluster.admin(
        "node-p",
        "POST",
        "/api/v1/invitations/accept",
        {"invitation_code": code, "incoming_project": "PRIV"},
    )
    assert accepted.status == 201
    cid = accepted.body["connection"]["id"]
    on_a = cluster.admin("node-a", "GET", f"/api/v1/audit?connection_id={cid}").body
    assert actions(on_a) == ["connection.accepted", "connection.created"]
    assert on_a[0]["actor"] == "node:node-p"
    on_p = cluster.admin("node-p", "GET", f"/api/v1/audit?connection_id={cid}").body
    assert actions(on_p) == ["connection.accepted"] and on_p[0]["actor"].startswith("admin:")
    # P deactivates: P's admin on P, and on A the other end (P calls A: A is public)
    cluster.admin("node-p", "POST", f"/api/v1/connections/{cid}/deactivate", {})
    on_p = cluster.admin("node-p", "GET", f"/api/v1/audit?connection_id={cid}").body
    assert on_p[0]["action"] == "connection.deactivated"
    on_a = cluster.admin("node-a", "GET", f"/api/v1/audit?connection_id={cid}").body
    assert (on_a[0]["action"], on_a[0]["actor"]) == ("connection.peer_deactivated", "node:node-p")
