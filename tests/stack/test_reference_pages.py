"""The reference pages (``../shared/reference/000``-``004``), walked step by step over the
local stack: real node processes on loopback, sandbox Jiras, the embedded AWS.

Stack nodes: ``a`` public on a Jira Cloud sandbox (projects ALPHA, BETA); ``b`` private on
a Jira Server sandbox (OPS, SUP); ``c`` public on the same Jira Server sandbox. Each step of
a page is one admin API call, named after the page's step.
"""

from __future__ import annotations

import uuid

import pytest
import requests

from chalicelib.trackers.base import IssueFields
from tests.contract_check import checked_session
from tests.factories.link_pages import items, walk
from tests.stack.conftest import eventually, tracker_as

pytestmark = pytest.mark.stack


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def connections_tab(node) -> list[dict]:
    """Step 1, "Navigate to the Connections tab": every page of the list (Link headers)."""

    def fetch(path: str):
        answer = node.get(path)
        return answer.status_code, answer.json(), answer.headers

    return items(walk(fetch, "/api/v1/connections?limit=500"))


def select_project(node, key: str) -> dict:
    """ "Select a project for the incoming sync": the choices, with issue types."""
    answer = node.get("/api/v1/projects")
    assert answer.status_code == 200, answer.text
    projects = {p["key"]: p for p in answer.json()}
    assert key in projects, projects
    assert projects[key]["issue_types"]
    return projects[key]


def general_settings_url(node) -> str:
    """ "The Exalate URL from the General Settings tab" of the partner."""
    return node.get("/api/v1/node").json()["public_url"]


def modes_offered(url: str) -> list[str]:
    """ "Exalate suggests available connection types based on the destination"."""
    info = checked_session().get(url + "/node/v1/info", timeout=10).json()
    return info["modes"]


