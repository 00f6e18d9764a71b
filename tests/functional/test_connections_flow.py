"""Initiate on one node, accept on another: the reference pages' flows and every refusal.

Nodes A (public), B (public) and P (private) share one moto; calls between them go through
the real peer client with the network replaced by the cluster router. Refusals check that
nothing was stored on either side.
"""

from __future__ import annotations

import json
import time

import pytest

from chalicelib.ops.accept import accept as accept_code
from chalicelib.ops.initiate import initiate as initiate_connection
from chalicelib.root import root
from tests.factories.cluster import A_URL, B_URL, three_nodes


@pytest.fixture
def cluster(aws, monkeypatch):
    with three_nodes(aws, monkeypatch) as nodes:
        yield nodes


def initiate(cluster, node="node-a", **overrides):
    body = {
        "destination_url": None,
        "mode": "basic",
        "local_short_name": "A",
        "remote_short_name": "B",
        "name": "A_to_B",
        "incoming_project": "SUP",
    }
    body.update(overrides)
    return cluster.admin(node, "POST", "/api/v1/connections", body)


def accept(cluster, code, node="node-p", project="PRIV"):
    return cluster.admin(
        node,
        "POST",
        "/api/v1/invitations/accept",
        {"invitation_code": code, "incoming_project": project},
    )


def stored(cluster, node):
    from chalicelib.store.models import ConnectionModel, InvitationModel

    with cluster.active(cluster[node]):
        return (
            sorted((c.id, c.status, c.remote_node_id) for c in ConnectionModel.scan()),
            sorted((i.id, i.status, i.accepted_by) for i in InvitationModel.scan()),
        )


def show(cluster, node, cid):
    return cluster.admin(node, "GET", f"/api/v1/connections/{cid}").body


# --- pages 000 / 001 / 002: private destination, "I don't have a URL" ---------------------


@pytest.mark.parametrize("mode", ["basic", "script"])
def test_private_destination_accepts_the_code_and_both_ends_turn_active(cluster, mode):
    created = initiate(cluster, mode=mode)
    assert created.status == 201
    pending = created.body["connection"]
    assert (pending["status"], pending["remote"]) == ("pending", None)

    accepted = accept(cluster, created.body["invitation_code"])
    assert accepted.status == 201, accepted.body
    b_end = accepted.body["connection"]
    assert b_end["id"] == pending["id"]
    assert b_end["status"] == "active"
    assert b_end["role"] == "acceptor"
    assert b_end["mode"] == mode
    assert (b_end["local_short_name"], b_end["remote_short_name"]) == ("B", "A")
    assert b_end["incoming_project"] == "PRIV"
    assert b_end["remote"] == {"node_id": "node-a", "url": A_URL, "public": True}
    assert b_end["name"] == "A_to_B"

    a_end = show(cluster, "node-a", pending["id"])
    assert a_end["status"] == "active"
    assert a_end["remote"] == {"node_id": "node-p", "url": None, "public": False}
    assert a_end["incoming_project"] == "SUP"
    assert ("outgoing_script" in a_end) is (mode == "script")
    _, invitations = stored(cluster, "node-a")
    assert [(status, by) for _, status, by in invitations] == [("used", "node-p")]


def test_accepting_again_from_the_same_node_answers_with_the_existing_end(cluster):
    code = initiate(cluster).body["invitation_code"]
    first = accept(cluster, code)
    again = accept(cluster, code)
    assert again.status == 200
    assert again.body == first.body
    assert len(stored(cluster, "node-p")[0]) == 1


def test_retry_after_the_acceptor_lost_its_answer_is_completed_not_refused(cluster):
    """A recorded the handshake but B never stored its end: B's retry still succeeds."""
    code = initiate(cluster).body["invitation_code"]
    assert accept(cluster, code).status == 201
    from chalicelib.store.models import ConnectionModel, KeyModel

    with cluster.active(cluster["node-p"]):  # simulate B crashing before its write
        for conn in ConnectionModel.scan():
            conn.delete()
        for key in KeyModel.scan():
            key.delete()
    retried = accept(cluster, code)
    assert retried.status == 201
    assert retried.body["connection"]["status"] == "active"


# --- refusals: nothing stored on either side ----------------------------------------------


def snapshot(cluster):
    return {n: stored(cluster, n) for n in ("node-a", "node-b", "node-p")}


