"""A private peer's pull on the public node's function URL (``outbox_poll``, issue 19).

Node A is public and advertises a function URL for pulls; node P is private. The URL's
requests are served by the app's ``outbox_poll`` function exactly as Lambda hands a
function URL request over (an event, payload 2.0); the rest of the network is the cluster's
router. What is checked: P learns the URL from A's outbox answer and pulls there from then
on; the URL refuses exactly what the API refuses and answers nothing but the pull; a URL
that fails sends the pull back to the API; an older peer that ignores the URL keeps
pulling through the API.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import pytest

from chalicelib.net.outbound import HttpResponse
from chalicelib.trackers.base import IssueFields
from devstack.function_url import url_event
from tests.factories.cluster import A_URL, NodeRouter, three_nodes
from tests.functional.test_refusals import connect, move_queues

URL = "https://outbox-a.lambda-url.test"


class UrlRouter:
    """The cluster's network plus node A's function URL (served by ``outbox_poll``)."""

    def __init__(self, cluster: Any, inner: NodeRouter) -> None:
        self.cluster, self.inner = cluster, inner
        self.url_calls: list[tuple[str, str]] = []
        self.down = False

    def __call__(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> HttpResponse:
        if not url.startswith(URL + "/"):
            return self.inner(method, url, headers=headers, body=body)
        from chalicelib.net.errors import Unreachable

        if self.down:
            raise Unreachable(f"{urlsplit(url).hostname} did not answer (test: down)")
        self.url_calls.append((method, urlsplit(url).path))
        answer = self.serve(method, url[len(URL) :], dict(headers or {}), body or b"")
        payload = str(answer.get("body") or "").encode()
        return HttpResponse(
            status=answer["statusCode"], headers=answer.get("headers", {}), body=payload
        )

    def serve(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> dict[str, Any]:
        from app import app

        handler = {f.name: f for f in app.pure_lambda_functions}["outbox_poll"]
        with self.cluster.active(self.cluster["node-a"]):
            return handler(url_event(method, target, headers, body), None)


@pytest.fixture
def cluster(aws, monkeypatch):
    with three_nodes(aws, monkeypatch) as nodes:
        nodes["node-a"].env["TWINSYNC_OUTBOX_URL"] = URL
        nodes._keys.add("TWINSYNC_OUTBOX_URL")
        nodes.router = UrlRouter(nodes, nodes.router)
        yield nodes


def pull(cluster, cid, budget_ms=4_000):
    """One poll_peers run on P (a short one)."""
    from chalicelib.root import root
    from chalicelib.sync.links import get_connection
    from chalicelib.sync.private import follow

    budget = iter([budget_ms, budget_ms, 0])  # a failed URL takes one more look
    with cluster.active(cluster["node-p"]):
        return follow(get_connection(cid), remaining_ms=lambda: next(budget, 0), deps=root().sync)


def poll_state(cluster, cid):
    from chalicelib.sync.private import load_state

    with cluster.active(cluster["node-p"]):
        return load_state(cid)


def change_on_a(cluster, cid):
    """A new issue on A synced to P: queued in A's outbox for P."""
    ref = cluster["node-a"].tracker.create_issue("SUP", IssueFields(summary="Printer on fire"))
    answer = cluster.admin(
        "node-a", "POST", f"/api/v1/connections/{cid}/sync", {"issue_key": ref.key}
    )
    assert answer.status == 202, answer.body
    move_queues(cluster, "node-a")
    return ref.key


def p_has(cluster, summary):
    return any(i.summary == summary for i in cluster["node-p"].tracker.issues.values())


def test_the_private_peer_learns_the_url_and_pulls_there(cluster):
    cid = connect(cluster, acceptor="node-p", project="PRIV", destination=None)
    pull(cluster, cid)  # the first pull goes through the API: A's answer names its URL
    assert poll_state(cluster, cid).url == URL
    first = next(u for _, u in cluster.router.inner.requests if "/outbox" in u)
    assert first.startswith(A_URL + f"/node/v1/connections/{cid}/outbox?")

    change_on_a(cluster, cid)
    pull(cluster, cid)
    move_queues(cluster, "node-p")
    assert p_has(cluster, "Printer on fire")
    paths = [p.rsplit("/", 2)[-2:] for _, p in cluster.router.url_calls]
    assert ["outbox", "ack"] in paths and [cid, "outbox"] in paths
    assert [cid, "twin-status"] in paths  # the notices come from the URL too


