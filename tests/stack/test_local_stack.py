"""`make run` brings up two nodes that answer their admins, as the foundation issue asks."""

from __future__ import annotations

import pytest

from tests.contract_check import checked_session

pytestmark = pytest.mark.stack


def test_stack_json_has_everything_a_client_needs(stack_info):
    assert stack_info["aws_endpoint"].startswith("http://127.0.0.1:")
    assert {"a", "b"} <= set(stack_info["nodes"])
    for node in stack_info["nodes"].values():
        assert {"url", "public_url", "admin_token", "tracker"} <= set(node)
    assert stack_info["nodes"]["a"]["public_url"] == stack_info["nodes"]["a"]["url"]
    assert stack_info["nodes"]["b"]["public_url"] is None
    for tracker in stack_info["trackers"].values():
        assert {"kind", "url", "webhook_secret"} <= set(tracker)


def test_both_admins_read_their_node(node_a, node_b):
    a = node_a.get("/api/v1/node")
    b = node_b.get("/api/v1/node")
    assert a.status_code == 200 and b.status_code == 200
    assert a.json()["public_url"] == node_a.url
    assert b.json()["public_url"] is None
    assert a.json()["tracker"]["kind"] == "jira_cloud"
    assert b.json()["tracker"]["kind"] == "jira_server"


def test_a_private_node_says_so_in_its_info(node_b):
    info = checked_session().get(node_b.url + "/node/v1/info", timeout=10).json()
    assert info["public"] is False


def test_unknown_routes_answer_a_contract_404(node_a):
    response = node_a.get("/no/such/thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_wrong_token_is_refused_over_http(node_a):
    response = checked_session().get(
        node_a.url + "/api/v1/node", headers={"Authorization": "Bearer wrong"}, timeout=10
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"
