"""``GET /api/v1/health`` on the real local stack: the private node b says its public peer
is unreachable while node a is stopped, and reachable again once a is back."""

from __future__ import annotations

import pytest

from tests.stack.conftest import connect, eventually

pytestmark = pytest.mark.stack


def _peer(node, cid: str) -> dict:
    report = node.get("/api/v1/health").json()
    (connection,) = [c for c in report["connections"] if c["id"] == cid]
    return {**connection["peer"], "problems": report["problems"], "status": report["status"]}


def test_the_private_node_reports_its_stopped_public_peer(local_stack, node_a, node_b):
    cid = connect(node_a, node_b, initiator_project="ALPHA", acceptor_project="OPS")
    assert eventually(lambda: _peer(node_b, cid)["reachable"] is True)  # b pulls from a
    local_stack.stop_node("a")
    try:
        down = eventually(lambda: (p := _peer(node_b, cid))["reachable"] is False and p)
        assert down["error"] and down["last_contact_at"]
        assert down["status"] == "degraded"
        assert f"the peer of connection {cid} is unreachable" in down["problems"]
    finally:
        local_stack.start_node("a")
    eventually(lambda: _peer(node_b, cid)["reachable"] is True, timeout=60)