def test_the_url_refuses_what_the_api_refuses(cluster):
    cid = connect(cluster, acceptor="node-p", project="PRIV", destination=None)
    router = cluster.router
    outbox = f"/node/v1/connections/{cid}/outbox"

    missing = router.serve("GET", outbox, {}, b"")
    assert missing["statusCode"] == 401
    assert json.loads(missing["body"])["error"]["code"] == "missing_token"
    forged = router.serve("GET", outbox, {"Authorization": "Bearer not.a.token"}, b"")
    assert forged["statusCode"] == 401
    assert json.loads(forged["body"])["error"]["code"] == "invalid_token"

    # a token of P's, used twice: the second is a replay, refused as behind the API
    from chalicelib.connections.tokens import issue_token
    from tests.factories.cluster import key_of

    token = issue_token(
        key_of(cluster, cid, "node-p"), issuer="node-p", audience="node-a", connection_id=cid
    )
    auth = {"Authorization": f"Bearer {token}"}
    first = router.serve("GET", outbox + "?wait=0", auth, b"")
    assert first["statusCode"] == 200, first
    assert json.loads(first["body"])["items"] == []
    again = router.serve("GET", outbox + "?wait=0", auth, b"")
    assert json.loads(again["body"])["error"]["code"] == "token_replayed"

    # only the pull: pushes, admin calls and unknown paths are not served here
    for method, path in (
        ("POST", f"/node/v1/connections/{cid}/replicas"),
        ("GET", f"/api/v1/connections/{cid}"),
        ("GET", "/node/v1/info"),
        ("DELETE", outbox),
    ):
        answer = router.serve(method, path, auth, b"{}")
        assert answer["statusCode"] == 404, (method, path)
        assert json.loads(answer["body"])["error"]["code"] == "not_found"


def test_a_bad_parameter_is_the_same_400_on_the_url(cluster):
    from chalicelib.connections.tokens import issue_token
    from tests.factories.cluster import key_of

    cid = connect(cluster, acceptor="node-p", project="PRIV", destination=None)
    token = issue_token(
        key_of(cluster, cid, "node-p"), issuer="node-p", audience="node-a", connection_id=cid
    )
    answer = cluster.router.serve(
        "GET",
        f"/node/v1/connections/{cid}/outbox?wait=soon",
        {"Authorization": f"Bearer {token}"},
        b"",
    )
    assert answer["statusCode"] == 400
    error = json.loads(answer["body"])["error"]
    assert error["code"] == "invalid_request" and error["field"] == "wait"


def test_a_failing_url_sends_the_pull_back_to_the_api(cluster):
    cid = connect(cluster, acceptor="node-p", project="PRIV", destination=None)
    pull(cluster, cid)
    assert poll_state(cluster, cid).url == URL
    cluster.router.down = True

    change_on_a(cluster, cid)
    result = pull(cluster, cid)
    move_queues(cluster, "node-p")
    assert result["received"] >= 1
    assert p_has(cluster, "Printer on fire")
    # not learned again in the run in which it failed
    assert poll_state(cluster, cid).url is None


def test_an_older_peer_keeps_pulling_through_the_api(cluster):
    """A peer that ignores ``outbox_url``: the API's pull answers as before."""
    from chalicelib.root import root
    from chalicelib.sync.links import get_connection, peer_end

    cid = connect(cluster, acceptor="node-p", project="PRIV", destination=None)
    change_on_a(cluster, cid)
    with cluster.active(cluster["node-p"]):
        end = peer_end(get_connection(cid))
        answer = root().sync.peer.call(end, "GET", f"/node/v1/connections/{cid}/outbox?wait=0")
    assert isinstance(answer, dict) and answer["outbox_url"] == URL
    assert len(answer["items"]) >= 1 and answer["last_seq"] >= 1
    assert not cluster.router.url_calls
