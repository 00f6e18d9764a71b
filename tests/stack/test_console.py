"""The admin console in a real browser (headless Debian chromium, Playwright) on the local
stack: reference page 000 clicked through on node ``a`` (public) and ``b`` (private), then
"Sync your first issue"; plus sign-in refusal, CSRF refusal, the cookie's flags and the
Content-Security-Policy. Each step leaves a screenshot in ``.devstack/screenshots/``.

Waiting is always for what the page shows (Playwright's ``expect`` polls), never a sleep.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from chalicelib.trackers.base import IssueFields
from tests.stack.conftest import NodeClient, Screens, tracker_as

pytestmark = pytest.mark.stack

SYNC_TIMEOUT_MS = 45_000


def sign_in(page: Any, node: NodeClient, screens: Screens, name: str) -> None:
    page.goto(node.url + "/console/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Admin token").fill(node.info["admin_token"])
    screens.shot(page, f"{name}-sign-in")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Connections")).to_be_visible()
    screens.shot(page, f"{name}-connections")


def test_reference_page_000_in_the_browser(
    tabs: Any, node_a: NodeClient, node_b: NodeClient, stack_info: Any, screens: Screens
) -> None:
    name = f"Acme-Globex-{uuid.uuid4().hex[:6]}"
    a = tabs(node_a)
    page = a.page

    # 1. Navigate to the Connections tab (signing in first)
    sign_in(page, node_a, screens, "a")
    # 2. Click Initiate connection
    page.get_by_role("link", name="Initiate connection").click()
    expect(page.get_by_label("Destination instance URL")).to_be_visible()
    # 3. Click "I don't have a URL"
    page.get_by_label("I don't have a URL").check()
    screens.shot(page, "a-initiate-no-url")
    page.get_by_role("button", name="Next").click()
    # 4. Choose a Basic connection mode (Visual is never offered without a URL)
    expect(page.get_by_text("Choose the configuration type")).to_be_visible()
    expect(page.get_by_label("Script", exact=True)).to_be_visible()
    expect(page.get_by_label("Visual", exact=True)).to_have_count(0)
    page.get_by_label("Basic", exact=True).check()
    screens.shot(page, "a-configuration-type")
    # 5. Click Next
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Connection information")).to_be_visible()
    page.get_by_label("Local instance short name").fill("Acme")
    page.get_by_label("Remote instance short name").fill("Globex")
    page.get_by_label("Connection name").fill(name)
    page.get_by_label("Description").fill("Support to development")
    screens.shot(page, "a-connection-information")
    page.get_by_role("button", name="Next").click()
    # 6. Select a project for the incoming sync
    expect(
        page.get_by_role("heading", name="Select a project for the incoming sync")
    ).to_be_visible()
    page.get_by_label("Please select the project").select_option("ALPHA")
    screens.shot(page, "a-select-project")
    # 8. Click Initiate
    page.get_by_role("button", name="Initiate").click()
    expect(page.get_by_text('destination side "unknown"')).to_be_visible()
    code = page.get_by_label("Use the following invitation code:").input_value().strip()
    assert code.startswith("TS1."), code
    # 9. Click Copy invitation code
    page.get_by_role("button", name="Copy invitation code").click()
    expect(page.get_by_text("Copied to the clipboard.")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()").strip() == code
    screens.shot(page, "a-invitation-code")
    # 10. Click Done
    page.get_by_role("link", name="Done").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    expect(page.get_by_text("Pending", exact=True)).to_be_visible()

    # The partner: Accept invitation in the Connections tab, paste the code
    b = tabs(node_b)
    sign_in(b.page, node_b, screens, "b")
    b.page.get_by_role("link", name="Accept invitation").click()
    b.page.get_by_label("Invitation code").fill(code)
    b.page.get_by_label("Select a project for the incoming sync").select_option("OPS")
    screens.shot(b.page, "b-accept-invitation")
    b.page.get_by_role("button", name="Accept").click()
    expect(b.page.get_by_role("heading", name=name)).to_be_visible()
    expect(b.page.get_by_text("Active", exact=True)).to_be_visible()
    screens.shot(b.page, "b-connection-active")

    # Back on a: the list shows the partner's short name and the new status
    page.get_by_role("link", name="Connections", exact=True).click()
    row = page.get_by_role("row").filter(has_text=name)
    expect(row).to_contain_text("Globex")
    expect(row).to_contain_text("Basic")
    expect(row).to_contain_text("Active")
    screens.shot(page, "a-connections-active")

    # Sync your first issue
    alice = tracker_as(stack_info, "a")
    issue = alice.create_issue("ALPHA", IssueFields(summary="Printer on fire", issue_type="Bug"))
    row.get_by_role("link", name=name).click()
    page.get_by_label("Issue key").fill(issue.key)
    page.get_by_role("button", name="Sync").click()
    status = page.locator("[data-twin-status]")
    expect(status).to_have_text("synced", timeout=SYNC_TIMEOUT_MS)
    expect(page.locator("[data-twin-local]")).to_have_text(issue.key)
    expect(page.locator("[data-twin-remote]")).to_have_text(re.compile(r"^OPS-\d+$"))
    screens.shot(page, "a-first-issue-synced")

    # Twins: the connection page lists the synced twin; its History is a timeline
    page.reload()
    twin_row = page.locator(f'[data-twin-row="{issue.key}"]')
    expect(twin_row).to_contain_text("synced")
    expect(twin_row).to_contain_text(re.compile(r"OPS-\d+"))
    screens.shot(page, "a-twins")
    twin_row.get_by_role("link", name=f"History of {issue.key}").click()
    expect(page.get_by_role("heading", name=f"History of {issue.key}")).to_be_visible()
    expect(page.locator("[data-history-entry]").first).to_be_visible()
    expect(page.locator(".timeline")).to_contain_text("Outgoing")
    screens.shot(page, "a-twin-history")

    assert not a.problems, a.problems  # no CSP violation, no script error
    assert not b.problems, b.problems


def test_a_wrong_token_is_refused_in_the_browser(
    tabs: Any, node_a: NodeClient, screens: Screens
) -> None:
    page = tabs(node_a).page
    page.goto(node_a.url + "/console/connections")
    page.get_by_label("Admin token").fill("not-the-admin-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("That is not this node's admin token")
    screens.shot(page, "wrong-token")
    assert not [c for c in page.context.cookies() if c["name"] == "twinsync_console"]


def test_the_session_cookie_flags(tabs: Any, node_a: NodeClient, screens: Screens) -> None:
    tab = tabs(node_a)
    sign_in(tab.page, node_a, screens, "a")
    (session,) = [c for c in tab.context.cookies() if c["name"] == "twinsync_console"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    assert session["path"] == "/console"
    assert session["secure"] is False  # plain http on loopback; Secure on https
    assert time.time() < session["expires"] <= time.time() + 8 * 3600 + 60
    assert node_a.info["admin_token"] not in session["value"]
    assert tab.page.evaluate("document.cookie") == ""  # HttpOnly: scripts cannot read it


def signed_in_session(node: NodeClient) -> tuple[requests.Session, str]:
    """A requests session signed in to the console the way the form does; its CSRF value."""
    http = requests.Session()
    form = http.get(node.url + "/console/signin", timeout=10).text
    nonce = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    signed = http.post(
        node.url + "/console/signin",
        data={"csrf_token": nonce, "token": node.info["admin_token"]},
        timeout=10,
    )
    assert signed.ok, signed.text
    page = http.get(node.url + "/console/connections", timeout=10).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return http, csrf


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(node_a: NodeClient) -> None:
    http, csrf = signed_in_session(node_a)
    before = stored_connections(node_a)
    form = {
        "no_url": "on",
        "mode": "basic",
        "local_short_name": "Acme",
        "remote_short_name": "Globex",
        "name": f"csrf-{uuid.uuid4().hex[:6]}",
        "incoming_project": "ALPHA",
    }
    refused = http.post(node_a.url + "/console/initiate", data=form, timeout=10)
    assert refused.status_code == 403
    forged = http.post(
        node_a.url + "/console/initiate", data={**form, "csrf_token": "f" * len(csrf)}, timeout=10
    )
    assert forged.status_code == 403
    assert stored_connections(node_a) == before


def stored_connections(node: NodeClient) -> dict[str, str]:
    """Each connection's id and last change: a private peer's lag moves on its own."""
    return {c["id"]: c["updated_at"] for c in node.get("/api/v1/connections").json()}


def test_every_console_answer_has_a_strict_content_security_policy(node_a: NodeClient) -> None:
    for path in ("/console/signin", "/console/static/console.js", "/console/static/htmx.min.js"):
        answer = requests.get(node_a.url + path, timeout=10)
        assert answer.status_code == 200, path
        csp = answer.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp, csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, csp
        assert answer.headers["X-Frame-Options"] == "DENY"


def test_make_run_prints_each_nodes_console(local_stack: Any, stack_info: Any) -> None:
    from devstack.__main__ import quickstart

    printed = quickstart(local_stack)
    for node in stack_info["nodes"].values():
        url = f"{node['url']}/console/"
        assert url in printed
        answer = requests.get(url, timeout=10, allow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["Location"] == "/console/connections"
