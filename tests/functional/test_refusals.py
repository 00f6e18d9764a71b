"""A change the receiving tracker refuses for good (a 400) is an error at once, on both ends.

Two or three nodes in one process (``tests.factories.cluster``): node A and node B public,
node P private. Each node's real queues (SQS in moto) are moved through the app's handlers
the way the local runner does, until nothing is left to move.
"""

from __future__ import annotations

import uuid

import boto3
import pytest

from chalicelib.root import root
from chalicelib.trackers.base import Body, InvalidRequest, IssueFields
from tests.factories.cluster import B_URL, three_nodes

ISSUETYPE_REFUSED = InvalidRequest(
    "issuetype: valid issue type is required",
    field_errors={"issuetype": "valid issue type is required"},
    status=400,
)


@pytest.fixture
def cluster(aws, monkeypatch):
    with three_nodes(aws, monkeypatch) as nodes:
        yield nodes


def move_queues(cluster, *node_ids, rounds=30):
    """Ingest, deliver and apply on each node until every queue is empty (or waiting)."""
    from app import app
    from devstack.node import queue_bindings
    from devstack.runner import LocalRunner

    sqs = boto3.client("sqs", region_name="us-east-1")
    for _ in range(rounds):
        moved = 0
        for node_id in node_ids:
            with cluster.active(cluster[node_id]):
                urls = queue_bindings(root().settings.resources)
                runner = LocalRunner(app, queue_urls=urls, sqs=sqs, wait_seconds=0)
                for source in runner.sqs_sources():
                    if source.name != "jobs":
                        moved += runner.drain_once(source, urls[source.queue])
        if not moved:
            return


def messages_left(cluster, node_id, queue="apply_queue_url"):
    """Messages still on a node's queue, visible or waiting out a retry backoff."""
    with cluster.active(cluster[node_id]):
        url = getattr(root().settings.resources, queue)
    got = boto3.client("sqs", region_name="us-east-1").get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(v) for v in got.values())


def connect(cluster, *, acceptor="node-b", project="TEST", destination=B_URL):
    created = cluster.admin(
        "node-a",
        "POST",
        "/api/v1/connections",
        {
            "destination_url": destination,
            "mode": "basic",
            "local_short_name": "A",
            "remote_short_name": "B",
            "name": f"refusals-{uuid.uuid4().hex[:6]}",
            "incoming_project": "SUP",
        },
    )
    assert created.status == 201, created.body
    accepted = cluster.admin(
        acceptor,
        "POST",
        "/api/v1/invitations/accept",
        {"invitation_code": created.body["invitation_code"], "incoming_project": project},
    )
    assert accepted.status == 201, accepted.body
    return created.body["connection"]["id"]


def sync_new_issue(cluster, cid, *, node="node-a", project="SUP", summary="Printer on fire"):
    ref = cluster[node].tracker.create_issue(
        project, IssueFields(summary=summary, description=Body("adf", None), issue_type="Bug")
    )
    synced = cluster.admin(node, "POST", f"/api/v1/connections/{cid}/sync", {"issue_key": ref.key})
    assert synced.status == 202, synced.body
    return ref.key


def twin(cluster, node, cid, key):
    answer = cluster.admin(node, "GET", f"/api/v1/connections/{cid}/twins/{key}")
    assert answer.status == 200, answer.body
    return answer.body


def open_errors(cluster, node, cid):
    return cluster.admin(node, "GET", f"/api/v1/errors?connection_id={cid}").body


