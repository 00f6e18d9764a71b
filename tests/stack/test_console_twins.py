"""Connect issues and Stop syncing on the local stack: the admin API of the private node
``b`` (it asks its public peer ``a`` at once; ``a`` cannot ask ``b`` and queues as before),
then the console in a real browser (headless Debian chromium, Playwright) on node ``b``:
connect two existing issues, a missing remote issue refused with a sentence, stop syncing
a twin behind its confirmation page. Each browser step leaves a screenshot in
``.devstack/screenshots/``; waits are for what the page shows, never sleeps."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

from chalicelib.trackers.base import IssueFields
from tests.stack.conftest import NodeClient, Screens, connect, eventually, tracker_as

pytestmark = pytest.mark.stack

SYNC_TIMEOUT_MS = 45_000


@pytest.fixture(scope="module")
def cid(node_a: NodeClient, node_b: NodeClient) -> str:
    """Initiated on the public node a without a URL, accepted on the private node b."""
    return connect(node_a, node_b, initiator_project="ALPHA", acceptor_project="OPS")


@pytest.fixture(scope="module")
def alice_a(stack_info: Any) -> Any:
    return tracker_as(stack_info, "a")


@pytest.fixture(scope="module")
def alice_b(stack_info: Any) -> Any:
    return tracker_as(stack_info, "b")


def new_issue(alice: Any, project: str, summary: str) -> str:
    return str(alice.create_issue(project, IssueFields(summary=summary, issue_type="Task")).key)


def connect_issues(node: NodeClient, cid: str, local_key: str, remote_key: str) -> Any:
    return node.post(
        f"/api/v1/connections/{cid}/connect", {"local_key": local_key, "remote_key": remote_key}
    )


def twin_of(node: NodeClient, cid: str, key: str) -> Any:
    response = node.get(f"/api/v1/connections/{cid}/twins/{key}")
    return response.json() if response.status_code == 200 else None


def status_of(node: NodeClient, cid: str, key: str) -> str | None:
    twin = twin_of(node, cid, key)
    return twin["status"] if twin else None


# --- the admin API (issue 17: "refused at once whenever the other node can be asked") ---------


def test_the_private_node_asks_its_public_peer_at_once(
    node_a: NodeClient, node_b: NodeClient, cid: str, alice_a: Any, alice_b: Any
) -> None:
    tag = uuid.uuid4().hex[:8]
    mine = new_issue(alice_b, "OPS", f"Private side {tag}")

    # a remote issue that does not exist: refused there and then, nothing recorded
    missing = connect_issues(node_b, cid, mine, "ALPHA-99999")
    assert missing.status_code == 404, missing.text
    error = missing.json()["error"]
    assert (error["code"], error["field"]) == ("remote_issue_not_found", "remote_key")
    assert "ALPHA-99999" in error["message"]
    assert twin_of(node_b, cid, mine) is None

    # a valid pair: connected (nothing created on either side)
    theirs = new_issue(alice_a, "ALPHA", f"Public side {tag}")
    linked = connect_issues(node_b, cid, mine, theirs)
    assert linked.status_code == 201, linked.text
    assert linked.json()["remote"]["key"] == theirs
    eventually(lambda: status_of(node_b, cid, mine) == "synced", timeout=60)
    eventually(lambda: status_of(node_a, cid, theirs) == "synced", timeout=60)
    assert twin_of(node_a, cid, theirs)["remote"]["key"] == mine

    # the remote issue is already linked: refused at once
    other = new_issue(alice_b, "OPS", f"Another private issue {tag}")
    taken = connect_issues(node_b, cid, other, theirs)
    assert taken.status_code == 409, taken.text
    assert taken.json()["error"]["code"] == "already_synced"
    assert theirs in taken.json()["error"]["message"]
    assert twin_of(node_b, cid, other) is None


def test_the_public_node_cannot_ask_its_private_peer_and_queues_as_before(
    node_a: NodeClient, cid: str, alice_a: Any
) -> None:
    mine = new_issue(alice_a, "ALPHA", f"Lonely {uuid.uuid4().hex[:8]}")
    queued = connect_issues(node_a, cid, mine, "OPS-99999")
    assert queued.status_code == 201, queued.text
    assert queued.json()["status"] == "queued"
    # b pulls the connect request and refuses it; a's twin stops with the reason
    eventually(lambda: status_of(node_a, cid, mine) == "stopped", timeout=60)
    assert "OPS-99999" in twin_of(node_a, cid, mine)["error"]


# --- the console -------------------------------------------------------------------------------


def sign_in(page: Any, node: NodeClient, screens: Screens) -> None:
    page.goto(node.url + "/console/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Admin token").fill(node.info["admin_token"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Connections")).to_be_visible()
    screens.shot(page, "b-connections")


def test_connect_issues_and_stop_syncing_in_the_browser(
    tabs: Any,
    node_a: NodeClient,
    node_b: NodeClient,
    cid: str,
    alice_a: Any,
    alice_b: Any,
    screens: Screens,
) -> None:
    tag = uuid.uuid4().hex[:8]
    mine = new_issue(alice_b, "OPS", f"Console private {tag}")
    theirs = new_issue(alice_a, "ALPHA", f"Console public {tag}")
    name = node_b.get(f"/api/v1/connections/{cid}").json()["name"]

    b = tabs(node_b)
    page = b.page
    sign_in(page, node_b, screens)
    page.get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("heading", name="Connect issues")).to_be_visible()

    # Connect issues: the twin appears, and turns synced once a has linked its issue
    page.get_by_label("Local issue", exact=True).fill(mine)
    page.get_by_label("Remote issue", exact=True).fill(theirs)
    screens.shot(page, "b-connect-issues")
    page.get_by_role("button", name="Connect", exact=True).click()
    connected = page.locator("#connected-twin")
    expect(connected.locator("[data-twin-status]")).to_have_text("synced", timeout=SYNC_TIMEOUT_MS)
    expect(connected.locator("[data-twin-local]")).to_have_text(mine)
    expect(connected.locator("[data-twin-remote]")).to_have_text(theirs)
    screens.shot(page, "b-issues-connected")
    page.reload()
    row = page.locator(f'[data-twin-row="{mine}"]')
    expect(row).to_contain_text(theirs)
    expect(row).to_contain_text("synced")
    screens.shot(page, "b-twins")

    # A remote issue that does not exist: a sentence, at once, in the form's section
    assert not b.problems, b.problems
    other = new_issue(alice_b, "OPS", f"Console lonely {tag}")
    page.get_by_label("Local issue", exact=True).fill(other)
    page.get_by_label("Remote issue", exact=True).fill("ALPHA-99999")
    page.get_by_role("button", name="Connect", exact=True).click()
    refusal = page.locator("[data-connect-error]")
    expect(refusal).to_have_text(
        re.compile(r"^The other instance has no issue with that remote issue key")
    )
    expect(page.get_by_label("Remote issue", exact=True)).to_have_value("ALPHA-99999")
    screens.shot(page, "b-remote-issue-missing")
    assert twin_of(node_b, cid, other) is None
    # the refusal's page is answered with its status (404), which chromium logs; nothing else
    assert b.problems == [
        "Failed to load resource: the server responded with a status of 404 (Not Found)"
    ], b.problems
    b.problems.clear()

    # Stop syncing: the row's link asks first; both ends stop; both issues stay
    page.goto(node_b.url + f"/console/connections/{cid}")
    page.locator(f'[data-twin-row="{mine}"]').get_by_role(
        "link", name=f"Stop syncing {mine}"
    ).click()
    expect(page.get_by_role("heading", name=f"Stop syncing {mine}?")).to_be_visible()
    screens.shot(page, "b-stop-syncing-confirm")
    assert status_of(node_b, cid, mine) == "synced"  # asking changed nothing
    page.get_by_role("button", name="Stop syncing").click()
    expect(page.get_by_role("status").filter(has_text="Syncing stopped")).to_be_visible()
    expect(page.locator(f'[data-twin-row="{mine}"]')).to_have_count(0)
    screens.shot(page, "b-stopped")
    assert status_of(node_b, cid, mine) == "stopped"
    eventually(lambda: status_of(node_a, cid, theirs) == "stopped", timeout=60)
    assert alice_b.get_issue(mine).key == mine
    assert alice_a.get_issue(theirs).key == theirs

    page.get_by_role("link", name="Stopped twins").click()
    expect(page.locator(f'[data-twin-row="{mine}"]')).to_contain_text("stopped")
    screens.shot(page, "b-stopped-twins")

    assert not b.problems, b.problems  # no CSP violation, no script error
