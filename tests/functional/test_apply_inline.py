"""A peer's push applies a live change in the request that brings it (issue 19); the inbox
and the apply queue are the retry path for anything that does not apply at once.

Nodes A and B public, in one process (``tests.factories.cluster``): A's ingest pushes a
change to B's node API with the real peer client (a JWT per call), B's app answers it.
Each node's real queues (SQS in moto) are moved through the app's handlers.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.connections.tokens import issue_token
from chalicelib.root import root
from chalicelib.store.models import EntryModel, KeyModel, TwinModel
from chalicelib.store.namespaces import inbox_pk
from chalicelib.trackers.base import InvalidRequest, IssueFields
from tests.factories.cluster import three_nodes
from tests.functional.test_refusals import (
    connect,
    messages_left,
    move_queues,
    open_errors,
    sync_new_issue,
    twin,
)


class Recorder:
    """The cluster's network, keeping each replica push as it was sent (for replays)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.pushes: list[dict[str, Any]] = []

    def __call__(self, method: str, url: str, *, headers=None, body=None):
        if method == "POST" and url.endswith("/replicas"):
            path = url.split(".test", 1)[1]
            self.pushes.append({"path": path, "headers": dict(headers or {}), "body": body})
        return self.inner(method, url, headers=headers, body=body)


@pytest.fixture
def cluster(aws, monkeypatch):
    with three_nodes(aws, monkeypatch) as nodes:
        nodes.router = Recorder(nodes.router)
        yield nodes


@pytest.fixture
def pair(cluster):
    """A connection A-B with one issue synced: (cid, A's key, B's key)."""
    cid = connect(cluster)
    key = sync_new_issue(cluster, cid)
    move_queues(cluster, "node-a", "node-b")
    remote = twin(cluster, "node-a", cid, key)["remote"]["key"]
    return cid, key, remote


def edit_on_a(cluster, cid, key, summary):
    """Alice edits the summary on A; A's ingest (and nothing on B) runs."""
    cluster["node-a"].tracker.update_issue(key, IssueFields(summary=summary))
    answer = cluster.admin("node-a", "POST", f"/api/v1/connections/{cid}/sync", {"issue_key": key})
    assert answer.status == 202, answer.body
    move_queues(cluster, "node-a")


def inbox_of(cluster, node, cid) -> list[EntryModel]:
    with cluster.active(cluster[node]):
        return list(EntryModel.query(inbox_pk(cid), consistent_read=True))


def waiting_on(cluster, node, cid) -> dict[str, Any]:
    answer = cluster.admin(node, "GET", f"/api/v1/connections/{cid}/queue")
    assert answer.status == 200, answer.body
    return answer.body["incoming"]


def jti_records(cluster, node) -> int:
    with cluster.active(cluster[node]):
        return sum(1 for k in KeyModel.scan() if k.key.startswith("jti#"))


def replay(cluster, push, *, body=None):
    return cluster.raw(
        "node-b", "POST", push["path"], headers=push["headers"], body=body or push["body"]
    )


def test_a_change_is_applied_in_the_push_without_inbox_or_apply_queue(cluster, pair):
    cid, key, remote = pair
    before = len(inbox_of(cluster, "node-b", cid))
    jtis = jti_records(cluster, "node-b")

    edit_on_a(cluster, cid, key, "Printer on fire, again")

    assert cluster["node-b"].tracker.issues[remote].summary == "Printer on fire, again"
    shown = twin(cluster, "node-b", cid, remote)
    assert shown["status"] == "synced"
    assert messages_left(cluster, "node-b") == 0  # no apply message
    assert len(inbox_of(cluster, "node-b", cid)) == before  # no inbox entry
    assert waiting_on(cluster, "node-b", cid)["pending"] == 0
    # the push's token binds its body: no jti record for it
    assert jti_records(cluster, "node-b") == jtis
    assert json.loads(cluster.router.pushes[-1]["body"])["items"][0]["twin_key"] == remote


