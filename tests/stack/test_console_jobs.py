"""A connection's Triggers and Bulk sync tabs in a real browser (headless Debian chromium,
Playwright) on the local stack: on node ``a``, a trigger whose JQL the tracker refuses (the
sentence on the form, the JQL kept), fixed, previewed (the count), added; a bulk sync of
what it matches watched to the end on the job's page (the progress bar polled by htmx);
a paced bulk sync cancelled after its confirmation; the trigger deleted after its own.
Each step leaves a screenshot in ``.devstack/screenshots/``.

Waiting is always for what the page shows (Playwright's ``expect`` polls), never a sleep.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

from chalicelib.trackers.base import IssueFields
from tests.stack.conftest import NodeClient, Screens, connect, tracker_as
from tests.stack.test_console import sign_in

pytestmark = pytest.mark.stack

JOB_TIMEOUT_MS = 120_000


def create_issues(alice: Any, tag: str, count: int) -> list[str]:
    return [
        alice.create_issue("BETA", IssueFields(summary=f"Bulk {tag} {n}", issue_type="Task")).key
        for n in range(count)
    ]


def page_problems(tab: Any) -> list[str]:
    """Script errors and CSP violations (a refusal's 4xx page is logged too: not one)."""
    return [p for p in tab.problems if "Failed to load resource" not in p]


def test_triggers_and_a_bulk_sync_in_the_browser(
    tabs: Any, node_a: NodeClient, node_c: NodeClient, stack_info: Any, screens: Screens
) -> None:
    cid = connect(
        node_a,
        node_c,
        initiator_project="ALPHA",
        acceptor_project="SUP",
        destination_url=node_c.url,
    )
    tag = f"t{uuid.uuid4().hex[:10]}"
    alice = tracker_as(stack_info, "a")
    keys = create_issues(alice, tag, 5)
    jql = f'project = BETA AND summary ~ "{tag}"'

    a = tabs(node_a)
    page = a.page
    sign_in(page, node_a, screens, "a")
    page.goto(node_a.url + f"/console/connections/{cid}")
    tabs_nav = page.get_by_role("navigation", name="This connection")

    # Triggers: a JQL the tracker refuses is a sentence on the form, and stays in the field
    tabs_nav.get_by_role("link", name="Triggers").click()
    expect(page.get_by_role("heading", name="Triggers")).to_be_visible()
    expect(page.get_by_text("This connection has no triggers yet.")).to_be_visible()
    screens.shot(page, "a-triggers-empty")
    page.get_by_label("JQL query").fill("project = (BETA")
    page.get_by_label("Note").fill("escalations")
    page.get_by_role("button", name="Add trigger").click()
    expect(page.locator("#form-error")).to_contain_text("The tracker refuses this JQL")
    expect(page.get_by_label("JQL query")).to_have_value("project = (BETA")
    expect(page.get_by_label("Note")).to_have_value("escalations")
    screens.shot(page, "a-trigger-jql-refused")

    # fixed, then Preview: the count of issues it matches now
    page.get_by_label("JQL query").fill(jql)
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("[data-preview-count]")).to_have_text("5")
    expect(page.locator("[data-preview]")).to_contain_text(re.compile("|".join(keys)))
    expect(page.get_by_label("JQL query")).to_have_value(jql)
    screens.shot(page, "a-trigger-preview")
    page.get_by_role("button", name="Add trigger").click()
    expect(page.get_by_text("The trigger was added")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=tag)
    expect(row).to_contain_text("Enabled")
    expect(row).to_contain_text("escalations")
    screens.shot(page, "a-trigger-added")

    # Bulk sync what the trigger matches: the job's page, its progress bar to the end
    row.get_by_role("button", name=re.compile("^Bulk sync")).click()
    expect(page.get_by_role("heading", name="Bulk sync", exact=True)).to_be_visible()
    expect(page.locator("#job-bar")).to_be_visible()
    screens.shot(page, "a-bulk-sync-started")
    expect(page.locator("[data-job-status]")).to_have_text("Done", timeout=JOB_TIMEOUT_MS)
    bar = page.locator("#job-bar")
    expect(bar).to_have_attribute("max", "5")
    expect(bar).to_have_attribute("value", "5")
    expect(page.locator("[data-job-done]")).to_have_text("5")
    expect(page.locator("[data-job-total]")).to_have_text("5")
    expect(page.locator("[data-job-ok]")).to_have_text("5")
    expect(page.locator("[data-job-failed]")).to_have_text("0")
    expect(page.locator("[data-job-rate]")).to_contain_text("issues per minute")
    # it ended: the fragment no longer polls, and Cancel went with it (swapped out of band)
    expect(page.locator("#job-progress")).not_to_have_attribute("hx-trigger", re.compile(".*"))
    expect(page.get_by_text("Cancel job")).to_have_count(0)
    screens.shot(page, "a-bulk-sync-done")
    for key in keys:
        twin = node_a.get(f"/api/v1/connections/{cid}/twins/{key}").json()
        assert twin["status"] == "synced" and twin["remote"], twin

    # Bulk sync tab: a paced job (one issue an hour) runs long enough to cancel it
    other = f"t{uuid.uuid4().hex[:10]}"
    create_issues(alice, other, 3)
    tabs_nav.get_by_role("link", name="Bulk sync").click()
    expect(page.get_by_role("heading", name="Jobs")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text=tag)).to_contain_text("Done")
    bulk = page.locator("#bulk-sync")
    bulk.get_by_label("JQL query").fill(f'project = BETA AND summary ~ "{other}"')
    bulk.get_by_label("Most issues an hour (optional)").fill("1")
    screens.shot(page, "a-bulk-sync-form")
    bulk.get_by_role("button", name="Start bulk sync").click()
    status = page.locator("[data-job-status]")
    expect(status).to_have_text("Running", timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#job-progress")).to_contain_text(
        "waiting for this job's most issues an hour", timeout=JOB_TIMEOUT_MS
    )
    # its own pace, not the rate measured so far, says when it goes on
    expect(page.locator("[data-job-eta]")).to_contain_text(
        re.compile(r"not before|not known: the job waits for this job's most issues an hour")
    )
    screens.shot(page, "a-paced-job-running")
    page.get_by_text("Cancel job").click()  # the confirmation opens
    screens.shot(page, "a-cancel-confirmation")
    page.get_by_role("button", name="Yes, cancel the job").click()
    expect(page.get_by_text("Cancel requested")).to_be_visible()
    expect(status).to_have_text("Cancelled", timeout=JOB_TIMEOUT_MS)
    expect(page.get_by_text("Cancel job")).to_have_count(0)
    screens.shot(page, "a-job-cancelled")
    done = page.locator("[data-job-done]").inner_text()
    assert int(done) < 3, done  # stopped before the end

    # the trigger, deleted after its confirmation
    tabs_nav.get_by_role("link", name="Triggers").click()
    row = page.get_by_role("row").filter(has_text=tag)
    row.locator("summary", has_text="Delete").click()
    expect(row.get_by_role("button", name="Yes, delete the trigger")).to_be_visible()
    screens.shot(page, "a-trigger-delete-confirmation")
    row.get_by_role("button", name="Yes, delete the trigger").click()
    expect(page.get_by_text("The trigger was deleted.")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text=tag)).to_have_count(0)
    screens.shot(page, "a-trigger-deleted")
    assert node_a.get(f"/api/v1/connections/{cid}/triggers").json() == []

    assert not page_problems(a), a.problems  # no CSP violation, no script error
