"""The People tab of a connection in a real browser (headless Debian chromium, Playwright)
on the local stack: an administrator maps a Cloud account to a Server user, names the user
who takes unmapped people, chooses that a child waits for its parent, and saves; a line
that is not a pair is refused with its line number and nothing is saved. Each step leaves a
screenshot in ``.devstack/screenshots/``.

Waiting is always for what the page shows (Playwright's ``expect`` polls), never a sleep.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.stack.conftest import NodeClient, Screens, connect
from tests.stack.test_console_rules import sign_in

pytestmark = pytest.mark.stack


def test_map_people_choose_a_fallback_and_wait_for_parents_in_the_browser(
    tabs: Any, node_a: NodeClient, node_c: NodeClient, screens: Screens
) -> None:
    cid = connect(
        node_a,
        node_c,
        initiator_project="ALPHA",
        acceptor_project="SUP",
        mode="script",
        destination_url=node_c.url,
    )
    tab = tabs(node_a)
    page = tab.page
    sign_in(page, node_a, screens, "a")
    page.goto(f"{node_a.url}/console/connections/{cid}")
    nav = page.get_by_role("navigation", name="This connection")
    nav.get_by_role("link", name="People").click()
    expect(page.get_by_role("heading", name="User map")).to_be_visible()
    expect(page.get_by_label("Unassigned")).to_be_checked()
    expect(page.get_by_label("Bring the parent under sync first")).to_be_checked()
    screens.shot(page, "a-people-defaults")

    # a line without "=": refused, with its number, and what was typed is kept
    page.get_by_label("Other side's user = this side's user").fill(
        "# Cloud = Server\n5b10ac8d82e05b22cc7d4ef5 = jsmith\nmjones\n"
    )
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("Line 3 of the user map")
    expect(page.get_by_label("Other side's user = this side's user")).to_have_value(
        "# Cloud = Server\n5b10ac8d82e05b22cc7d4ef5 = jsmith\nmjones\n"
    )
    screens.shot(page, "a-people-refused")
    assert node_a.get(f"/api/v1/connections/{cid}").json().get("user_map") in (None, [])

    page.get_by_label("Other side's user = this side's user").fill(
        "# Cloud = Server\n5b10ac8d82e05b22cc7d4ef5 = jsmith\n"
    )
    page.get_by_label("This user").check()
    page.get_by_label("This side's user who takes them").fill("helpdesk")
    page.get_by_label("Wait until the parent is synced").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text(
        "The people and hierarchy settings were saved."
    )
    expect(page.get_by_label("This user")).to_be_checked()
    expect(page.get_by_label("Wait until the parent is synced")).to_be_checked()
    screens.shot(page, "a-people-saved")

    saved = node_a.get(f"/api/v1/connections/{cid}").json()
    assert saved["user_map"] == [{"remote": "5b10ac8d82e05b22cc7d4ef5", "local": "jsmith"}]
    assert saved["user_fallback"] == {"user": "helpdesk"}
    assert saved["hierarchy"] == "wait"
    # the refused form answered 400, which the browser logs; nothing else went wrong
    refused = "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    assert tab.problems == [refused], tab.problems
