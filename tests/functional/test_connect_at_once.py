"""Connect two existing issues across nodes: the other end is asked at once whenever it can
be called, from a private node too (it calls out to its public peer); when it cannot be
asked (a private peer, a peer that does not answer) the twin is ``queued`` as before and
the refusal comes later (node A public, node P private, in one process:
``tests.factories.cluster``)."""

from __future__ import annotations

import pytest

from tests.factories.cluster import three_nodes
from tests.functional.test_drift_private import pull, synced_pair
from tests.functional.test_refusals import connect, move_queues, sync_new_issue, twin


@pytest.fixture
def cluster(aws, monkeypatch):
    with three_nodes(aws, monkeypatch) as nodes:
        yield nodes


@pytest.fixture
def cid(cluster):
    """A's connection with the private node P (A has no URL for it: P accepted the code)."""
    return connect(cluster, acceptor="node-p", project="PRIV", destination=None)


def connect_on(cluster, node, cid, local_key, remote_key):
    return cluster.admin(
        node,
        "POST",
        f"/api/v1/connections/{cid}/connect",
        {"local_key": local_key, "remote_key": remote_key},
    )


def asked(cluster, cid):
    """How often a node asked A whether an issue of A's can be connected."""
    path = f"/node/v1/connections/{cid}/connectable"
    return sum(1 for method, url in cluster.router.requests if url.endswith(path))


def no_twin(cluster, node, cid, key):
    return cluster.admin(node, "GET", f"/api/v1/connections/{cid}/twins/{key}").status == 404


def test_a_private_node_is_told_at_once_that_the_remote_issue_does_not_exist(cluster, cid):
    mine = cluster["node-p"].tracker.add_issue("PRIV", "lonely").key
    answer = connect_on(cluster, "node-p", cid, mine, "SUP-404")
    assert answer.status == 404, answer.body
    assert answer.error == "remote_issue_not_found"
    assert answer.body["error"]["field"] == "remote_key"
    assert "SUP-404" in answer.body["error"]["message"]
    assert asked(cluster, cid) == 1
    assert no_twin(cluster, "node-p", cid, mine)  # nothing recorded, nothing sent
    move_queues(cluster, "node-p", "node-a")
    assert cluster["node-a"].tracker.issues == {}


def test_a_private_node_is_told_at_once_that_the_remote_issue_is_already_synced(cluster, cid):
    # A's issue is being synced for the first time (P has not pulled it yet): only A knows
    busy = sync_new_issue(cluster, cid, node="node-a", project="SUP")
    mine = cluster["node-p"].tracker.add_issue("PRIV", "ours").key
    answer = connect_on(cluster, "node-p", cid, mine, busy)
    assert (answer.status, answer.error) == (409, "remote_issue_already_synced"), answer.body
    assert busy in answer.body["error"]["message"]
    assert no_twin(cluster, "node-p", cid, mine)

    # a twin both ends know: refused here at once, without asking
    _, theirs = synced_pair(cluster, cid)
    before = asked(cluster, cid)
    answer = connect_on(cluster, "node-p", cid, mine, theirs)
    assert (answer.status, answer.error) == (409, "already_synced"), answer.body
    assert asked(cluster, cid) == before


def test_a_private_node_connects_a_valid_pair_after_asking(cluster, cid):
    mine = cluster["node-p"].tracker.add_issue("PRIV", "Printer on fire (private)").key
    theirs = cluster["node-a"].tracker.add_issue("SUP", "Printer on fire (public)").key
    answer = connect_on(cluster, "node-p", cid, mine, theirs)
    assert answer.status == 201, answer.body
    assert answer.body["remote"]["key"] == theirs and answer.body["status"] == "queued"
    assert asked(cluster, cid) == 1
    move_queues(cluster, "node-p", "node-a")
    pull(cluster, cid)
    move_queues(cluster, "node-p", "node-a")
    assert twin(cluster, "node-p", cid, mine)["status"] == "synced"
    assert twin(cluster, "node-a", cid, theirs)["remote"]["key"] == mine
    assert len(cluster["node-a"].tracker.issues) == 1  # nothing created
    assert len(cluster["node-p"].tracker.issues) == 1
    # the same request again: this pair is connected already, nobody is asked
    again = connect_on(cluster, "node-p", cid, mine, theirs)
    assert again.status == 201 and asked(cluster, cid) == 1


def test_when_the_public_peer_does_not_answer_the_connect_is_queued_as_before(cluster, cid):
    mine = cluster["node-p"].tracker.add_issue("PRIV", "lonely").key
    cluster["node-a"].down = True
    answer = connect_on(cluster, "node-p", cid, mine, "SUP-404")
    assert answer.status == 201, answer.body
    assert answer.body["status"] == "queued"
    cluster["node-a"].down = False
    # the connect request goes out once A answers, and A refuses it then
    move_queues(cluster, "node-p", "node-a")
    pull(cluster, cid)
    move_queues(cluster, "node-p", "node-a")
    shown = twin(cluster, "node-p", cid, mine)
    assert shown["status"] == "stopped" and "SUP-404" in shown["error"]


def test_a_public_node_cannot_ask_its_private_peer_so_the_connect_is_queued(cluster, cid):
    mine = cluster["node-a"].tracker.add_issue("SUP", "lonely").key
    answer = connect_on(cluster, "node-a", cid, mine, "PRIV-9")
    assert answer.status == 201, answer.body
    assert answer.body["status"] == "queued"
    assert not any("/connectable" in url for _, url in cluster.router.requests)
    # P pulls the connect request and refuses it; A's twin stops with the reason
    pull(cluster, cid)
    move_queues(cluster, "node-p", "node-a")
    shown = twin(cluster, "node-a", cid, mine)
    assert shown["status"] == "stopped" and "PRIV-9" in shown["error"]
    assert len(cluster["node-p"].tracker.issues) == 0


def test_two_public_nodes_ask_each_other_at_once(cluster):
    cid = connect(cluster)  # A and B, both public
    mine = cluster["node-a"].tracker.add_issue("SUP", "ours").key
    answer = connect_on(cluster, "node-a", cid, mine, "TEST-77")
    assert (answer.status, answer.error) == (404, "remote_issue_not_found"), answer.body
    theirs = cluster["node-b"].tracker.add_issue("TEST", "theirs").key
    assert connect_on(cluster, "node-a", cid, mine, theirs).status == 201
    move_queues(cluster, "node-a", "node-b")
    assert twin(cluster, "node-a", cid, mine)["status"] == "synced"


def test_the_connectable_route_answers_verdicts_and_refuses_a_bad_key(cluster, cid):
    from chalicelib.net.errors import PeerRefused
    from chalicelib.root import root
    from chalicelib.sync.links import get_connection, peer_end

    theirs = cluster["node-a"].tracker.add_issue("SUP", "theirs").key
    path = f"/node/v1/connections/{cid}/connectable"
    with cluster.active(cluster["node-p"]):
        end = peer_end(get_connection(cid))
        peer = root().sync.peer
        assert peer.call(end, "POST", path, {"key": theirs, "twin_key": "PRIV-1"}) == {
            "key": theirs,
            "verdict": "connectable",
            "message": None,
        }
        missing = peer.call(end, "POST", path, {"key": "SUP-999", "twin_key": "PRIV-1"})
        assert missing["verdict"] == "not_found" and "SUP-999" in missing["message"]
        for body in ({"key": "nope", "twin_key": "PRIV-1"}, {"key": theirs}):
            with pytest.raises(PeerRefused) as refused:
                peer.call(end, "POST", path, body)
            assert refused.value.status == 400
    assert len(cluster["node-a"].tracker.issues) == 1