def test_a_refused_create_is_an_error_at_once_on_both_ends_and_retry_clears_it(cluster):
    cid = connect(cluster)
    receiving = cluster["node-b"].tracker
    receiving.refuse["create_issue"] = ISSUETYPE_REFUSED

    key = sync_new_issue(cluster, cid)
    move_queues(cluster, "node-a", "node-b")

    # node B: one attempt, one error record with the tracker's words, nothing left to retry
    assert receiving.calls.count("create_issue") == 1
    assert messages_left(cluster, "node-b") == 0
    (error,) = open_errors(cluster, "node-b", cid)
    assert error["stage"] == "apply" and error["attempts"] == 1 and error["issue_key"] == key
    assert "valid issue type is required" in error["message"]
    assert "issuetype: valid issue type is required" in error["tracker_message"]
    # node A: its twin shows the refusal instead of "queued"
    shown = twin(cluster, "node-a", cid, key)
    assert shown["status"] == "error"
    assert "issuetype: valid issue type is required" in shown["error"]

    # the admin of B fixes the cause and retries from the errors list
    receiving.refuse.clear()
    retried = cluster.admin("node-b", "POST", f"/api/v1/errors/{error['id']}/retry")
    assert retried.status == 200, retried.body
    move_queues(cluster, "node-b", "node-a")

    assert open_errors(cluster, "node-b", cid) == []
    (created,) = [k for k in receiving.issues if k.startswith("TEST-")]
    assert twin(cluster, "node-b", cid, created)["status"] == "synced"
    shown = twin(cluster, "node-a", cid, key)
    assert shown["status"] == "synced" and shown["error"] is None
    assert shown["remote"]["key"] == created


def test_a_refused_update_shows_on_both_twins_and_a_retry_lifts_it_on_both(cluster):
    cid = connect(cluster)
    key = sync_new_issue(cluster, cid)
    move_queues(cluster, "node-a", "node-b")
    remote = twin(cluster, "node-a", cid, key)["remote"]["key"]

    receiving = cluster["node-b"].tracker
    receiving.refuse["update_issue"] = InvalidRequest(
        "summary: Summary must be less than 255 characters.",
        field_errors={"summary": "Summary must be less than 255 characters."},
    )
    cluster["node-a"].tracker.update_issue(key, IssueFields(summary="A much longer summary"))
    cluster.admin("node-a", "POST", f"/api/v1/connections/{cid}/sync", {"issue_key": key})
    move_queues(cluster, "node-a", "node-b")

    # tried in the push that brought it (issue 19), then once by the apply worker, which
    # makes the error record as before
    assert receiving.calls.count("update_issue") == 2
    (error,) = open_errors(cluster, "node-b", cid)
    for node, twin_key in (("node-b", remote), ("node-a", key)):
        shown = twin(cluster, node, cid, twin_key)
        assert shown["status"] == "error", node
        assert "Summary must be less than 255 characters." in shown["error"], node

    receiving.refuse.clear()
    assert cluster.admin("node-b", "POST", f"/api/v1/errors/{error['id']}/retry").status == 200
    move_queues(cluster, "node-b", "node-a")

    assert receiving.issues[remote].summary == "A much longer summary"
    for node, twin_key in (("node-b", remote), ("node-a", key)):
        shown = twin(cluster, node, cid, twin_key)
        assert shown["status"] == "synced" and shown["error"] is None, node


def test_a_private_sender_learns_of_the_refusal_by_pulling(cluster):
    from chalicelib.root import root
    from chalicelib.sync.links import get_connection
    from chalicelib.sync.private import follow

    cid = connect(cluster, acceptor="node-p", project="PRIV", destination=None)
    cluster["node-a"].tracker.refuse["create_issue"] = ISSUETYPE_REFUSED
    key = sync_new_issue(cluster, cid, node="node-p", project="PRIV")
    move_queues(cluster, "node-p", "node-a")  # P pushes its change; A refuses it
    assert [e["issue_key"] for e in open_errors(cluster, "node-a", cid)] == [key]
    assert twin(cluster, "node-p", cid, key)["status"] == "queued"  # nobody can call P

    budget = iter([4_000, 0])  # one short pull, as the poll_peers schedule makes
    with cluster.active(cluster["node-p"]):
        follow(get_connection(cid), remaining_ms=lambda: next(budget, 0), deps=root().sync)

    shown = twin(cluster, "node-p", cid, key)
    assert shown["status"] == "error"
    assert "issuetype: valid issue type is required" in shown["error"]
