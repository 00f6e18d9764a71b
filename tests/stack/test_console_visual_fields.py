"""Visual mode's block editor in a real browser (headless Debian chromium, Playwright) on
the local stack: issue 18's field kinds are offered, added with their options (a value
map, "Create names this project lacks") and reach the other node. Each step leaves a
screenshot in ``.devstack/screenshots/``.

Waiting is always for what the page shows (Playwright's ``expect`` polls), never a sleep.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.stack.conftest import NodeClient, Screens, connect
from tests.stack.test_console_rules import open_rules, sign_in

pytestmark = pytest.mark.stack


def test_add_issue_18_kinds_to_a_visual_block_in_the_browser(
    tabs: Any, node_a: NodeClient, node_c: NodeClient, screens: Screens
) -> None:
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
    block = page.locator('[data-block="local-incoming"]')
    block.get_by_role("link", name=re.compile("^Edit")).click()
    expect(page.get_by_role("heading", name=re.compile("^Mappings: This side"))).to_be_visible()
    page.get_by_label("Use these mappings for this direction").check()
    page.get_by_label("Field", exact=True).select_option("components")
    page.get_by_label("Value map (issue type").fill("UI = Frontend")
    page.get_by_label("Create names this project lacks", exact=True).check()
    screens.shot(page, "a-visual-components")
    page.get_by_role("button", name="Save mappings").click()
    expect(page.get_by_role("status")).to_contain_text("The mappings were saved on both sides.")
    expect(block).to_contain_text("UI \u2192 Frontend; names missing here are created")

    block.get_by_role("link", name=re.compile("^Edit")).click()
    row = page.locator('[data-mapping-row="components"]')
    expect(row.get_by_label(re.compile("^Create names this project lacks"))).to_be_checked()
    page.get_by_label("Field", exact=True).select_option("links")
    page.get_by_label("Value map (issue type").fill("Blocks = Depends")
    screens.shot(page, "a-visual-links")
    page.get_by_role("button", name="Save mappings").click()
    expect(block).to_contain_text("Blocks \u2192 Depends")
    screens.shot(page, "a-visual-saved")

    (theirs,) = node_c.get(f"/api/v1/connections/{cid}").json()["mappings"]
    assert (theirs["side"], theirs["direction"]) == ("remote", "incoming")
    assert theirs["fields"][-2:] == [
        {"field": "components", "values": {"UI": "Frontend"}, "create_missing": True},
        {"field": "links", "values": {"Blocks": "Depends"}},
    ]
    assert not tab.problems, tab.problems
