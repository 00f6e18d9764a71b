"""A connection's Rules tab in a real browser (headless Debian chromium, Playwright) on the
local stack: a Script-mode connection (reference pages 002 and 004 set one up) whose
incoming script is edited with a syntax error (the error names the line, the editor marks
it, the text stays), fixed and saved (a new version in the list), then a test run of an
issue (the replica and the planned changes); and a Basic connection upgraded to Script.
Each step leaves a screenshot in ``.devstack/screenshots/``.

Waiting is always for what the page shows (Playwright's ``expect`` polls), never a sleep.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from chalicelib.trackers.base import IssueFields
from tests.stack.conftest import NodeClient, Screens, connect, tracker_as

pytestmark = pytest.mark.stack


def sign_in(page: Any, node: NodeClient, screens: Screens, name: str) -> None:
    page.goto(node.url + "/console/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Admin token").fill(node.info["admin_token"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Connections")).to_be_visible()
    screens.shot(page, f"{name}-connections")


def open_rules(page: Any, node: NodeClient, cid: str) -> None:
    """The connection's page, then its Rules tab (clicked, as an administrator would)."""
    page.goto(f"{node.url}/console/connections/{cid}")
    page.get_by_role("navigation", name="This connection").get_by_role("link", name="Rules").click()
    expect(page.locator("[data-rules-mode]")).to_be_visible()


def test_edit_a_script_see_the_error_line_save_a_version_and_test_run(
    tabs: Any, node_a: NodeClient, node_b: NodeClient, stack_info: Any, screens: Screens
) -> None:
    # a private Script connection (reference page 002): a initiates without a URL
    cid = connect(node_a, node_b, initiator_project="ALPHA", acceptor_project="OPS", mode="script")
    tab = tabs(node_a)
    page = tab.page
    sign_in(page, node_a, screens, "a")
    open_rules(page, node_a, cid)
    expect(page.locator("[data-rules-mode]")).to_have_text("Script")
    incoming = page.get_by_label("Incoming script", exact=True)
    expect(incoming).to_be_visible()
    expect(page.get_by_label("Outgoing script", exact=True)).to_be_visible()
    screens.shot(page, "a-rules-script-editor")

    # a syntax error: refused, the line named and marked, the text kept
    current = incoming.input_value().rstrip("\n")
    bad_line = current.count("\n") + 2
    broken = current + "\nif replica.summary\n    issue.labels = ['from-partner']\n"
    incoming.fill(broken)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text(
        f"The incoming script was not saved: there is a problem on line {bad_line}"
    )
    marked = page.locator(f'[data-editor="incoming_script"] [data-bad-line="{bad_line}"]')
    expect(marked).to_have_text("if replica.summary")
    expect(page.locator('[data-editor="incoming_script"] .gutter .bad')).to_have_text(str(bad_line))
    expect(incoming).to_have_value(broken)
    expect(incoming).to_have_attribute("aria-invalid", "true")
    screens.shot(page, "a-rules-syntax-error")
    stored = node_a.get(f"/api/v1/connections/{cid}").json()["incoming_script"]
    assert stored.rstrip("\n") == current

    # fixed and saved: a new version in the list
    fixed = broken.replace("if replica.summary\n", "if replica.summary:\n")
    incoming.fill(fixed)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("The rules were saved.")
    expect(incoming).to_have_value(fixed)
    screens.shot(page, "a-rules-saved")
    assert node_a.get(f"/api/v1/connections/{cid}").json()["incoming_script"] == fixed
    page.get_by_role("link", name="Versions").click()
    expect(page.get_by_role("heading", name="Versions of the rules")).to_be_visible()
    version = page.locator('[data-version="incoming_script-2"]')
    expect(version).to_contain_text("admin")
    expect(version).to_contain_text(re.compile(r"\+\d+ \u2212\d+ lines"))
    version.get_by_text("View").click()
    expect(version.locator("pre.listing-pre")).to_contain_text("['from-partner']")
    screens.shot(page, "a-rules-versions")

    # a test run: the replica and the planned changes, nothing written
    alice = tracker_as(stack_info, "a")
    issue = alice.create_issue("ALPHA", IssueFields(summary="Printer on fire", issue_type="Bug"))
    open_rules(page, node_a, cid)
    page.get_by_label("Issue key").fill(issue.key)
    page.get_by_role("button", name="Test run").click()
    expect(page.locator("[data-replica]")).to_contain_text("Printer on fire")
    expect(page.locator("[data-replica]")).to_contain_text(issue.key)
    expect(page.locator("[data-planned-changes]")).to_contain_text("Summary")
    screens.shot(page, "a-rules-test-run")
    assert node_a.get(f"/api/v1/connections/{cid}/twins/{issue.key}").status_code == 404

    # no CSP violation, no script error; the refused save answered 400 (the browser logs it)
    refused = "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    assert tab.problems.count(refused) == 1, tab.problems
    assert not [p for p in tab.problems if p != refused], tab.problems


