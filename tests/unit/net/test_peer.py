"""The node-API client: what it sends (JWT, JSON) and how it reads answers and refusals."""

from __future__ import annotations

import json

import jwt
import pytest

from chalicelib.net.errors import NotTwinsync, PeerRefused, Unreachable
from chalicelib.net.outbound import HttpResponse
from chalicelib.net.peer import PeerClient, PeerEnd

KEY = bytes(32 * [3])
NOW = 1_800_000_000


class ScriptedFetch:
    """A Fetcher that records requests and answers from a script."""

    def __init__(self, *answers: HttpResponse | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[dict] = []

    def __call__(self, method, url, *, headers=None, body=None):
        self.requests.append({"method": method, "url": url, "headers": headers, "body": body})
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def ok(data, status=200):
    return HttpResponse(status=status, body=json.dumps(data).encode())


INFO = {"node_id": "node-b", "name": "B", "public": True, "protocol": 1, "modes": ["basic"]}


def client(*answers):
    fetch = ScriptedFetch(*answers)
    return PeerClient(node_id="node-a", fetch=fetch, clock=lambda: NOW), fetch


def test_info_reads_the_node_description():
    peer, fetch = client(ok(INFO))
    info = peer.info("https://b.test/")
    assert info.node_id == "node-b"
    assert info.modes == ("basic",)
    assert fetch.requests[0]["url"] == "https://b.test/node/v1/info"
    assert "Authorization" not in fetch.requests[0]["headers"]


@pytest.mark.parametrize(
    "answer",
    [
        HttpResponse(status=200, body=b"<html>hello</html>"),
        ok({"hello": "world"}),
        ok({**INFO, "protocol": 2}),
        ok({**INFO, "modes": None}),
        HttpResponse(status=404, body=b"Not Found"),
        ok([1, 2]),
    ],
)
def test_anything_but_a_twinsync_info_is_not_twinsync(answer):
    peer, _ = client(answer)
    with pytest.raises(NotTwinsync):
        peer.info("https://b.test")


def test_server_errors_are_unreachable():
    peer, _ = client(HttpResponse(status=503, body=b""))
    with pytest.raises(Unreachable):
        peer.info("https://b.test")


def test_contract_errors_become_peer_refused_with_status_and_code():
    body = {"error": {"code": "invitation_used", "message": "used", "field": "invitation_code"}}
    peer, _ = client(HttpResponse(status=409, body=json.dumps(body).encode()))
    with pytest.raises(PeerRefused) as caught:
        peer.handshake("https://a.test", {"x": 1})
    assert (caught.value.status, caught.value.code) == (409, "invitation_used")
    assert caught.value.field == "invitation_code"


def test_handshake_posts_json_without_a_token():
    peer, fetch = client(ok({"connection_id": "c1"}))
    assert peer.handshake("https://a.test/", {"proof": "p"}) == {"connection_id": "c1"}
    sent = fetch.requests[0]
    assert sent["method"] == "POST"
    assert sent["url"] == "https://a.test/node/v1/handshake"
    assert json.loads(sent["body"]) == {"proof": "p"}
    assert "Authorization" not in sent["headers"]


def test_authenticated_calls_carry_a_fresh_jwt_for_the_connection():
    peer, fetch = client(ok({"status": "deactivated"}), ok({"status": "active"}))
    end = PeerEnd(url="https://b.test", connection_id="c/1", remote_node_id="node-b", key=KEY)
    peer.send_status(end, "deactivated", "maintenance")
    peer.get_status(end)
    first, second = fetch.requests
    assert first["url"] == "https://b.test/node/v1/connections/c%2F1/status"
    assert json.loads(first["body"]) == {"status": "deactivated", "reason": "maintenance"}
    tokens = [r["headers"]["Authorization"].removeprefix("Bearer ") for r in fetch.requests]
    claims = [
        jwt.decode(
            t,
            KEY,
            algorithms=["HS256"],
            audience="node-b",
            options={"verify_iat": False, "verify_exp": False},
        )
        for t in tokens
    ]
    assert claims[0]["iss"] == "node-a" and claims[0]["cid"] == "c/1"
    assert claims[0]["iat"] == NOW
    assert claims[0]["jti"] != claims[1]["jti"]
    assert second["method"] == "GET" and second["body"] is None
