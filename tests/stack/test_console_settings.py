"""The console's Settings tab, the live Connections list, the Audit log with its export,
Notifications and Node, in a real browser (headless Debian chromium, Playwright) on the
local stack. Each step leaves a screenshot in ``.devstack/screenshots/<test>/``.

Waiting is always for what the page shows (Playwright's ``expect`` polls), never a sleep.
"""

from __future__ import annotations

import json
import queue
import re
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.stack.conftest import NodeClient, Screens, connect

pytestmark = pytest.mark.stack

LIVE_TIMEOUT_MS = 20_000  # the table polls every 3 s


def sign_in(page: Any, node: NodeClient, screens: Screens, name: str) -> None:
    page.goto(node.url + "/console/")
    page.get_by_label("Admin token").fill(node.info["admin_token"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Connections")).to_be_visible()
    screens.shot(page, f"{name}-connections")


def pending_connection(node: NodeClient, name: str) -> dict[str, Any]:
    """A connection initiated on ``node`` without a URL: pending, with its invitation code."""
    created = node.post(
        "/api/v1/connections",
        {
            "destination_url": None,
            "mode": "basic",
            "local_short_name": "Acme",
            "remote_short_name": "Globex",
            "name": name,
            "incoming_project": "ALPHA",
        },
    )
    assert created.status_code == 201, created.text
    return created.json()


class Receiver:
    """A loopback HTTP server that queues the JSON bodies POSTed to it (the stack's nodes
    may call loopback: ``TWINSYNC_ALLOW_PRIVATE_URLS``)."""

    def __init__(self) -> None:
        self.bodies: queue.Queue[dict[str, Any]] = queue.Queue()
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                received.put(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()


def test_settings_of_a_connection_in_the_browser(
    tabs: Any, node_a: NodeClient, node_b: NodeClient, screens: Screens
) -> None:
    cid = connect(node_a, node_b, initiator_project="ALPHA", acceptor_project="OPS")
    new_name = f"Support-Dev-{uuid.uuid4().hex[:6]}"
    a = tabs(node_a)
    page = a.page
    sign_in(page, node_a, screens, "a")

    # rename it on its Settings tab
    page.goto(f"{node_a.url}/console/connections/{cid}")
    page.get_by_role("navigation", name="This connection").get_by_role(
        "link", name="Settings"
    ).click()
    expect(page.get_by_role("heading", name="Connection information")).to_be_visible()
    screens.shot(page, "a-settings")
    page.get_by_label("Connection name").fill(new_name)
    page.get_by_label("Description").fill("Support tickets to the developers")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("information was saved")
    expect(page.get_by_role("heading", name=new_name, level=1)).to_be_visible()
    screens.shot(page, "a-renamed")
    assert node_a.get(f"/api/v1/connections/{cid}").json()["name"] == new_name

    # deactivate: a confirmation page first; Cancel changes nothing
    page.get_by_role("link", name="Deactivate").click()
    expect(page.get_by_role("heading", name=f"Deactivate {new_name}?")).to_be_visible()
    screens.shot(page, "a-deactivate-confirm")
    page.get_by_role("link", name="Cancel").click()
    expect(page.locator("[data-connection-status]")).to_have_text("Active")
    page.get_by_role("link", name="Deactivate").click()
    page.get_by_label("Reason (optional, shown to the other side)").fill("maintenance")
    page.get_by_role("button", name="Deactivate").click()
    expect(page.locator("[data-connection-status]")).to_have_text("Deactivated")
    expect(page.get_by_role("status")).to_contain_text("The connection was deactivated")
    screens.shot(page, "a-deactivated")

    # activate
    page.get_by_role("button", name="Activate").click()
    expect(page.locator("[data-connection-status]")).to_have_text("Active")
    screens.shot(page, "a-activated")

    # the audit log shows the rename; Export downloads JSON lines
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    edited = page.locator("[data-audit-entry]").filter(has_text="connection.edited").first
    expect(edited).to_contain_text(new_name)
    screens.shot(page, "a-audit-log")
    with page.expect_download() as downloading:
        page.get_by_role("link", name="Export").click()
    download = downloading.value
    assert download.suggested_filename == "twinsync-audit.jsonl"
    with open(download.path(), encoding="utf-8") as exported:
        entries = [json.loads(line) for line in exported if line.strip()]
    ours = [e for e in entries if e["connection_id"] == cid]
    assert [e["action"] for e in ours][-3:] == [
        "connection.edited",
        "connection.deactivated",
        "connection.activated",
    ]
    assert ours[-3]["details"]["name"] == new_name

    assert not a.problems, a.problems  # no CSP violation, no script error


def test_delete_and_live_status_on_the_connections_list(
    tabs: Any, node_a: NodeClient, node_b: NodeClient, screens: Screens
) -> None:
    a = tabs(node_a)
    page = a.page
    sign_in(page, node_a, screens, "a")

    # a throwaway connection, deleted through its confirmation
    throwaway = f"throwaway-{uuid.uuid4().hex[:6]}"
    gone = pending_connection(node_a, throwaway)["connection"]["id"]
    page.goto(f"{node_a.url}/console/connections/{gone}/settings")
    page.get_by_role("link", name="Delete connection").click()
    expect(page.get_by_role("heading", name=f"Delete {throwaway}?")).to_be_visible()
    screens.shot(page, "a-delete-confirm")
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("heading", name="Connections")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text(f"The connection {throwaway} was deleted.")
    expect(page.get_by_role("row").filter(has_text=throwaway)).to_have_count(0)
    screens.shot(page, "a-deleted")
    assert node_a.get(f"/api/v1/connections/{gone}").status_code == 404

    # Pending → Active without clicking Refresh: the partner accepts meanwhile
    name = f"live-{uuid.uuid4().hex[:6]}"
    created = pending_connection(node_a, name)
    page.get_by_role("link", name="Refresh").click()
    row = page.get_by_role("row").filter(has_text=name)
    expect(row).to_contain_text("Pending")
    screens.shot(page, "a-pending")
    accepted = node_b.post(
        "/api/v1/invitations/accept",
        {"invitation_code": created["invitation_code"], "incoming_project": "OPS"},
    )
    assert accepted.status_code == 201, accepted.text
    expect(row).to_contain_text("Active", timeout=LIVE_TIMEOUT_MS)
    # node b is private: a's end shows how far behind b's pulls are
    expect(row.locator("[data-peer-lag-of]")).to_contain_text("waiting", timeout=LIVE_TIMEOUT_MS)
    screens.shot(page, "a-active-without-reload")

    # the session ends (here: its cookie is gone): the next poll loads the sign-in page
    a.context.clear_cookies()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(page.get_by_role("heading", name="Connections")).to_have_count(0)
    screens.shot(page, "a-session-ended")

    assert not a.problems, a.problems


def test_notifications_and_node_in_the_browser(
    tabs: Any, node_a: NodeClient, screens: Screens, receiver: Receiver
) -> None:
    a = tabs(node_a)
    page = a.page
    sign_in(page, node_a, screens, "a")

    page.get_by_role("link", name="Notifications").click()
    expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
    # the SSRF guard: the metadata address is never allowed, even on the local stack
    page.get_by_label("Webhook URL").fill("http://169.254.169.254/latest")
    page.get_by_role("button", name="Add webhook").click()
    expect(page.get_by_role("alert")).to_contain_text("This node may not call that URL")
    screens.shot(page, "a-webhook-refused")
    # the refusal is answered with its status (400): the browser logs that, nothing else
    assert [p for p in a.problems if "status of 400" not in p] == []
    a.problems.clear()

    page.get_by_label("Webhook URL").fill(receiver.url)
    page.get_by_label("A connection is paused").uncheck()
    page.get_by_role("button", name="Add webhook").click()
    expect(page.get_by_role("status")).to_have_text("The notification webhook was added.")
    row = page.get_by_role("row").filter(has_text=receiver.url)
    expect(row).to_contain_text("An issue fails to sync")
    screens.shot(page, "a-webhook-added")

    row.get_by_role("button", name="Send test").click()
    expect(page.locator("[data-test-result]")).to_contain_text("was delivered")
    body = receiver.bodies.get(timeout=10)
    assert body["twinsync"]["event"] == "test", body
    screens.shot(page, "a-webhook-tested")

    page.get_by_role("row").filter(has_text=receiver.url).get_by_role("link", name="Delete").click()
    expect(page.get_by_role("heading", name="Delete the notification webhook?")).to_be_visible()
    screens.shot(page, "a-webhook-delete-confirm")
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status")).to_have_text("The notification webhook was deleted.")
    expect(page.get_by_role("row").filter(has_text=receiver.url)).to_have_count(0)
    hooks = node_a.get("/api/v1/notifications/webhooks").json()["webhooks"]
    assert receiver.url not in [h["url"] for h in hooks]

    page.get_by_role("link", name="Node").click()
    expect(page.locator("[data-node-id]")).to_have_text("local-a")
    expect(page.locator("[data-public-url]")).to_have_text(node_a.url)
    expect(page.locator("[data-health-status]")).to_have_text(re.compile(r"^(OK|Degraded)$"))
    screens.shot(page, "a-node")

    assert not a.problems, a.problems