def test_a_busy_twin_falls_back_to_the_apply_queue_and_still_lands(cluster, pair):
    cid, key, remote = pair
    from datetime import timedelta

    from chalicelib.store.models import utcnow

    with cluster.active(cluster["node-b"]):  # an ingest of B holds the twin
        TwinModel(cid, remote).update(
            actions=[TwinModel.lease_until.set(utcnow() + timedelta(minutes=5))]
        )
    edit_on_a(cluster, cid, key, "Printer on fire, busy")

    assert cluster["node-b"].tracker.issues[remote].summary == "Printer on fire"
    assert waiting_on(cluster, "node-b", cid)["pending"] == 1
    (entry,) = [e for e in inbox_of(cluster, "node-b", cid) if e.state == "pending"]
    assert entry.issue_key == key

    with cluster.active(cluster["node-b"]):  # the ingest is done
        TwinModel(cid, remote).update(actions=[TwinModel.lease_until.remove()])
    move_queues(cluster, "node-b")
    assert cluster["node-b"].tracker.issues[remote].summary == "Printer on fire, busy"
    assert waiting_on(cluster, "node-b", cid)["pending"] == 0
    assert twin(cluster, "node-b", cid, remote)["status"] == "synced"


def test_a_refusal_in_the_push_is_still_an_error_record_on_both_ends(cluster, pair):
    cid, key, remote = pair
    receiving = cluster["node-b"].tracker
    receiving.refuse["update_issue"] = InvalidRequest(
        "summary: Summary must be less than 255 characters.",
        field_errors={"summary": "Summary must be less than 255 characters."},
    )
    edit_on_a(cluster, cid, key, "A much longer summary")
    assert messages_left(cluster, "node-b") == 1  # handed to the apply worker
    move_queues(cluster, "node-b", "node-a")

    (error,) = open_errors(cluster, "node-b", cid)
    assert error["stage"] == "apply" and error["attempts"] == 1
    for node, twin_key in (("node-b", remote), ("node-a", key)):
        shown = twin(cluster, node, cid, twin_key)
        assert shown["status"] == "error", node
        assert "Summary must be less than 255 characters." in shown["error"], node

    receiving.refuse.clear()
    assert cluster.admin("node-b", "POST", f"/api/v1/errors/{error['id']}/retry").status == 200
    move_queues(cluster, "node-b", "node-a")
    assert receiving.issues[remote].summary == "A much longer summary"
    for node, twin_key in (("node-b", remote), ("node-a", key)):
        assert twin(cluster, node, cid, twin_key)["status"] == "synced", node


def test_a_replayed_push_changes_nothing_and_a_stale_one_is_dropped(cluster, pair):
    cid, key, remote = pair
    edit_on_a(cluster, cid, key, "second")
    edit_on_a(cluster, cid, key, "third")
    older, newer = cluster.router.pushes[-2:]
    receiving = cluster["node-b"].tracker
    shown = twin(cluster, "node-b", cid, remote)
    writes = receiving.calls.count("update_issue")

    for push in (newer, older):  # the same bodies with the same tokens, within their lifetime
        answer = replay(cluster, push)
        assert answer.status == 200, answer.body
        sent = json.loads(push["body"])["items"]
        assert answer.body["accepted"] == [item["id"] for item in sent]

    assert receiving.issues[remote].summary == "third"
    assert receiving.calls.count("update_issue") == writes
    assert twin(cluster, "node-b", cid, remote) == shown
    assert messages_left(cluster, "node-b") == 0
    history = cluster.admin(
        "node-b", "GET", f"/api/v1/connections/{cid}/twins/{remote}/history"
    ).body
    skipped = [(t["outcome"], t["version"]) for t in history[:2]]  # newest first
    assert skipped == [("skipped: not newer", 2), ("skipped: not newer", 3)]


def test_a_token_is_refused_on_another_body_and_an_old_peers_token_once(cluster, pair):
    cid, key, remote = pair
    edit_on_a(cluster, cid, key, "second")
    edit_on_a(cluster, cid, key, "third")
    older, newer = cluster.router.pushes[-2:]

    # the token of one push on the body of another: refused, nothing applied
    answer = replay(cluster, newer, body=older["body"])
    assert answer.status == 401 and answer.error == "invalid_token", answer.body
    answer = replay(cluster, {**newer, "body": newer["body"] + b" "})
    assert answer.status == 401 and answer.error == "invalid_token", answer.body

    # a token without the body claim (a peer before issue 19): its jti is recorded once
    from tests.factories.cluster import key_of

    with cluster.active(cluster["node-a"]):
        node_id = root().settings.node_id
    token = issue_token(key_of(cluster, cid), issuer=node_id, audience="node-b", connection_id=cid)
    headers = {**newer["headers"], "Authorization": f"Bearer {token}"}
    first = replay(cluster, {**newer, "headers": headers})
    assert first.status == 200, first.body
    again = replay(cluster, {**newer, "headers": headers})
    assert again.status == 401 and again.error == "token_replayed", again.body
    assert cluster["node-b"].tracker.issues[remote].summary == "third"
