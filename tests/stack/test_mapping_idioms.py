"""Status by transition and custom fields by name over the local stack: node a (Jira Cloud
sandbox "a") and node c (public, Jira Server sandbox "b"), script mode, real processes.

- a script maps status a → c ("In Progress" stays, "Done" → "Done"): the twin on c moves
  through its workflow's transitions, one step at a time;
- a custom field travels by name ("Customer") both ways, each side writing it by name
  (each sandbox gives it its own id);
- a status no transition of c's workflow leads to is an error on c's twin, and the rest
  of the change still syncs.
"""

from __future__ import annotations

import uuid

import pytest

from chalicelib.trackers.base import IssueFields
from devstack.sandbox_jira.admin import SandboxAdmin
from tests.stack.conftest import eventually, tracker_as

pytestmark = pytest.mark.stack

OUTGOING = """\
replica.summary = issue.summary
replica.type = issue.type
replica.status = issue.status
replica.fields["Customer"] = issue.fields.get("Customer")
"""

INCOMING = """\
if changed("summary"):
    issue.summary = replica.summary
if first_sync:
    issue.type = get_issue_type(replica.type)
if changed("status") and replica.status:
    issue.status = {"In Progress": "In Progress", "Done": "Done"}.get(replica.status.name)
if changed("fields.Customer"):
    issue.fields["Customer"] = replica.fields.get("Customer")
"""


@pytest.fixture(scope="module")
def scripted(stack_info, node_a, node_c) -> str:
    for tracker in ("a", "b"):
        SandboxAdmin(stack_info["trackers"][tracker]["url"]).ensure_field("Customer")
    created = node_a.post(
        "/api/v1/connections",
        {
            "destination_url": node_c.url,
            "mode": "script",
            "local_short_name": "Acme",
            "remote_short_name": "Initech",
            "name": f"idioms-{uuid.uuid4().hex[:6]}",
            "incoming_project": "ALPHA",
        },
    )
    assert created.status_code == 201, created.text
    accepted = node_c.post(
        "/api/v1/invitations/accept",
        {"invitation_code": created.json()["invitation_code"], "incoming_project": "SUP"},
    )
    assert accepted.status_code == 201, accepted.text
    cid = accepted.json()["connection"]["id"]
    for node in (node_a, node_c):
        changed = node.patch(
            f"/api/v1/connections/{cid}",
            {"outgoing_script": OUTGOING, "incoming_script": INCOMING},
        )
        assert changed.status_code == 200, changed.text
    return cid


def twin_key_on_c(node_a, cid: str, key: str) -> str:
    def remote_key():
        twin = node_a.get(f"/api/v1/connections/{cid}/twins/{key}")
        return twin.status_code == 200 and (twin.json()["remote"] or {}).get("key")

    return eventually(remote_key)


def test_status_by_transition_and_a_custom_field_by_name(stack_info, node_a, scripted):
    alice_a, alice_c = tracker_as(stack_info, "a"), tracker_as(stack_info, "b")
    ref = alice_a.create_issue(
        "ALPHA",
        IssueFields(
            summary=f"Idioms {uuid.uuid4().hex[:6]}", issue_type="Task", custom={"Customer": "ACME"}
        ),
    )
    answer = node_a.post(f"/api/v1/connections/{scripted}/sync", {"issue_key": ref.key})
    assert answer.status_code == 202, answer.text
    twin = twin_key_on_c(node_a, scripted, ref.key)
    eventually(lambda: alice_c.get_issue(twin).fields.get("Customer") == "ACME")
    assert alice_c.get_issue(twin).status == "To Do"

    # a → c: each status change is a transition of c's workflow
    assert alice_a.transition_issue(ref.key, "In Progress")
    eventually(lambda: alice_c.get_issue(twin).status == "In Progress")
    assert alice_a.transition_issue(ref.key, "Done")
    eventually(lambda: alice_c.get_issue(twin).status == "Done")
    shown = node_a.get(f"/api/v1/connections/{scripted}/twins/{ref.key}").json()
    assert shown["status"] == "synced"

    # c → a: the custom field by name, written on a by name (a's own field id)
    alice_c.update_issue(twin, IssueFields(custom={"Customer": "Initech"}))
    eventually(lambda: alice_a.get_issue(ref.key).fields.get("Customer") == "Initech")
    assert alice_a.get_issue(ref.key).status == "Done"  # c's status went nowhere new


def test_a_status_without_a_transition_shows_on_the_twin(stack_info, node_a, node_c, scripted):
    alice_a, alice_c = tracker_as(stack_info, "a"), tracker_as(stack_info, "b")
    ref = alice_a.create_issue(
        "ALPHA", IssueFields(summary=f"Jump {uuid.uuid4().hex[:6]}", issue_type="Task")
    )
    node_a.post(f"/api/v1/connections/{scripted}/sync", {"issue_key": ref.key})
    twin = twin_key_on_c(node_a, scripted, ref.key)
    eventually(lambda: node_c.get(f"/api/v1/connections/{scripted}/twins/{twin}").ok)
    # To Do → Done on a (the admin shortcut, as a workflow with a direct transition would)
    SandboxAdmin(stack_info["trackers"]["a"]["url"]).set_status(ref.key, "Done")
    alice_a.update_issue(ref.key, IssueFields(summary="Jumped ahead"))

    def twin_error():
        shown = node_c.get(f"/api/v1/connections/{scripted}/twins/{twin}").json()
        return shown["status"] == "error" and shown["error"]

    error = eventually(twin_error)
    assert "Status 'Done'" in error and "no workflow transition" in error
    issue = alice_c.get_issue(twin)
    assert (issue.summary, issue.status) == ("Jumped ahead", "To Do")  # the rest synced
