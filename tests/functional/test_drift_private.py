"""A drift scan across nodes: a public node cannot call its private peer, so the scan is
started on the private node, which asks the public node's drift route (node A public,
node P private, in one process: ``tests.factories.cluster``)."""

from __future__ import annotations

import pytest
from msgspec.structs import replace

from chalicelib.trackers.base import Body, IssueFields
from tests.factories.cluster import three_nodes
from tests.functional.test_refusals import connect, move_queues


@pytest.fixture
def cluster(aws, monkeypatch):
    with three_nodes(aws, monkeypatch) as nodes:
        yield nodes


def pull(cluster, cid):
    """One short pull of the public side's outbox, as the poll_peers schedule makes."""
    from chalicelib.root import root
    from chalicelib.sync.links import get_connection
    from chalicelib.sync.private import follow

    budget = iter([4_000, 0])
    with cluster.active(cluster["node-p"]):
        follow(get_connection(cid), remaining_ms=lambda: next(budget, 0), deps=root().sync)


def run_jobs(cluster, node_id):
    """Move the node's queues, the jobs queue included, until nothing is left."""
    import boto3

    from app import app
    from chalicelib.root import root
    from devstack.node import queue_bindings
    from devstack.runner import LocalRunner

    sqs = boto3.client("sqs", region_name="us-east-1")
    for _ in range(30):
        with cluster.active(cluster[node_id]):
            urls = queue_bindings(root().settings.resources)
            runner = LocalRunner(app, queue_urls=urls, sqs=sqs, wait_seconds=0)
            moved = sum(runner.drain_once(s, urls[s.queue]) for s in runner.sqs_sources())
        if not moved:
            return


def synced_pair(cluster, cid):
    ref = cluster["node-p"].tracker.create_issue(
        "PRIV", IssueFields(summary="Printer on fire", description=Body("adf", None))
    )
    answer = cluster.admin(
        "node-p", "POST", f"/api/v1/connections/{cid}/sync", {"issue_key": ref.key}
    )
    assert answer.status == 202, answer.body
    move_queues(cluster, "node-p", "node-a")  # P pushes; A creates its twin
    pull(cluster, cid)  # P learns its twin's key from A's link-back
    move_queues(cluster, "node-p", "node-a")
    twin = cluster.admin("node-p", "GET", f"/api/v1/connections/{cid}/twins/{ref.key}").body
    assert twin["status"] == "synced" and twin["remote"], twin
    return ref.key, twin["remote"]["key"]


def scan_on(cluster, node_id, cid):
    started = cluster.admin(node_id, "POST", f"/api/v1/connections/{cid}/drift-scan", {})
    assert started.status == 202, started.body
    run_jobs(cluster, node_id)
    job = cluster.admin(node_id, "GET", f"/api/v1/jobs/{started.body['job_id']}").body
    assert job["state"] == "done", job
    return job


def test_the_private_node_scans_through_the_public_one_and_repairs_it(cluster):
    cid = connect(cluster, acceptor="node-p", project="PRIV", destination=None)
    mine, theirs = synced_pair(cluster, cid)

    refused = cluster.admin("node-a", "POST", f"/api/v1/connections/{cid}/drift-scan", {})
    assert refused.status == 409 and refused.error == "peer_is_private"
    assert "private node" in refused.body["error"]["message"]

    assert scan_on(cluster, "node-p", cid)["result"]["drifted"] == 0
    public = cluster["node-a"].tracker
    public.issues[theirs] = replace(public.issues[theirs], summary="Printer fine")
    job = scan_on(cluster, "node-p", cid)
    assert [(t["local_key"], t["remote_key"], t["fields"]) for t in job["result"]["twins"]] == [
        (mine, theirs, ["summary"])
    ]
    repaired = cluster.admin(
        "node-p", "POST", f"/api/v1/connections/{cid}/drift-scan/{job['id']}/repair", {}
    )
    assert repaired.status == 202, repaired.body
    run_jobs(cluster, "node-p")
    move_queues(cluster, "node-p", "node-a")
    assert public.issues[theirs].summary == "Printer on fire"
    pull(cluster, cid)
    move_queues(cluster, "node-p", "node-a")
    assert scan_on(cluster, "node-p", cid)["result"]["drifted"] == 0


def test_the_drift_route_refuses_a_malformed_batch(cluster):
    from chalicelib.net.errors import PeerRefused
    from chalicelib.root import root
    from chalicelib.sync.links import get_connection, peer_end

    cid = connect(cluster, acceptor="node-p", project="PRIV", destination=None)
    with cluster.active(cluster["node-p"]):
        end = peer_end(get_connection(cid))
        for body in ({"items": []}, {"items": [{"key": 7}]}, {"items": [{}] * 51}):
            with pytest.raises(PeerRefused) as refused:
                root().sync.peer.call(end, "POST", f"/node/v1/connections/{cid}/drift", body)
            assert refused.value.status == 400 and refused.value.code == "invalid_drift_view"