def initiate(node, **body) -> dict:
    """Step "Initiate"."""
    answer = node.post("/api/v1/connections", body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def accept_invitation(node, code: str, project: str) -> requests.Response:
    """The partner's "Accept invitation" button: paste the code, select a project, Confirm."""
    select_project(node, project)
    return node.post(
        "/api/v1/invitations/accept", {"invitation_code": code, "incoming_project": project}
    )


def status_of(node, cid: str) -> str:
    return node.get(f"/api/v1/connections/{cid}").json()["status"]


# --- 000: private connection in Basic mode, initiated from Jira On-premise ----------------


def test_page_000_private_basic_from_jira_on_premise(node_c, node_b):
    connections_tab(node_c)  # 1
    # 2 "Initiate connection", 3 "I don't have a URL", 4 "Basic", 5 "Next"
    select_project(node_c, "OPS")  # 6 "Select a project for the incoming sync"
    created = initiate(  # 8 "Initiate"
        node_c,
        destination_url=None,
        mode="basic",
        local_short_name="Initech",
        remote_short_name="Globex",
        name=unique("onprem-private"),
        incoming_project="OPS",
    )
    # 9 "Copy Invitation Code": the destination is shown as "unknown"
    code = created["invitation_code"]
    assert code.startswith("TS1.") and "\n" not in code
    conn = created["connection"]
    assert conn["remote"] is None and conn["status"] == "pending"
    assert conn["id"] in {c["id"] for c in connections_tab(node_c)}  # 10 "Done"

    # the private side's admin: "Accept invitation" in the Connections tab, paste the code
    accepted = accept_invitation(node_b, code, "SUP")
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["connection"]["status"] == "active"
    # "Once your partner accepts the invitation, you can start synchronization"
    assert status_of(node_c, conn["id"]) == "active"
    other = node_c.get(f"/api/v1/connections/{conn['id']}").json()["remote"]
    assert other["public"] is False and other["url"] is None

    # "You cannot modify Sync Rules in Basic Mode ... you must upgrade to Script Mode"
    edit = node_c.patch(f"/api/v1/connections/{conn['id']}", {"outgoing_script": "x = 1"})
    assert edit.status_code == 409
    assert edit.json()["error"]["code"] == "rules_not_editable_in_basic_mode"


# --- 001: private connection in Basic mode, initiated from Jira Cloud ---------------------


def test_page_001_private_basic_from_jira_cloud(node_a, node_b):
    connections_tab(node_a)
    select_project(node_a, "ALPHA")
    created = initiate(
        node_a,
        destination_url=None,  # "I don't have a URL"
        mode="basic",
        local_short_name="Acme",
        remote_short_name="Globex",
        name=unique("cloud-private"),
        incoming_project="ALPHA",
    )
    assert created["connection"]["remote"] is None
    cid = created["connection"]["id"]
    accepted = accept_invitation(node_b, created["invitation_code"], "OPS")
    assert accepted.status_code == 201, accepted.text
    b_end = accepted.json()["connection"]
    assert (b_end["local_short_name"], b_end["remote_short_name"]) == ("Globex", "Acme")
    assert b_end["remote"]["url"] == general_settings_url(node_a)
    assert status_of(node_a, cid) == "active"

    # the same code again from the same node: the same connection, not a second one
    again = accept_invitation(node_b, created["invitation_code"], "OPS")
    assert again.status_code == 200
    assert again.json()["connection"]["id"] == cid
    assert [c["id"] for c in connections_tab(node_b)].count(cid) == 1

    # the private side deactivates: the public side shows it, with a reason
    node_b.post(f"/api/v1/connections/{cid}/deactivate", {"reason": "holiday freeze"})
    shown = node_a.get(f"/api/v1/connections/{cid}").json()
    assert shown["status"] == "deactivated" and "holiday freeze" in shown["status_reason"]
    node_b.post(f"/api/v1/connections/{cid}/activate")
    assert status_of(node_a, cid) == "active"


# --- 002: private connection in Script mode, from Jira Cloud ------------------------------


def test_page_002_private_script_from_jira_cloud(node_a, node_b):
    connections_tab(node_a)
    select_project(node_a, "BETA")
    created = initiate(
        node_a,
        destination_url=None,  # 3 toggle "I don't have a URL"
        mode="script",  # 4 "Script"
        # 6 "Connection information"
        local_short_name="Acme",
        remote_short_name="company-B",
        name=unique("cloud-script"),
        description="Script mode, private partner",
        incoming_project="BETA",  # 7
    )
    conn = created["connection"]
    assert conn["mode"] == "script" and conn["description"] == "Script mode, private partner"
    assert conn["outgoing_script"] and conn["incoming_script"]
    accepted = accept_invitation(node_b, created["invitation_code"], "OPS")
    assert accepted.status_code == 201, accepted.text
    b_end = accepted.json()["connection"]
    assert b_end["mode"] == "script" and b_end["local_short_name"] == "company-B"
    assert status_of(node_a, conn["id"]) == "active"
    # Script mode: each side edits its own rules
    edited = node_b.patch(
        f"/api/v1/connections/{conn['id']}", {"incoming_script": b_end["incoming_script"]}
    )
    assert edited.status_code == 200, edited.text


# --- 003: Basic mode with a destination URL, from Jira Cloud ------------------------------


def test_page_003_basic_with_url_without_admin_access(stack_info, node_a, node_c):
    url = general_settings_url(node_c)  # 3 "Destination Instance URL"
    assert "basic" in modes_offered(url)  # 4 "Basic"
    select_project(node_a, "ALPHA")  # 6
    created = initiate(  # 8 "No, I don't have admin access" & "Initiate"
        node_a,
        destination_url=url,
        mode="basic",
        local_short_name="Acme",
        remote_short_name="Initech",
        name=unique("cloud-basic-url"),
        incoming_project="ALPHA",
        admin_access=False,
    )
    conn = created["connection"]
    assert created["redirect_url"] is None
    assert conn["remote"]["url"] == url and conn["status"] == "pending"
    # 9 "Copy invitation code" → the destination admin accepts, 14 "Confirm"
    accepted = accept_invitation(node_c, created["invitation_code"], "SUP")
    assert accepted.status_code == 201, accepted.text
    assert status_of(node_a, conn["id"]) == "active"

    # "Connection established successfully. Sync your first issue"
    alice = tracker_as(stack_info, "a")
    ref = alice.create_issue(
        "ALPHA", IssueFields(summary=f"First issue {uuid.uuid4().hex[:6]}", issue_type="Task")
    )
    started = node_a.post(f"/api/v1/connections/{conn['id']}/sync", {"issue_key": ref.key})
    assert started.status_code == 202, started.text
    twin = eventually(
        lambda: node_a.get(f"/api/v1/connections/{conn['id']}/twins/{ref.key}").json()["remote"],
        timeout=60,
    )
    assert twin["key"].startswith("SUP-")


def test_page_003_basic_with_url_and_admin_access(node_a, node_c):
    url = general_settings_url(node_c)
    created = initiate(  # "Yes, I have admin access" & "Initiate"
        node_a,
        destination_url=url,
        mode="basic",
        local_short_name="Acme",
        remote_short_name="Initech",
        name=unique("cloud-basic-admin"),
        incoming_project="BETA",
        admin_access=True,
    )
    # "You are redirected to the destination instance to establish a connection"
    redirect = created["redirect_url"]
    assert redirect.startswith(url + "/console/accept#code=TS1.")
    code = redirect.split("#code=", 1)[1]
    # on the destination: 9 "Select the project", 10 "Confirm"
    confirmed = accept_invitation(node_c, code, "OPS")
    assert confirmed.status_code == 201, confirmed.text
    assert confirmed.json()["connection"]["status"] == "active"  # "established successfully"
    assert status_of(node_a, created["connection"]["id"]) == "active"


def test_page_003_own_url_is_a_local_connection(node_a):
    own = general_settings_url(node_a)
    created = initiate(
        node_a,
        destination_url=own,
        mode="basic",
        local_short_name="Alpha",
        remote_short_name="Beta",
        name=unique("local"),
        incoming_project="ALPHA",
        destination_incoming_project="BETA",
    )
    assert created["invitation_code"] is None and created["redirect_url"] is None
    assert created["connection"]["status"] == "active"
    pair = [c for c in connections_tab(node_a) if c["name"] == created["connection"]["name"]]
    assert sorted(c["incoming_project"] for c in pair) == ["ALPHA", "BETA"]


def test_page_003_a_destination_that_is_not_twinsync_suggests_no_url(node_a, stack_info):
    jira = stack_info["trackers"]["a"]["url"]
    answer = node_a.post(
        "/api/v1/connections",
        {
            "destination_url": jira,
            "mode": "basic",
            "local_short_name": "Acme",
            "remote_short_name": "X",
            "name": unique("not-twinsync"),
            "incoming_project": "ALPHA",
        },
    )
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "destination_unreachable"
    assert "I don't have a URL" in error["message"]


# --- 004: Script mode with a destination URL, from Jira Cloud -----------------------------


def test_page_004_script_with_url(node_a, node_c):
    connections_tab(node_a)  # 1
    url = general_settings_url(node_c)  # 3
    assert "script" in modes_offered(url)  # 4 "Script"
    select_project(node_a, "ALPHA")  # 8
    created = initiate(  # 9 "Initiate"
        node_a,
        destination_url=url,
        mode="script",
        local_short_name="Acme",
        remote_short_name="Initech",
        name=unique("cloud-script-url"),
        description="Script mode with a URL",
        incoming_project="ALPHA",
    )
    code = created["invitation_code"]  # 10 "Copy invitation code"
    cid = created["connection"]["id"]
    # 11 "Go to remote": on the destination, "Accept Invitation" and paste the code
    accepted = accept_invitation(node_c, code, "OPS")
    assert accepted.status_code == 201, accepted.text
    # "Refresh the Connections page to see the Connection status change"
    assert {c["id"]: c["status"] for c in connections_tab(node_a)}[cid] == "active"

    # a public partner is told of a deactivation and of a deletion
    node_a.post(f"/api/v1/connections/{cid}/deactivate")
    assert status_of(node_c, cid) == "deactivated"
    node_a.post(f"/api/v1/connections/{cid}/activate")
    assert status_of(node_c, cid) == "active"
    assert node_a.delete(f"/api/v1/connections/{cid}").status_code == 204
    gone = node_c.get(f"/api/v1/connections/{cid}").json()
    assert gone["status"] == "error" and "deleted" in gone["status_reason"]


def test_basic_connection_upgrades_to_script_one_way(node_a, node_b):
    """Where pages disagree the newest wins: Basic can be upgraded to Script (README)."""
    created = initiate(
        node_a,
        destination_url=None,
        mode="basic",
        local_short_name="Acme",
        remote_short_name="Globex",
        name=unique("upgrade"),
        incoming_project="ALPHA",
    )
    cid = created["connection"]["id"]
    upgraded = node_a.post(f"/api/v1/connections/{cid}/upgrade", {"mode": "script"})
    assert upgraded.status_code == 200 and upgraded.json()["mode"] == "script"
    back = node_a.post(f"/api/v1/connections/{cid}/upgrade", {"mode": "basic"})
    assert back.status_code == 409
    assert back.json()["error"]["code"] == "mode_change_not_allowed"
    # deleting the pending connection revokes its code
    assert node_a.delete(f"/api/v1/connections/{cid}").status_code == 204
    refused = accept_invitation(node_b, created["invitation_code"], "OPS")
    assert refused.status_code == 404
    assert refused.json()["error"]["code"] == "invitation_unknown"


def test_a_private_node_is_told_to_accept_instead(node_b):
    answer = node_b.post(
        "/api/v1/connections",
        {
            "destination_url": None,
            "mode": "basic",
            "local_short_name": "Globex",
            "remote_short_name": "Acme",
            "name": unique("from-private"),
            "incoming_project": "OPS",
        },
    )
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "private_node_cannot_initiate"
