"""Reference pages 001–004 clicked through the console in a real browser (headless Debian
chromium, Playwright) on the local stack, in the pages' words, each to "Sync your first
issue" → "synced" with both keys; the admin-access redirect between two public nodes
(``a`` → ``c``), a local connection made from the wizard (this node's own URL), and a
destination that cannot be reached. Every screen the walks visit is a screenshot
(``.devstack/screenshots/<test>/``) and is checked with axe-core: a ``serious`` or
``critical`` violation fails the test.

Nodes (``tests/stack/conftest.py``): ``a`` public (tracker ``a``: ALPHA, BETA), ``b``
private (tracker ``b``: OPS, SUP), ``c`` public (tracker ``b`` too).

Every screenshot (``Screens.shot`` in ``tests/stack/conftest.py``) runs axe-core; other
modules may use :class:`Walk` (``from tests.stack.test_console_pages import Walk``).
Waiting is always for what the page shows (Playwright's ``expect`` polls), never a sleep.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

from chalicelib.trackers.base import IssueFields
from tests.stack.conftest import NodeClient, Screens, axe_violations, tracker_as

pytestmark = pytest.mark.stack

SYNC_TIMEOUT_MS = 45_000


class Walk:
    """One administrator's browser tab on one node: ``step(name)`` saves a screenshot and
    runs axe-core on the screen (a serious or critical violation fails at that step);
    ``check()`` fails on any CSP violation or script error the tab saw."""

    def __init__(self, tab: Any, node: NodeClient, screens: Screens, who: str) -> None:
        self.tab = tab
        self.page = tab.page
        self.node = node
        self.screens = screens
        self.who = who

    def step(self, name: str) -> None:
        self.screens.shot(self.page, f"{self.who}-{name}")  # checks the screen with axe-core

    def check(self, *, refused: tuple[int, ...] = ()) -> None:
        """``refused``: statuses of pages the walk was meant to be answered (a refusal is a
        4xx page, which the browser logs as a failed load)."""
        expected = tuple(f"responded with a status of {status} " for status in refused)
        problems = [p for p in self.tab.problems if not any(e in p for e in expected)]
        assert not problems, problems

    def sign_in(self, *, from_page: str = "/console/", then: str = "Connections") -> None:
        """Sign in (at ``from_page``, or where the browser already is when it is ``""``)."""
        if from_page:
            self.page.goto(self.node.url + from_page)
        expect(self.page.get_by_role("heading", name="Sign in")).to_be_visible()
        self.page.get_by_label("Admin token").fill(self.node.info["admin_token"])
        self.step("sign-in")
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page.get_by_role("heading", name=then, exact=True)).to_be_visible()
        self.step(then.lower().replace(" ", "-"))


def open_walk(tabs: Any, node: NodeClient, screens: Screens, who: str) -> Walk:
    return Walk(tabs(node), node, screens, who)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


# --- the wizard, in the pages' words -------------------------------------------------------


def initiate(
    walk: Walk,
    *,
    url: str | None,
    mode: str,
    local: str,
    remote: str,
    name: str,
    project: str,
    admin_access: bool | None = None,
    destination_project: str | None = None,
) -> None:
    """Connections → Initiate connection → … → Initiate (the last click)."""
    page = walk.page
    page.get_by_role("link", name="Connections", exact=True).click()
    # 2. Click Initiate connection
    page.get_by_role("link", name="Initiate connection").click()
    expect(page.get_by_label("Destination instance URL")).to_be_visible()
    # 3. Enter the Destination Instance URL, or click "I don't have a URL"
    if url is None:
        page.get_by_label("I don't have a URL").check()
    else:
        page.get_by_label("Destination instance URL").fill(url)
    walk.step("initiate-destination")
    page.get_by_role("button", name="Next").click()
    # 4. Choose the configuration type (the destination's modes; never Visual without a URL)
    expect(page.get_by_text("Choose the configuration type")).to_be_visible()
    if url is None:
        expect(page.get_by_label("Visual", exact=True)).to_have_count(0)
    else:
        expect(page.get_by_label("Visual", exact=True)).to_be_visible()
    page.get_by_label(mode, exact=True).check()
    walk.step("configuration-type")
    # 5. Click Next
    page.get_by_role("button", name="Next").click()
    # 6. Enter Connection information & Click Next
    expect(page.get_by_role("heading", name="Connection information")).to_be_visible()
    page.get_by_label("Local instance short name").fill(local)
    page.get_by_label("Remote instance short name").fill(remote)
    page.get_by_label("Connection name").fill(name)
    page.get_by_label("Description").fill(f"{mode} connection from the console")
    walk.step("connection-information")
    page.get_by_role("button", name="Next").click()
    # 7. Select a project for the incoming sync
    expect(
        page.get_by_role("heading", name="Select a project for the incoming sync")
    ).to_be_visible()
    page.get_by_label("Please select the project where you want to create issues").select_option(
        project
    )
    if destination_project is not None:  # a local connection: the destination's project too
        expect(
            page.get_by_role("heading", name="Select a project for the destination's incoming sync")
        ).to_be_visible()
        page.get_by_label("Please select the project where the destination side").select_option(
            destination_project
        )
        expect(page.get_by_text("Do you have admin access")).to_have_count(0)
    elif admin_access is not None:
        # 8. Check if you have admin access to the destination instance
        expect(
            page.get_by_text("Do you have admin access to the destination instance?")
        ).to_be_visible()
        choice = "Yes, I have admin access" if admin_access else "No, I don't have admin access"
        page.get_by_label(choice).check()
    walk.step("select-project")
    # Click Initiate
    page.get_by_role("button", name="Initiate").click()


def copy_invitation_code(walk: Walk, remote: str) -> str:
    """Click Copy invitation code: the code, read back from the real clipboard."""
    page = walk.page
    expect(page.get_by_text(f'destination side "{remote}"')).to_be_visible()
    code = page.get_by_label("Use the following invitation code:").input_value().strip()
    assert code.startswith("TS1."), code
    page.get_by_role("button", name="Copy invitation code").click()
    expect(page.get_by_text("Copied to the clipboard.")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()").strip() == code
    walk.step("invitation-code")
    return code


def accept(walk: Walk, name: str, project: str, *, code: str | None = None) -> None:
    """Accept invitation: the code pasted (or already filled in), the project, Accept."""
    page = walk.page
    expect(page.get_by_role("heading", name="Accept invitation")).to_be_visible()
    if code is not None:
        page.get_by_label("Invitation code").fill(code)
    page.get_by_label("Select a project for the incoming sync").select_option(project)
    walk.step("accept-invitation")
    page.get_by_role("button", name="Accept").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    expect(page.get_by_text("Active", exact=True)).to_be_visible()
    walk.step("connection-active")


def listed_as(walk: Walk, name: str, *, remote: str, mode: str, status: str) -> None:
    page = walk.page
    page.get_by_role("link", name="Connections", exact=True).click()
    row = page.get_by_role("row").filter(has_text=name)
    expect(row).to_contain_text(remote)
    expect(row).to_contain_text(mode)
    expect(row).to_contain_text(status)
    walk.step("connections-" + status.lower())


def sync_first_issue(
    walk: Walk,
    stack_info: Any,
    name: str,
    *,
    project: str,
    summary: str,
    remote: str,
    from_list: bool = True,
) -> None:
    """Sync your first issue: a new issue of ``project`` on tracker ``a`` → "synced", with
    its key and the twin's key (``remote`` project) on the connection's page."""
    page = walk.page
    alice = tracker_as(stack_info, "a")
    issue = alice.create_issue(project, IssueFields(summary=summary, issue_type="Bug"))
    if from_list:
        page.get_by_role("link", name="Connections", exact=True).click()
        page.get_by_role("row").filter(has_text=name).get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", name="Sync your first issue")).to_be_visible()
    page.get_by_label("Issue key").fill(issue.key)
    page.get_by_role("button", name="Sync").click()
    expect(page.locator("[data-twin-status]")).to_have_text("synced", timeout=SYNC_TIMEOUT_MS)
    expect(page.locator("[data-twin-local]")).to_have_text(issue.key)
    expect(page.locator("[data-twin-remote]")).to_have_text(re.compile(rf"^{remote}-\d+$"))
    walk.step("first-issue-synced")


# --- pages 001 and 002: private connections (a public, b private) ---------------------------


@pytest.mark.parametrize(
    ("page_no", "mode", "project", "remote_project"),
    [("001", "Basic", "ALPHA", "OPS"), ("002", "Script", "BETA", "SUP")],
)
def test_reference_pages_001_002_private_connection_for_cloud(
    tabs: Any,
    node_a: NodeClient,
    node_b: NodeClient,
    stack_info: Any,
    screens: Screens,
    page_no: str,
    mode: str,
    project: str,
    remote_project: str,
) -> None:
    name = unique(f"Page{page_no}")
    a = open_walk(tabs, node_a, screens, "a")
    # 1. Navigate to the Connections tab
    a.sign_in()
    # 2.–8. Initiate connection, "I don't have a URL", the mode, the project, Initiate
    initiate(a, url=None, mode=mode, local="Acme", remote="Globex", name=name, project=project)
    # 9. Click Copy Invitation Code (the destination side is "unknown": a private side)
    code = copy_invitation_code(a, "unknown")
    # 10. Click Done
    a.page.get_by_role("link", name="Done").click()
    expect(a.page.get_by_role("heading", name=name)).to_be_visible()
    expect(a.page.get_by_text("Pending", exact=True)).to_be_visible()
    a.step("connection-pending")

    # The private side: Accept invitation in the Connections tab, paste the code
    b = open_walk(tabs, node_b, screens, "b")
    b.sign_in()
    b.page.get_by_role("link", name="Accept invitation").click()
    accept(b, name, remote_project, code=code)

    listed_as(a, name, remote="Globex", mode=mode, status="Active")
    sync_first_issue(
        a, stack_info, name, project=project, summary=f"Page {page_no}", remote=remote_project
    )
    a.check()
    b.check()


# --- page 003: Basic with a URL, "Yes, I have admin access" → Go to remote (a → c) ---------


def test_reference_page_003_basic_with_a_url_and_admin_access(
    tabs: Any, node_a: NodeClient, node_c: NodeClient, stack_info: Any, screens: Screens
) -> None:
    name = unique("Page003")
    a = open_walk(tabs, node_a, screens, "a")
    a.sign_in()
    # 3.–8. The destination's URL, Basic, the project, "Yes, I have admin access", Initiate
    initiate(
        a,
        url=node_c.url,
        mode="Basic",
        local="Acme",
        remote="Initech",
        name=name,
        project="ALPHA",
        admin_access=True,
    )
    go = a.page.get_by_role("link", name="Go to remote")
    expect(go).to_be_visible()
    a.step("go-to-remote")
    remote = go.get_attribute("href") or ""
    assert remote.startswith(node_c.url + "/console/accept#code=TS1."), remote
    code = remote.split("#code=", 1)[1]

    # On the destination (c's administrator's browser): verify access (sign in, the
    # redirect keeps the code), then 9. select the project and 10. confirm
    c = open_walk(tabs, node_c, screens, "c")
    c.page.goto(remote)
    c.sign_in(from_page="", then="Accept invitation")
    expect(c.page.get_by_label("Invitation code")).to_have_value(code)
    accept(c, name, "OPS")

    # The connection has been set up: Active on both ends
    listed_as(a, name, remote="Initech", mode="Basic", status="Active")
    listed_as(c, name, remote="Acme", mode="Basic", status="Active")
    # Start Synchronizing: Sync your first issue
    sync_first_issue(a, stack_info, name, project="ALPHA", summary="Page 003", remote="OPS")
    a.check()
    c.check()


# --- page 004: Script with a URL, "No, I don't have admin access" (a → c) ------------------


def test_reference_page_004_script_with_a_url(
    tabs: Any, node_a: NodeClient, node_c: NodeClient, stack_info: Any, screens: Screens
) -> None:
    name = unique("Page004")
    a = open_walk(tabs, node_a, screens, "a")
    a.sign_in()
    # 3.–9. The destination's URL, Script, connection information, the project, Initiate
    initiate(
        a,
        url=node_c.url,
        mode="Script",
        local="Acme",
        remote="Initech",
        name=name,
        project="BETA",
        admin_access=False,
    )
    # 10. Click Copy invitation code
    code = copy_invitation_code(a, "Initech")
    # 11. Click Go to remote to access the destination instance
    go = a.page.get_by_role("link", name="Go to remote")
    remote = go.get_attribute("href") or ""
    assert remote == node_c.url + "/console/accept", remote

    # What's next: on the destination, Accept invitation and paste the code
    c = open_walk(tabs, node_c, screens, "c")
    c.page.goto(remote)
    c.sign_in(from_page="", then="Accept invitation")
    accept(c, name, "SUP", code=code)

    # Refresh the Connections page to see the status change
    listed_as(a, name, remote="Initech", mode="Script", status="Active")
    sync_first_issue(a, stack_info, name, project="BETA", summary="Page 004", remote="SUP")
    a.check()
    c.check()


# --- page 003's note: this node's own URL makes a local connection ----------------------------


def test_a_local_connection_from_the_wizard(
    tabs: Any, node_a: NodeClient, stack_info: Any, screens: Screens
) -> None:
    name = unique("Local")
    a = open_walk(tabs, node_a, screens, "a")
    a.sign_in()
    initiate(
        a,
        url=node_a.url,
        mode="Basic",
        local="Alpha",
        remote="Beta",
        name=name,
        project="ALPHA",
        destination_project="BETA",
    )
    # Active at once: the connection's page
    expect(a.page.get_by_role("heading", name=name)).to_be_visible()
    expect(a.page.get_by_text("Active", exact=True)).to_be_visible()
    a.step("local-connection-active")
    sync_first_issue(
        a, stack_info, name, project="ALPHA", summary="Local twin", remote="BETA", from_list=False
    )
    # Both ends are this node's, listed under the one name
    a.page.get_by_role("link", name="Connections", exact=True).click()
    rows = a.page.get_by_role("row").filter(has_text=name)
    expect(rows).to_have_count(2)
    for row in (rows.nth(0), rows.nth(1)):
        expect(row).to_contain_text("Active")
    a.step("connections-local-ends")
    a.check()


def test_a_destination_that_cannot_be_reached_or_called_is_a_sentence(
    tabs: Any, node_a: NodeClient, screens: Screens
) -> None:
    a = open_walk(tabs, node_a, screens, "a")
    a.sign_in()
    page = a.page
    page.get_by_role("link", name="Initiate connection").click()
    nowhere = "http://127.0.0.1:9/"  # the discard port: nothing answers
    page.get_by_label("Destination instance URL").fill(nowhere)
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "The destination instance could not be reached as a Twinsync node."
    )
    expect(page.get_by_role("button", name="Next")).to_have_count(0)
    a.step("destination-unreachable")
    page.get_by_role("link", name="Previous").click()
    expect(page.get_by_label("Destination instance URL")).to_have_value(nowhere)
    a.step("destination-again")
    # A URL the outbound guard never calls (the cloud metadata address)
    page.get_by_label("Destination instance URL").fill("http://169.254.169.254/")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "This node may not call that destination URL."
    )
    expect(page.get_by_role("button", name="Next")).to_have_count(0)
    a.step("destination-not-allowed")
    a.check(refused=(422, 400))


def test_the_axe_check_fails_on_a_serious_violation(tabs: Any, node_a: NodeClient) -> None:
    """The check can fail: an input without a label and a low-contrast text are found."""
    page = tabs(node_a).page
    page.set_content(
        '<html lang="en"><head><title>t</title></head><body><main>'
        '<input type="text"><p style="color:#ccc;background:#fff">faint</p></main></body></html>'
    )
    found = axe_violations(page)
    assert any(v.startswith("label (critical)") for v in found), found
    assert any(v.startswith("color-contrast (serious)") for v in found), found