def test_cut_and_altered_codes_are_refused_locally(cluster):
    code = initiate(cluster).body["invitation_code"]
    before = snapshot(cluster)
    requests_before = len(cluster.router.requests)
    i = len("TS1.") + 30
    cases = {
        code[: len(code) // 2]: "invalid_invitation_code",
        code[:-3]: "invalid_invitation_code",
        "not a code": "invalid_invitation_code",
        code[:i] + ("A" if code[i] != "A" else "B") + code[i + 1 :]: "invitation_checksum_mismatch",
    }
    for damaged, expected in cases.items():
        answer = accept(cluster, damaged)
        assert (answer.status, answer.error) == (400, expected), damaged
        assert answer.body["error"]["field"] == "invitation_code"
    assert snapshot(cluster) == before
    assert len(cluster.router.requests) == requests_before  # the initiator was never called


def test_expired_code_is_refused(cluster):
    with cluster.active(cluster["node-a"]):
        result = initiate_connection(
            {
                "destination_url": None,
                "mode": "basic",
                "local_short_name": "A",
                "remote_short_name": "B",
                "name": "old",
                "incoming_project": "SUP",
            },
            now=time.time() - 73 * 3600,
            **node_collaborators(),
        )
    before = snapshot(cluster)
    answer = accept(cluster, result.invitation_code)
    assert (answer.status, answer.error) == (410, "invitation_expired")
    assert snapshot(cluster) == before


def test_expiry_is_enforced_by_the_initiator_too(cluster):
    """A clock-skewed acceptor that thinks the code is fresh is still refused by A."""
    from chalicelib.connections import invitation as codec

    with cluster.active(cluster["node-a"]):
        result = initiate_connection(
            {
                "destination_url": None,
                "mode": "basic",
                "local_short_name": "A",
                "remote_short_name": "B",
                "name": "old",
                "incoming_project": "SUP",
            },
            now=time.time() - 73 * 3600,
            **node_collaborators(),
        )
        expires = codec.decode(result.invitation_code, check_expiry=False).expires_at
    before = snapshot(cluster)
    with cluster.active(cluster["node-p"]):
        from chalicelib.errors import Gone

        with pytest.raises(Gone) as caught:
            accept_code(
                {"invitation_code": result.invitation_code, "incoming_project": "PRIV"},
                now=expires - 10,
                **node_collaborators(),
            )
    assert caught.value.code == "invitation_expired"
    assert snapshot(cluster) == before


def test_a_used_code_is_refused_for_another_node(cluster):
    code = initiate(cluster).body["invitation_code"]
    assert accept(cluster, code, node="node-b", project="TEST").status == 201
    before = snapshot(cluster)
    answer = accept(cluster, code, node="node-p")
    assert (answer.status, answer.error) == (409, "invitation_used")
    assert snapshot(cluster) == before


def test_a_revoked_code_is_unknown_to_the_initiator(cluster):
    created = initiate(cluster).body
    cluster.admin("node-a", "DELETE", f"/api/v1/connections/{created['connection']['id']}")
    before = snapshot(cluster)
    answer = accept(cluster, created["invitation_code"])
    assert (answer.status, answer.error) == (404, "invitation_unknown")
    assert snapshot(cluster) == before


def test_an_unreachable_initiator_is_safe_to_retry(cluster):
    code = initiate(cluster).body["invitation_code"]
    before = snapshot(cluster)
    cluster["node-a"].down = True
    answer = accept(cluster, code)
    assert (answer.status, answer.error) == (502, "initiator_unreachable")
    assert "safe to try again" in answer.body["error"]["message"]
    assert snapshot(cluster) == before
    cluster["node-a"].down = False
    assert accept(cluster, code).status == 201


def test_accepting_on_the_issuing_node_points_to_a_local_connection(cluster):
    code = initiate(cluster).body["invitation_code"]
    before = snapshot(cluster)
    answer = accept(cluster, code, node="node-a", project="DEV")
    assert (answer.status, answer.error) == (409, "use_a_local_connection")
    assert snapshot(cluster) == before


def test_unknown_project_on_the_acceptor_is_refused_before_the_handshake(cluster):
    code = initiate(cluster).body["invitation_code"]
    before = snapshot(cluster)
    answer = accept(cluster, code, project="NOPE")
    assert (answer.status, answer.error) == (422, "unknown_project")
    assert "NOPE" in answer.body["error"]["message"]
    assert snapshot(cluster) == before


def test_a_mode_the_acceptor_does_not_offer_is_refused(aws, monkeypatch):
    with three_nodes(aws, monkeypatch, TWINSYNC_MODES="basic") as cluster:
        code = initiate(cluster, mode="script").body["invitation_code"]
        before = snapshot(cluster)
        answer = accept(cluster, code, node="node-b", project="TEST")
        assert (answer.status, answer.error) == (422, "mode_not_available")
        assert snapshot(cluster) == before


def test_a_forged_handshake_proof_is_refused(cluster):
    code = initiate(cluster).body["invitation_code"]
    from chalicelib.connections import invitation as codec

    inv = codec.decode(code)
    before = snapshot(cluster)
    body = {
        "protocol": 1,
        "invitation_id": inv.invitation_id,
        "connection_id": inv.connection_id,
        "node_id": "node-x",
        "name": "X",
        "url": None,
        "short_name": "B",
        "proof": "0" * 64,
    }
    answer = cluster.raw(
        "node-a",
        "POST",
        "/node/v1/handshake",
        headers={"Content-Type": "application/json"},
        body=json.dumps(body).encode(),
    )
    assert (answer.status, answer.error) == (403, "invalid_proof")
    assert snapshot(cluster) == before


# --- page 003 / 004: a public destination URL ---------------------------------------------


def test_with_a_url_the_destination_is_checked_and_named(cluster):
    created = initiate(cluster, destination_url=B_URL + "/")
    assert created.status == 201
    assert created.body["invitation_code"].startswith("TS1.")
    assert created.body["redirect_url"] is None
    pending = created.body["connection"]
    assert pending["status"] == "pending"
    assert pending["remote"] == {"node_id": "node-b", "url": B_URL, "public": True}
    assert ("GET", B_URL + "/node/v1/info") in cluster.router.requests

    accepted = accept(cluster, created.body["invitation_code"], node="node-b", project="TEST")
    assert accepted.status == 201
    assert accepted.body["connection"]["remote"] == {
        "node_id": "node-a",
        "url": A_URL,
        "public": True,
    }
    assert show(cluster, "node-a", pending["id"])["remote"] == {
        "node_id": "node-b",
        "url": B_URL,
        "public": True,
    }


def test_with_admin_access_the_admin_is_sent_to_the_destination_console(cluster):
    created = initiate(cluster, destination_url=B_URL, admin_access=True, mode="script")
    assert created.status == 201
    assert created.body["invitation_code"] is None
    redirect = created.body["redirect_url"]
    assert redirect.startswith(B_URL + "/console/accept#code=TS1.")
    code = redirect.split("#code=", 1)[1]
    confirmed = accept(cluster, code, node="node-b", project="TEST")
    assert confirmed.status == 201
    assert confirmed.body["connection"]["status"] == "active"


def test_a_code_for_one_destination_cannot_be_accepted_elsewhere(cluster):
    code = initiate(cluster, destination_url=B_URL).body["invitation_code"]
    before = snapshot(cluster)
    answer = accept(cluster, code, node="node-p")
    assert (answer.status, answer.error) == (403, "invitation_for_another_node")
    assert snapshot(cluster) == before


def test_a_mode_the_destination_does_not_offer_is_refused_at_initiation(aws, monkeypatch):
    with three_nodes(aws, monkeypatch, TWINSYNC_MODES="basic") as cluster:
        answer = initiate(cluster, destination_url=B_URL, mode="script")
        assert (answer.status, answer.error) == (422, "mode_not_available")
        assert "basic" in answer.body["error"]["message"]
        assert stored(cluster, "node-a") == ([], [])


@pytest.mark.parametrize(
    "url",
    ["https://nowhere.twinsync.test", "https://tracker.test/jira", "not a url"],
)
def test_an_unusable_destination_suggests_i_dont_have_a_url(cluster, url):
    answer = initiate(cluster, destination_url=url)
    assert answer.status in (400, 422)
    assert answer.error in ("destination_unreachable", "destination_url_not_allowed")
    assert "I don't have a URL" in answer.body["error"]["message"]
    assert answer.body["error"]["field"] == "destination_url"
    assert stored(cluster, "node-a") == ([], [])


def test_the_nodes_own_url_makes_a_local_connection_active_at_once(cluster):
    answer = initiate(cluster, destination_url=A_URL, destination_incoming_project="DEV")
    assert answer.status == 201, answer.body
    assert answer.body["invitation_code"] is None and answer.body["redirect_url"] is None
    first = answer.body["connection"]
    assert first["status"] == "active"
    assert first["remote"] == {"node_id": "node-a", "url": A_URL, "public": True}
    ends = cluster.admin("node-a", "GET", "/api/v1/connections").body
    assert sorted((e["role"], e["incoming_project"], e["status"]) for e in ends) == [
        ("acceptor", "DEV", "active"),
        ("initiator", "SUP", "active"),
    ]
    assert not any(url.endswith("/node/v1/info") for _, url in cluster.router.requests)


def test_a_local_connection_needs_a_second_existing_project(cluster):
    missing = initiate(cluster, destination_url=A_URL)
    assert (missing.status, missing.error) == (400, "missing_field")
    assert missing.body["error"]["field"] == "destination_incoming_project"
    unknown = initiate(cluster, destination_url=A_URL, destination_incoming_project="NOPE")
    assert (unknown.status, unknown.error) == (422, "unknown_project")
    same = initiate(cluster, destination_url=A_URL, destination_incoming_project="SUP")
    assert same.status == 400
    assert stored(cluster, "node-a") == ([], [])


def test_a_local_connection_is_managed_as_one(cluster):
    first = initiate(cluster, destination_url=A_URL, destination_incoming_project="DEV").body[
        "connection"
    ]
    path = f"/api/v1/connections/{first['id']}"
    cluster.admin("node-a", "PATCH", path, {"name": "SUP_DEV"})
    deactivated = cluster.admin("node-a", "POST", path + "/deactivate")
    assert deactivated.body["status"] == "deactivated"
    ends = cluster.admin("node-a", "GET", "/api/v1/connections").body
    assert {(e["name"], e["status"]) for e in ends} == {("SUP_DEV", "deactivated")}
    cluster.admin("node-a", "POST", path + "/activate")
    assert {e["status"] for e in cluster.admin("node-a", "GET", "/api/v1/connections").body} == {
        "active"
    }
    assert cluster.admin("node-a", "DELETE", path).status == 204
    assert cluster.admin("node-a", "GET", "/api/v1/connections").body == []


# --- the other end is told --------------------------------------------------------------


def connected(cluster, acceptor="node-b", project="TEST"):
    code = initiate(cluster).body["invitation_code"]
    return accept(cluster, code, node=acceptor, project=project).body["connection"]["id"]


def test_deactivation_and_activation_are_shown_on_the_other_end(cluster):
    cid = connected(cluster)
    path = f"/api/v1/connections/{cid}"
    answer = cluster.admin("node-a", "POST", path + "/deactivate", {"reason": "maintenance"})
    assert answer.body["status"] == "deactivated"
    other = show(cluster, "node-b", cid)
    assert other["status"] == "deactivated"
    assert "Node A" in other["status_reason"] and "maintenance" in other["status_reason"]
    # B cannot undo A's switch; A can
    assert cluster.admin("node-b", "POST", path + "/activate").body["status"] == "deactivated"
    cluster.admin("node-a", "POST", path + "/activate")
    assert show(cluster, "node-b", cid)["status"] == "active"
    assert show(cluster, "node-b", cid)["status_reason"] is None


def test_a_private_end_tells_the_public_one(cluster):
    cid = connected(cluster, acceptor="node-p", project="PRIV")
    cluster.admin("node-p", "POST", f"/api/v1/connections/{cid}/deactivate")
    assert show(cluster, "node-a", cid)["status"] == "deactivated"
    assert "Node P" in show(cluster, "node-a", cid)["status_reason"]


def test_a_private_end_learns_by_asking(cluster):
    from chalicelib.ops import manage

    cid = connected(cluster, acceptor="node-p", project="PRIV")
    cluster.admin("node-a", "POST", f"/api/v1/connections/{cid}/deactivate")
    assert show(cluster, "node-p", cid)["status"] == "active"  # A could not reach P
    with cluster.active(cluster["node-p"]):
        manage.check_peer(cid, **node_collaborators(tracker=False), sync=root().sync)
    assert show(cluster, "node-p", cid)["status"] == "deactivated"
    cluster.admin("node-a", "DELETE", f"/api/v1/connections/{cid}")
    with cluster.active(cluster["node-p"]):
        manage.check_peer(cid, **node_collaborators(tracker=False), sync=root().sync)
    shown = show(cluster, "node-p", cid)
    assert shown["status"] == "error"
    assert "deleted" in shown["status_reason"]


def test_delete_is_shown_on_the_other_end_which_cannot_reactivate(cluster):
    cid = connected(cluster)
    assert cluster.admin("node-a", "DELETE", f"/api/v1/connections/{cid}").status == 204
    other = show(cluster, "node-b", cid)
    assert other["status"] == "error"
    assert "deleted" in other["status_reason"]
    answer = cluster.admin("node-b", "POST", f"/api/v1/connections/{cid}/activate")
    assert (answer.status, answer.error) == (409, "remote_deleted")


def test_a_notice_that_could_not_be_delivered_is_kept_and_retried(cluster):
    from chalicelib.ops import manage

    cid = connected(cluster)
    cluster["node-b"].down = True
    cluster.admin("node-a", "POST", f"/api/v1/connections/{cid}/deactivate")
    cluster["node-b"].down = False
    assert show(cluster, "node-b", cid)["status"] == "active"
    with cluster.active(cluster["node-a"]):
        assert manage.deliver_pending_notices(**node_collaborators(tracker=False)) == 1
        assert manage.deliver_pending_notices(**node_collaborators(tracker=False)) == 0
    assert show(cluster, "node-b", cid)["status"] == "deactivated"


def node_collaborators(*, tracker: bool = True) -> dict:
    """What the admin API hands the connection operations: the active node's root's."""
    node = root()
    given = {"settings": node.settings, "peer": node.peer}
    return {**given, "tracker": node.tracker} if tracker else given
