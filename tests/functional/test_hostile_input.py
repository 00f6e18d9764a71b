"""No 5xx for any input: the security review's reproductions (issue 13, items 4-8).

Each was a 500 before its fix. A refusal must be a 4xx in the contract's shape and leave
nothing behind; an odd part of a validly signed webhook is ignored (it is only a hint).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from chalicelib.connections import invitation
from chalicelib.store.models import EntryModel, KeyModel
from tests.conftest import WEBHOOK_SECRET, admin_headers
from tests.factories.cluster import three_nodes
from tests.functional.test_connections_node_api import connect, key_of, token_for

DEEP = 950


def deep(depth: int = DEEP) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def error_of(response) -> dict:
    data = json.loads(response.body)
    assert set(data) == {"error"} and {"code", "message"} <= set(data["error"]), data
    return data["error"]


def signed(body: bytes | str, **headers: str) -> dict[str, str]:
    raw = body.encode() if isinstance(body, str) else body
    digest = hmac.new(WEBHOOK_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Hub-Signature": f"sha256={digest}", **headers}


def webhook(client, payload: dict | bytes, **headers: str):
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return client.http.post("/webhooks/jira", headers=signed(raw, **headers), body=raw)


ISSUE = {"id": "10001", "key": "SUP-1", "fields": {"summary": "x"}}


# --- 4. depth ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path, headers",
    [
        ("POST", "/node/v1/handshake", {"Content-Type": "application/json"}),
        ("POST", "/api/v1/connections", {"Content-Type": "application/json"}),  # before auth
        ("POST", "/api/v1/connections", admin_headers()),
        ("POST", "/node/v1/connections/c1/replicas", {"Authorization": "Bearer x"}),
    ],
)
def test_json_nested_950_deep_is_a_400_before_anything_else(client, method, path, headers):
    response = client.http.request(method, path, headers=headers, body=deep())
    assert response.status_code == 400
    assert error_of(response)["code"] == "too_deep"


def test_json_at_the_depth_limit_still_parses(client):
    response = client.http.post("/node/v1/handshake", body=deep(64))
    assert response.status_code == 400
    assert error_of(response)["code"] != "too_deep"  # the handshake's own refusal
    response = client.http.post("/node/v1/handshake", body=deep(65))
    assert error_of(response)["code"] == "too_deep"


def test_a_signed_webhook_nested_950_deep_is_a_400(client):
    body = b'{"webhookEvent": "jira:issue_updated", "x": ' + deep() + b"}"
    response = webhook(client, body)
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_webhook"


# --- 5. unparsable URLs --------------------------------------------------------------------

BAD_URL = "http://[::1"


def test_an_unparsable_url_in_the_handshake_is_a_400_naming_the_field(client):
    body = {
        "protocol": 1,
        "invitation_id": "inv",
        "connection_id": "c1",
        "node_id": "node-b",
        "name": "B",
        "short_name": "B",
        "proof": "0" * 64,
        "url": BAD_URL,
    }
    response = client.http.post(
        "/node/v1/handshake", headers={"Content-Type": "application/json"}, body=json.dumps(body)
    )
    assert response.status_code == 400
    assert error_of(response)["field"] == "url"


def test_an_unparsable_destination_url_is_a_400_naming_the_field(client):
    body = {
        "destination_url": BAD_URL,
        "mode": "basic",
        "local_short_name": "A",
        "remote_short_name": "B",
        "name": "bad url",
        "incoming_project": "SUP",
    }
    response = client.http.post(
        "/api/v1/connections", headers=admin_headers(), body=json.dumps(body)
    )
    assert response.status_code == 400
    assert error_of(response)["field"] == "destination_url"


def test_an_unparsable_initiator_url_inside_a_code_is_a_400(client):
    code = invitation.encode(
        invitation.Invitation(
            invitation_id="inv",
            connection_id="c1",
            initiator_node_id="node-x",
            initiator_name="X",
            initiator_url=BAD_URL,
            mode="basic",
            name="n",
            description="",
            local_short_name="X",
            remote_short_name="A",
            expires_at=2**40,
            secret=bytes(32),
        )
    )
    response = client.http.post(
        "/api/v1/invitations/accept",
        headers=admin_headers(),
        body=json.dumps({"invitation_code": code, "incoming_project": "SUP"}),
    )
    assert response.status_code == 400
    assert error_of(response)["field"] == "invitation_code"


# --- 6. lone surrogates --------------------------------------------------------------------

SURROGATE = '"\\ud800"'  # as JSON text: a valid escape of an invalid code point


@pytest.fixture
def cluster(aws, monkeypatch):
    with three_nodes(aws, monkeypatch) as nodes:
        yield nodes


def raw_json(value: dict, name: str) -> bytes:
    """``value`` as JSON with the string field ``name`` holding a lone surrogate."""
    text = json.dumps({**value, name: "SURROGATE"})
    return text.replace('"SURROGATE"', SURROGATE).encode()


def test_a_lone_surrogate_in_a_connection_description_is_a_400(client):
    body = raw_json(
        {
            "destination_url": None,
            "mode": "basic",
            "local_short_name": "A",
            "remote_short_name": "B",
            "name": "surrogate",
            "incoming_project": "SUP",
        },
        "description",
    )
    response = client.http.post("/api/v1/connections", headers=admin_headers(), body=body)
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_text"
    listed = client.http.get("/api/v1/connections", headers=admin_headers())
    assert json.loads(listed.body) == []


def test_a_lone_surrogate_in_guard_jql_status_reason_or_replica_id_is_a_400(cluster):
    cid = connect(cluster)
    patched = cluster.raw(
        "node-a",
        "PATCH",
        f"/api/v1/connections/{cid}",
        headers=admin_headers(),
        body=raw_json({}, "incoming_guard_jql"),
    )
    assert (patched.status, patched.error) == (400, "invalid_text")
    key = key_of(cluster, cid)
    status = cluster.raw(
        "node-a",
        "POST",
        f"/node/v1/connections/{cid}/status",
        headers={"Authorization": f"Bearer {token_for(key, cid)}"},
        body=raw_json({"status": "deactivated"}, "reason"),
    )
    assert (status.status, status.error) == (400, "invalid_text")
    replica = json.dumps({"items": [{"id": "SURROGATE", "connection_id": cid, "key": "T-1"}]})
    pushed = cluster.raw(
        "node-a",
        "POST",
        f"/node/v1/connections/{cid}/replicas",
        headers={"Authorization": f"Bearer {token_for(key, cid)}"},
        body=replica.replace('"SURROGATE"', SURROGATE).encode(),
    )
    assert (pushed.status, pushed.error) == (400, "invalid_text")


def test_a_lone_surrogate_in_the_admin_token_header_is_a_400(client):
    headers = {"Authorization": "Bearer \ud800", "Content-Type": "application/json"}
    response = client.http.get("/api/v1/node", headers=headers)
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_text"


# --- 7. ids over DynamoDB's key limit ------------------------------------------------------


def replica(cid: str, **overrides) -> dict:
    base = {
        "id": "r-1",
        "connection_id": cid,
        "entity": "issue",
        "key": "TEST-1",
        "version": 1,
        "url": "https://b.example/browse/TEST-1",
        "updated": "2024-01-01T00:00:00Z",
        "summary": "s",
        "description": None,
        "comments": [],
        "attachments": [],
        "fields": {},
    }
    return {**base, **overrides}


@pytest.mark.parametrize("field", ["id", "key", "twin_key"])
def test_a_huge_replica_id_or_key_is_a_400_and_leaves_nothing(cluster, field):
    cid = connect(cluster)
    key = key_of(cluster, cid)
    with cluster.active(cluster["node-a"]):
        before = (sorted(k.key for k in KeyModel.scan()), sum(1 for _ in EntryModel.scan()))
    for attempt in range(2):  # the sender retries
        pushed = cluster.raw(
            "node-a",
            "POST",
            f"/node/v1/connections/{cid}/replicas",
            headers={"Authorization": f"Bearer {token_for(key, cid)}"},
            body=json.dumps({"items": [replica(cid, **{field: "x" * 100_000})]}).encode(),
        )
        assert (pushed.status, pushed.error) == (400, "invalid_replica"), attempt
    with cluster.active(cluster["node-a"]):
        after = (sorted(k.key for k in KeyModel.scan()), sum(1 for _ in EntryModel.scan()))
    jti = [k for k in after[0] if k.startswith("jti#")]
    assert (sorted(set(after[0]) - set(jti)), after[1]) == (
        sorted(k for k in before[0] if not k.startswith("jti#")),
        before[1],
    )


def test_a_3000_character_webhook_identifier_is_a_400_and_leaves_nothing(client):
    response = webhook(
        client,
        {"webhookEvent": "jira:issue_updated", "issue": ISSUE},
        **{"X-Atlassian-Webhook-Identifier": "d" * 3000},
    )
    assert response.status_code == 400
    assert error_of(response)["field"] == "X-Atlassian-Webhook-Identifier"
    assert list(KeyModel.scan()) == []


# --- 8. odd shapes in signed webhooks ------------------------------------------------------


@pytest.mark.parametrize(
    "odd",
    [
        {"changelog": [{"items": [{"field": "summary"}]}]},
        {"changelog": {"items": "summary"}},
        {"webhookEvent": "comment_created", "comment": "a comment"},
        {"webhookEvent": "comment_updated", "comment": ["x"]},
        {"webhookEvent": "attachment_created", "attachment": "a file"},
        {"user": "someone"},
        {"issue": {"id": "10001", "key": {"nested": 1}}},
        {"issue": {"id": "10001", "key": "K" * 3000}},
    ],
    ids=repr,
)
def test_a_signed_webhook_with_an_odd_part_ignores_that_part(client, odd):
    now = int(time.time() * 1000)  # a fresh signed delivery (a stale one is refused)
    payload = {"webhookEvent": "jira:issue_updated", "timestamp": now, "issue": ISSUE, **odd}
    response = webhook(client, payload)
    assert response.status_code == 202, response.body


@pytest.mark.parametrize("timestamp", [b"Infinity", b"-Infinity", b"NaN", b"1e400"])
def test_a_signed_webhook_with_a_non_finite_timestamp_is_not_json(client, timestamp):
    """``NaN``, ``Infinity`` and a number past a float's range are not JSON (RFC 8259): the
    body is refused like any malformed one; Jira never sends them."""
    body = b'{"webhookEvent": "jira:issue_updated", "timestamp": ' + timestamp + b', "issue": '
    body += json.dumps(ISSUE).encode() + b"}"
    response = webhook(client, body)
    assert response.status_code == 400, response.body
    assert error_of(response)["code"] == "invalid_webhook"
    assert list(KeyModel.scan()) == []
