"""Node API authentication: every bad token is refused with its code and leaves no trace."""

from __future__ import annotations

import time

import pytest

from chalicelib.connections import tokens
from chalicelib.errors import Forbidden
from tests.factories.cluster import connect_a_to_b as connect
from tests.factories.cluster import key_of, three_nodes


@pytest.fixture
def cluster(aws, monkeypatch):
    with three_nodes(aws, monkeypatch) as nodes:
        yield nodes


def trace(cluster, cid):
    """What a call could leave behind on A: jti records and the end's version."""
    from chalicelib.store.models import ConnectionModel, KeyModel

    with cluster.active(cluster["node-a"]):
        jtis = sorted(k.key for k in KeyModel.scan() if k.key.startswith("jti#"))
        conn = ConnectionModel.get(cid) if cid else None
        return jtis, conn.version if conn else None


def status_call(cluster, cid, token=None, method="GET", body=b""):
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return cluster.raw(
        "node-a", method, f"/node/v1/connections/{cid}/status", headers=headers, body=body
    )


def token_for(key, cid, **overrides):
    values = {"issuer": "node-b", "audience": "node-a", "connection_id": cid}
    values.update(overrides)
    return tokens.issue_token(key, **values)


def test_a_valid_token_is_accepted_once(cluster):
    cid = connect(cluster)
    token = token_for(key_of(cluster, cid), cid)
    first = status_call(cluster, cid, token)
    assert first.status == 200
    assert first.body == {"connection_id": cid, "status": "active", "reason": None}
    before = trace(cluster, cid)
    replay = status_call(cluster, cid, token)
    assert (replay.status, replay.error) == (401, "token_replayed")
    assert trace(cluster, cid) == before


def test_refused_tokens_leave_no_trace(cluster):
    cid = connect(cluster)
    other = connect(cluster, name="second")
    key = key_of(cluster, cid)
    cases = [
        (None, 401, "missing_token"),
        ("garbage", 401, "invalid_token"),
        (token_for(key, cid, now=time.time() - 3600), 401, "token_expired"),
        (token_for(key, cid, issuer="node-x"), 401, "invalid_token"),
        (token_for(key, cid, audience="node-x"), 401, "invalid_token"),
        (token_for(bytes(32), cid), 401, "invalid_token"),
        (token_for(key_of(cluster, other), other), 401, "invalid_token"),
        (token_for(key, other), 403, "token_connection_mismatch"),
    ]
    before = trace(cluster, cid)
    for token, status, code in cases:
        answer = status_call(cluster, cid, token)
        assert (answer.status, answer.error) == (status, code), token
    assert trace(cluster, cid) == before


def test_unknown_and_pending_connections(cluster):
    # an unknown id is not told apart from a bad token (issue 13: no oracle on ids)
    assert status_call(cluster, "nope", "x").error == "invalid_token"
    assert status_call(cluster, "nope", token_for(bytes(32), "nope")).error == "invalid_token"
    created = cluster.admin(
        "node-a",
        "POST",
        "/api/v1/connections",
        {
            "destination_url": None,
            "mode": "basic",
            "local_short_name": "A",
            "remote_short_name": "B",
            "name": "pending",
            "incoming_project": "SUP",
        },
    ).body
    cid = created["connection"]["id"]
    answer = status_call(cluster, cid, token_for(key_of(cluster, cid), cid))
    assert (answer.status, answer.error) == (403, "connection_pending")


def test_a_deleted_connection_answers_deleted_with_its_reason(cluster):
    cid = connect(cluster)
    key = key_of(cluster, cid)
    cluster.admin("node-a", "DELETE", f"/api/v1/connections/{cid}")
    answer = status_call(cluster, cid, token_for(key, cid))
    assert (answer.status, answer.error) == (404, "connection_deleted")
    assert "Node A" in answer.body["error"]["message"]


def test_a_deactivated_end_refuses_calls_but_still_takes_status_news(cluster):
    from chalicelib.connections.node_auth import authenticate

    cid = connect(cluster)
    key = key_of(cluster, cid)
    cluster.admin("node-a", "POST", f"/api/v1/connections/{cid}/deactivate")
    before = trace(cluster, cid)
    with cluster.active(cluster["node-a"]) as node:
        from chalicelib.root import root

        with pytest.raises(Forbidden) as caught:
            authenticate(token_for(key, cid), cid, settings=root().settings)
        assert caught.value.code == "connection_deactivated"
        assert node.node_id == "node-a"
    assert trace(cluster, cid) == before
    answer = status_call(cluster, cid, token_for(key, cid))
    assert answer.status == 200
    assert answer.body["status"] == "deactivated"
    assert "Node A" in answer.body["reason"]


def test_status_news_must_be_well_formed(cluster):
    cid = connect(cluster)
    key = key_of(cluster, cid)
    answer = status_call(
        cluster, cid, token_for(key, cid), method="POST", body=b'{"status": "sleeping"}'
    )
    assert (answer.status, answer.error) == (400, "invalid_field")
    shown = cluster.admin("node-a", "GET", f"/api/v1/connections/{cid}").body
    assert shown["status"] == "active"


def test_handshake_refuses_malformed_bodies(cluster):
    for body in (b"{}", b'{"protocol": 2}', b'{"protocol": 1, "invitation_id": "x"}'):
        answer = cluster.raw(
            "node-a",
            "POST",
            "/node/v1/handshake",
            headers={"Content-Type": "application/json"},
            body=body,
        )
        assert answer.status == 400, body
        assert answer.error in ("unsupported_protocol", "missing_field")


def test_a_token_bound_to_its_body_is_still_used_once_where_calls_are_not_replay_safe(cluster):
    """Only the replica push accepts a body-bound token again (issue 19): a status notice
    records its ``jti`` whatever the token claims."""
    cid = connect(cluster)
    body = b'{"status": "active", "reason": null}'
    token = token_for(key_of(cluster, cid), cid, body=body)
    first = status_call(cluster, cid, token, method="POST", body=body)
    assert first.status == 200, first.body
    replay = status_call(cluster, cid, token, method="POST", body=body)
    assert (replay.status, replay.error) == (401, "token_replayed")