def test_upgrade_a_basic_connection_to_script_in_the_browser(
    tabs: Any, node_a: NodeClient, node_b: NodeClient, screens: Screens
) -> None:
    cid = connect(node_a, node_b, initiator_project="ALPHA", acceptor_project="OPS")
    tab = tabs(node_a)
    page = tab.page
    sign_in(page, node_a, screens, "a")
    open_rules(page, node_a, cid)
    expect(page.locator("[data-rules-mode]")).to_have_text("Basic")
    expect(page.get_by_text("Basic rules cannot be edited.")).to_be_visible()
    screens.shot(page, "a-rules-basic")
    page.get_by_role("link", name="Upgrade to Script").click()
    expect(page.get_by_role("heading", name="Upgrade to Script?")).to_be_visible()
    expect(page.get_by_text("Basic rules become two scripts")).to_be_visible()
    screens.shot(page, "a-rules-upgrade-confirm")
    assert node_a.get(f"/api/v1/connections/{cid}").json()["mode"] == "basic"
    page.get_by_role("button", name="Yes, upgrade to Script").click()
    expect(page.get_by_role("status")).to_contain_text("The connection is in Script mode now")
    expect(page.locator("[data-rules-mode]")).to_have_text("Script")
    expect(page.get_by_label("Outgoing script", exact=True)).to_contain_text(
        "replica.summary = issue.summary"
    )
    expect(page.get_by_label("Incoming script", exact=True)).to_be_visible()
    screens.shot(page, "a-rules-upgraded")
    assert node_a.get(f"/api/v1/connections/{cid}").json()["mode"] == "script"
    assert not tab.problems, tab.problems


def test_edit_visual_mappings_in_the_browser(
    tabs: Any, node_a: NodeClient, node_c: NodeClient, screens: Screens
) -> None:
    """Two public nodes (Visual needs both reachable): one block edited on a reaches c."""
    cid = connect(
        node_a,
        node_c,
        initiator_project="ALPHA",
        acceptor_project="SUP",
        mode="visual",
        destination_url=node_c.url,
    )
    tab = tabs(node_a)
    page = tab.page
    sign_in(page, node_a, screens, "a")
    open_rules(page, node_a, cid)
    expect(page.locator("[data-rules-mode]")).to_have_text("Visual")
    block = page.locator('[data-block="local-outgoing"]')
    expect(block).to_contain_text("No mappings: Basic's fields")
    screens.shot(page, "a-rules-visual")
    block.get_by_role("link", name=re.compile("^Edit")).click()
    expect(page.get_by_role("heading", name=re.compile("^Mappings: This side"))).to_be_visible()
    page.get_by_label("Use these mappings for this direction").check()
    page.get_by_label("Issue types").fill("Bug, Task")
    page.get_by_label("Value map of Issue type").fill("Bug = Problem")
    page.get_by_label("Remove Description").check()
    page.get_by_label("Field", exact=True).select_option("labels")
    page.get_by_label("Value map (issue type, labels, priority, status, custom field)").fill(
        "urgent = p1"
    )
    screens.shot(page, "a-rules-visual-edit")
    page.get_by_role("button", name="Save mappings").click()
    expect(page.get_by_role("status")).to_contain_text("The mappings were saved on both sides.")
    expect(block).to_contain_text("Bug \u2192 Problem")
    expect(block).to_contain_text("urgent \u2192 p1")
    expect(block).not_to_contain_text("Description")
    screens.shot(page, "a-rules-visual-saved")
    (theirs,) = node_c.get(f"/api/v1/connections/{cid}").json()["mappings"]
    assert (theirs["side"], theirs["direction"]) == ("remote", "outgoing")
    assert {"field": "labels", "values": {"urgent": "p1"}} in theirs["fields"]
    assert not tab.problems, tab.problems
