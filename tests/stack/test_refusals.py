"""Issue 11 over the local stack: a project without Task still gets the issue, and a write
the receiving Jira refuses shows on both nodes' twins at once, then clears on retry.

Node a (Jira Cloud sandbox) and node c (Jira Server sandbox) are connected public-public;
node c's incoming project is a service desk: "Service Request" and "Incident", no Task.
"""

from __future__ import annotations

import uuid

import pytest

from chalicelib.trackers.base import IssueFields
from tests.stack.conftest import connect, eventually, tracker_as, twin_key

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def desk(local_stack):
    key = f"D{uuid.uuid4().hex[:5].upper()}"
    local_stack.trackers["b"].admin.create_project(
        key, "Service desk", issue_types=["Service Request", "Incident"]
    )
    return key


@pytest.fixture(scope="module")
def cid(node_a, node_c, desk):
    return connect(
        node_a, node_c, initiator_project="BETA", acceptor_project=desk, destination_url=node_c.url
    )


@pytest.fixture(scope="module")
def alice_a(stack_info):
    return tracker_as(stack_info, "a")


@pytest.fixture(scope="module")
def alice_c(stack_info):
    return tracker_as(stack_info, "b")


def twin(node, cid, key):
    response = node.get(f"/api/v1/connections/{cid}/twins/{key}")
    assert response.status_code == 200, response.text
    return response.json()


def test_a_bug_reaches_a_server_project_without_task_as_one_of_its_types(
    node_a, cid, alice_a, alice_c
):
    ref = alice_a.create_issue("BETA", IssueFields(summary="Printer on fire", issue_type="Bug"))
    assert node_a.post(f"/api/v1/connections/{cid}/sync", {"issue_key": ref.key}).ok
    remote = eventually(lambda: twin_key(node_a, cid, ref.key))
    assert alice_c.get_issue(remote).issue_type == "Service Request"
    assert twin(node_a, cid, ref.key)["status"] == "synced"


def test_a_refused_create_shows_on_both_nodes_and_a_retry_clears_it(
    local_stack, node_a, node_c, cid, alice_a, alice_c
):
    admin_c = local_stack.trackers["b"].admin
    admin_c.faults(fail_next=1, error_status=400, method="POST", match="/rest/api/2/issue")
    try:
        ref = alice_a.create_issue("BETA", IssueFields(summary="Refused once", issue_type="Task"))
        assert node_a.post(f"/api/v1/connections/{cid}/sync", {"issue_key": ref.key}).ok

        def refused_on_a():
            shown = twin(node_a, cid, ref.key)
            assert shown["status"] == "error", shown
            return shown

        shown = eventually(refused_on_a)
    finally:
        admin_c.clear_faults()
    # c records its error as it answers a: the record may come a moment after a shows it
    (error,) = eventually(lambda: node_c.get(f"/api/v1/errors?connection_id={cid}").json())
    assert error["issue_key"] == ref.key and error["attempts"] == 1
    assert error["tracker_message"] in shown["error"]

    assert node_c.post(f"/api/v1/errors/{error['id']}/retry").ok
    remote = eventually(lambda: twin_key(node_a, cid, ref.key))
    eventually(lambda: twin(node_a, cid, ref.key)["status"] == "synced")
    assert twin(node_c, cid, remote)["status"] == "synced"
    assert alice_c.get_issue(remote).summary == "Refused once"
    assert node_c.get(f"/api/v1/errors?connection_id={cid}").json() == []
