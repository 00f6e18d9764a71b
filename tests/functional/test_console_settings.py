"""The console's Settings tab of a connection (name, description, deletion policy,
Deactivate / Activate, Delete behind confirmation pages), the Connections list's private
peer lag and live table, and the node-wide tabs: Audit log (with its JSON lines Export),
Notifications and Node. Chalice's test client, no browser (the browser walk is
``tests/stack/test_console_settings.py``)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.factories.cluster import connect_a_to_b, three_nodes
from tests.functional.test_console import Visitor, header, hidden, text, unlabelled

HOOKS = "/api/v1/notifications/webhooks"


@pytest.fixture
def cluster(aws, monkeypatch):
    with three_nodes(aws, monkeypatch) as nodes:
        yield nodes


def _signed_in(cluster: Any, node: str = "node-a") -> Visitor:
    visitor = Visitor(cluster, node)
    visitor.sign_in()
    return visitor


def _connection(cluster: Any, cid: str, node: str = "node-a") -> Any:
    return cluster.admin(node, "GET", f"/api/v1/connections/{cid}")


def _pending(cluster: Any, name: str = "Waiting") -> str:
    """A connection initiated on A without a URL: pending until someone accepts the code."""
    created = cluster.admin(
        "node-a",
        "POST",
        "/api/v1/connections",
        {
            "destination_url": None,
            "mode": "basic",
            "local_short_name": "A",
            "remote_short_name": "P",
            "name": name,
            "incoming_project": "SUP",
        },
    )
    assert created.status == 201, created.body
    return str(created.body["connection"]["id"])


def _to_private(cluster: Any) -> str:
    """A ↔ P: A initiates without a URL, the private node P accepts; A's id (A's end has a
    ``peer_lag``: P pulls)."""
    created = cluster.admin(
        "node-a",
        "POST",
        "/api/v1/connections",
        {
            "destination_url": None,
            "mode": "basic",
            "local_short_name": "A",
            "remote_short_name": "P",
            "name": "A_to_P",
            "incoming_project": "SUP",
        },
    )
    assert created.status == 201, created.body
    accepted = cluster.admin(
        "node-p",
        "POST",
        "/api/v1/invitations/accept",
        {"invitation_code": created.body["invitation_code"], "incoming_project": "PRIV"},
    )
    assert accepted.status == 201, accepted.body
    return str(created.body["connection"]["id"])


def _alert(html: str) -> str:
    found = re.search(r'role="alert">(.*?)</p>', html, re.S)
    return found.group(1) if found else ""


def _notice(html: str) -> str:
    found = re.search(r'class="notice" role="status"[^>]*>(.*?)</p>', html, re.S)
    return found.group(1) if found else ""


# --- Settings: name and description -------------------------------------------------------


def test_the_settings_tab_shows_the_connection_and_labels_every_input(cluster):
    cid = connect_a_to_b(cluster)
    visitor = _signed_in(cluster)
    overview = text(visitor.get(f"/console/connections/{cid}"))
    assert f'href="/console/connections/{cid}/settings">Settings</a>' in overview

    page = visitor.get(f"/console/connections/{cid}/settings")
    html = text(page)
    assert page.status_code == 200
    assert 'aria-current="page">Settings</a>' in html
    assert 'value="A_to_B"' in html
    assert "Connection name" in html and "Description" in html
    assert 'value="comment" checked' in html  # the default deletion policy
    assert ">Deactivate</a>" in html and ">Delete connection</a>" in html
    assert not unlabelled(html)


def test_renaming_and_describing_goes_through_the_api_with_its_audit(cluster):
    cid = connect_a_to_b(cluster)
    visitor = _signed_in(cluster)
    csrf = visitor.csrf(f"/console/connections/{cid}/settings")
    saved = visitor.post(
        f"/console/connections/{cid}/settings",
        {"csrf_token": csrf, "name": "Support ↔ Dev", "description": "Tickets to the devs"},
    )
    assert saved.status_code == 303
    assert header(saved, "Location") == f"/console/connections/{cid}/settings?done=saved"
    assert "information was saved" in _notice(text(visitor.get(header(saved, "Location"))))
    body = _connection(cluster, cid).body
    assert (body["name"], body["description"]) == ("Support ↔ Dev", "Tickets to the devs")
    actions = [e["action"] for e in cluster.admin("node-a", "GET", "/api/v1/audit").body]
    assert "connection.edited" in actions

    again = visitor.post(
        f"/console/connections/{cid}/settings",
        {"csrf_token": csrf, "name": "Support ↔ Dev", "description": "Tickets to the devs"},
    )
    assert header(again, "Location").endswith("done=unchanged")


def test_a_name_taken_or_empty_is_refused_as_a_sentence_and_nothing_changes(cluster):
    cid = connect_a_to_b(cluster)
    _pending(cluster, "Taken")
    visitor = _signed_in(cluster)
    csrf = visitor.csrf(f"/console/connections/{cid}/settings")
    taken = visitor.post(
        f"/console/connections/{cid}/settings",
        {"csrf_token": csrf, "name": "Taken", "description": ""},
    )
    assert taken.status_code == 409
    assert "A connection with this name already exists" in _alert(text(taken))
    assert 'value="Taken"' in text(taken)  # the form keeps what was typed
    empty = visitor.post(
        f"/console/connections/{cid}/settings",
        {"csrf_token": csrf, "name": "", "description": ""},
    )
    assert empty.status_code == 400
    assert "Connection name" in _alert(text(empty))
    assert _connection(cluster, cid).body["name"] == "A_to_B"


# --- Settings: deletion policy --------------------------------------------------------------


def test_the_deletion_policy_is_saved_and_a_wrong_value_is_a_sentence(cluster):
    cid = connect_a_to_b(cluster)
    visitor = _signed_in(cluster)
    csrf = visitor.csrf(f"/console/connections/{cid}/settings")
    saved = visitor.post(
        f"/console/connections/{cid}/deletion-policy",
        {"csrf_token": csrf, "on_twin_deleted": "delete"},
    )
    assert header(saved, "Location").endswith("done=policy")
    policy = cluster.admin("node-a", "GET", f"/api/v1/connections/{cid}/deletion-policy")
    assert policy.body == {"on_twin_deleted": "delete"}
    html = text(visitor.get(f"/console/connections/{cid}/settings"))
    assert 'value="delete" checked' in html

    wrong = visitor.post(
        f"/console/connections/{cid}/deletion-policy",
        {"csrf_token": csrf, "on_twin_deleted": "burn"},
    )
    assert wrong.status_code == 400
    assert "Deletion policy" in _alert(text(wrong))
    assert cluster.admin("node-a", "GET", f"/api/v1/connections/{cid}/deletion-policy").body == {
        "on_twin_deleted": "delete"
    }


# --- Settings: Deactivate / Activate ------------------------------------------------------


def test_deactivate_asks_first_then_deactivates_and_activate_brings_it_back(cluster):
    cid = connect_a_to_b(cluster)
    visitor = _signed_in(cluster)
    confirm = visitor.get(f"/console/connections/{cid}/settings/deactivate")
    html = text(confirm)
    assert confirm.status_code == 200
    assert '<h1 id="confirm-title">Deactivate A_to_B?</h1>' in html
    assert ">Deactivate</button>" in html and ">Cancel</a>" in html
    assert not unlabelled(html)
    assert _connection(cluster, cid).body["status"] == "active"  # asking changes nothing

    done = visitor.post(
        f"/console/connections/{cid}/deactivate",
        {"csrf_token": hidden(confirm, "csrf_token"), "reason": "maintenance"},
    )
    assert header(done, "Location").endswith("done=deactivated")
    assert _connection(cluster, cid).body["status"] == "deactivated"
    other_end = cluster.admin("node-b", "GET", "/api/v1/connections").body[0]
    assert other_end["status"] == "deactivated"
    assert "maintenance" in (other_end["status_reason"] or "")

    settings = visitor.get(f"/console/connections/{cid}/settings")
    assert ">Deactivated</span>" in text(settings)
    assert ">Activate</button>" in text(settings)
    again = visitor.post(
        f"/console/connections/{cid}/deactivate", {"csrf_token": hidden(settings, "csrf_token")}
    )
    assert header(again, "Location").endswith("done=already_deactivated")
    assert "already deactivated" in _notice(text(visitor.get(header(again, "Location"))))

    activated = visitor.post(
        f"/console/connections/{cid}/activate", {"csrf_token": hidden(settings, "csrf_token")}
    )
    assert header(activated, "Location").endswith("done=activated")
    assert _connection(cluster, cid).body["status"] == "active"


def test_a_pending_connection_cannot_be_deactivated_and_says_why(cluster):
    cid = _pending(cluster)
    visitor = _signed_in(cluster)
    settings = visitor.get(f"/console/connections/{cid}/settings")
    assert "A pending connection cannot be deactivated" in text(settings)
    assert ">Deactivate</a>" not in text(settings)
    refused = visitor.post(
        f"/console/connections/{cid}/deactivate", {"csrf_token": hidden(settings, "csrf_token")}
    )
    assert refused.status_code == 409
    assert "still waiting for the partner to accept" in _alert(text(refused))
    assert _connection(cluster, cid).body["status"] == "pending"


# --- Settings: Delete ---------------------------------------------------------------------


def test_delete_asks_first_then_deletes_and_says_so_on_the_connections_tab(cluster):
    cid = connect_a_to_b(cluster)
    visitor = _signed_in(cluster)
    confirm = visitor.get(f"/console/connections/{cid}/settings/delete")
    html = text(confirm)
    assert "Delete A_to_B?" in html
    assert ">Delete</button>" in html
    assert f'href="/console/connections/{cid}/settings">Cancel</a>' in html
    assert _connection(cluster, cid).status == 200  # asking changes nothing

    deleted = visitor.post(
        f"/console/connections/{cid}/delete", {"csrf_token": hidden(confirm, "csrf_token")}
    )
    assert deleted.status_code == 303
    assert header(deleted, "Location") == "/console/connections?deleted=A_to_B"
    listing = text(visitor.get(header(deleted, "Location")))
    assert "The connection A_to_B was deleted." in _notice(listing)
    assert _connection(cluster, cid).status == 404
    assert cluster.admin("node-b", "GET", "/api/v1/connections").body[0]["status"] == "error"

    gone = visitor.post(
        f"/console/connections/{cid}/delete", {"csrf_token": hidden(confirm, "csrf_token")}
    )
    assert gone.status_code == 404
    assert "This connection does not exist (any more)." in _alert(text(gone))
    assert visitor.get(f"/console/connections/{cid}/settings").status_code == 404


def test_every_state_change_without_the_csrf_value_is_refused_and_changes_nothing(cluster):
    cid = connect_a_to_b(cluster)
    hook = cluster.admin("node-a", "POST", HOOKS, {"url": "http://127.0.0.1:9/hook"}).body
    visitor = _signed_in(cluster)
    before = _connection(cluster, cid).body
    attempts = [
        (f"/console/connections/{cid}/settings", {"name": "Hijacked", "description": "x"}),
        (f"/console/connections/{cid}/deletion-policy", {"on_twin_deleted": "delete"}),
        (f"/console/connections/{cid}/deactivate", {}),
        (f"/console/connections/{cid}/activate", {}),
        (f"/console/connections/{cid}/delete", {}),
        ("/console/notifications", {"url": "http://127.0.0.1:8/x", "event_issue_error": "on"}),
        (f"/console/notifications/{hook['id']}/delete", {}),
        (f"/console/notifications/{hook['id']}/test", {}),
    ]
    for path, form in attempts:
        for csrf in (None, "f" * 43):
            sent = dict(form) if csrf is None else {**form, "csrf_token": csrf}
            assert visitor.post(path, sent).status_code == 403, path
    assert _connection(cluster, cid).body == before
    policy = cluster.admin("node-a", "GET", f"/api/v1/connections/{cid}/deletion-policy")
    assert policy.body == {"on_twin_deleted": "comment"}
    assert [h["id"] for h in cluster.admin("node-a", "GET", HOOKS).body["webhooks"]] == [hook["id"]]
    # and without a session: a 401, nothing changed
    stranger = Visitor(cluster, "node-a")
    assert stranger.post(f"/console/connections/{cid}/delete", {}).status_code == 401
    assert _connection(cluster, cid).status == 200


# --- Connections: the private peer's lag and the live table ---------------------------------


def test_the_connections_list_shows_a_private_peers_lag_and_refreshes_itself(cluster):
    cid = _to_private(cluster)
    public = connect_a_to_b(cluster)
    visitor = _signed_in(cluster)
    listed = cluster.admin("node-a", "GET", "/api/v1/connections").body
    assert "peer_lag" in next(c for c in listed if c["id"] == cid)
    html = text(visitor.get("/console/connections"))
    lag = re.search(rf'data-peer-lag-of="{cid}">(.*?)</td>', html, re.S).group(1)
    assert re.fullmatch(r"\d+ waiting(, oldest \S+ \S+)?; (no pull yet|last pull .* ago)", lag)
    assert re.search(rf'data-peer-lag-of="{public}">&mdash;</td>', html)
    # htmx polls the table alone; the Refresh button stays for a browser without script
    assert 'hx-get="/console/live/connections" hx-trigger="every 3s"' in html
    assert ">Refresh</a>" in html

    fragment = visitor.get("/console/live/connections")
    assert fragment.status_code == 200
    body = text(fragment)
    assert "<html" not in body and "<table>" in body
    assert f'data-status-of="{cid}">Active</span>' in body

    cluster.admin("node-a", "POST", f"/api/v1/connections/{public}/deactivate", {})
    again = text(visitor.get("/console/live/connections"))
    assert f'data-status-of="{public}">Deactivated</span>' in again
    # the session ended: a browser without script is sent to sign in; htmx loads the sign-in
    # page as a page instead of swapping it into the table
    stranger = Visitor(cluster, "node-a")
    plain = stranger.get("/console/live/connections")
    assert plain.status_code == 303
    assert header(plain, "Location") == "/console/signin?next=%2Fconsole%2Fconnections"
    polled = stranger.get("/console/live/connections", **{"HX-Request": "true"})
    assert polled.status_code == 200 and text(polled) == ""
    assert header(polled, "HX-Redirect") == "/console/signin?next=%2Fconsole%2Fconnections"


def test_peer_lag_labels():
    from chalicelib.console.common import peer_lag_label

    now = datetime(2026, 12, 3, 10, 0, 30, tzinfo=UTC)
    assert peer_lag_label(None) is None
    assert (
        peer_lag_label(
            {"pending": 3, "oldest_pending_age_s": 12.4, "last_pull_at": "2026-12-03T10:00:26Z"},
            now,
        )
        == "3 waiting, oldest 12 s; last pull 4 s ago"
    )
    assert (
        peer_lag_label({"pending": 0, "oldest_pending_age_s": None, "last_pull_at": None}, now)
        == "0 waiting; no pull yet"
    )


# --- Audit log ------------------------------------------------------------------------------


def test_the_audit_log_lists_filters_and_pages_on(cluster):
    cid = connect_a_to_b(cluster)
    other = _pending(cluster)
    for n in range(26):
        renamed = cluster.admin("node-a", "PATCH", f"/api/v1/connections/{cid}", {"name": f"n{n}"})
        assert renamed.status == 200
    visitor = _signed_in(cluster)
    first = visitor.get("/console/audit")
    html = text(first)
    assert first.status_code == 200
    assert 'aria-current="page">Audit log</a>' in html
    assert html.count("data-audit-entry=") == 25
    assert "connection.edited" in html and "admin:" in html
    assert not unlabelled(html)
    more = re.search(r'href="(/console/audit\?cursor=[^"]+)" rel="next">More entries', html)
    assert more
    second = text(visitor.get(more.group(1).replace("&amp;", "&")))
    assert "connection.created" in second  # the oldest entries are on the next page

    only = text(visitor.get(f"/console/audit?connection_id={other}"))
    assert only.count("data-audit-entry=") == 1
    assert "connection.created" in only and "connection.edited" not in only
    assert f'<option value="{other}" selected>' in only
    assert f'href="/console/audit/export?connection_id={other}" download>Export' in only

    bad = visitor.get("/console/audit?cursor=not-a-cursor")
    assert bad.status_code == 400
    assert _alert(text(bad))


def _export_lines(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, text(response)[:500]
    assert header(response, "Content-Type").startswith("application/x-ndjson")
    return [json.loads(line) for line in text(response).splitlines()]


def test_the_export_downloads_every_entry_as_json_lines(cluster):
    cid = connect_a_to_b(cluster)
    cluster.admin("node-a", "PATCH", f"/api/v1/connections/{cid}", {"name": "Renamed"})
    visitor = _signed_in(cluster)
    export = visitor.get("/console/audit/export")
    assert header(export, "Content-Disposition") == 'attachment; filename="twinsync-audit.jsonl"'
    assert "default-src 'none'" in header(export, "Content-Security-Policy")
    lines = _export_lines(export)
    expected = cluster.admin("node-a", "GET", "/api/v1/audit?limit=100").body
    assert [e["id"] for e in lines] == [e["id"] for e in reversed(expected)]  # oldest first

    other = _pending(cluster)
    one = _export_lines(visitor.get(f"/console/audit/export?connection_id={other}"))
    assert [e["action"] for e in one] == ["connection.created"]  # one entry, written back


def test_a_log_longer_than_one_answer_is_offered_in_parts_that_add_up(cluster, monkeypatch):
    cid = connect_a_to_b(cluster)
    for n in range(4):
        cluster.admin("node-a", "PATCH", f"/api/v1/connections/{cid}", {"name": f"n{n}"})
    visitor = _signed_in(cluster)
    whole = _export_lines(visitor.get("/console/audit/export"))
    monkeypatch.setattr("chalicelib.api.ops.EXPORT_PAGE", 2)
    monkeypatch.setattr("chalicelib.api.ops.EXPORT_MAX_BYTES", 1)
    parts_page = visitor.get("/console/audit/export")
    html = text(parts_page)
    assert parts_page.status_code == 200
    assert "comes in parts" in html
    links = [
        u.replace("&amp;", "&")
        for u in re.findall(r'href="(/console/audit/export\?part=[^"]+)" download', html)
    ]
    assert len(links) == (len(whole) + 1) // 2
    joined: list[dict[str, Any]] = []
    for number, link in enumerate(links, start=1):
        part = visitor.get(link)
        assert header(part, "Content-Disposition").endswith(f'twinsync-audit-part-{number}.jsonl"')
        joined += _export_lines(part)
    assert joined == whole


# --- Notifications --------------------------------------------------------------------------


def test_add_send_test_and_delete_a_notification_webhook(cluster):
    visitor = _signed_in(cluster)
    page = visitor.get("/console/notifications")
    assert 'aria-current="page">Notifications</a>' in text(page)
    assert "No notification webhook yet." in text(page)
    assert not unlabelled(text(page))
    csrf = hidden(page, "csrf_token")

    added = visitor.post(
        "/console/notifications",
        {"csrf_token": csrf, "url": "http://127.0.0.1:9/hook", "event_issue_error": "on"},
    )
    assert header(added, "Location") == "/console/notifications?done=added"
    (hook,) = cluster.admin("node-a", "GET", HOOKS).body["webhooks"]
    assert (hook["url"], hook["events"]) == ("http://127.0.0.1:9/hook", ["issue_error"])
    listing = text(visitor.get(header(added, "Location")))
    assert "The notification webhook was added." in _notice(listing)
    assert "http://127.0.0.1:9/hook" in listing and "An issue fails to sync" in listing

    # nothing listens there (in this test the node's network is the cluster): a sentence
    tested = visitor.post(f"/console/notifications/{hook['id']}/test", {"csrf_token": csrf})
    assert tested.status_code == 200
    assert "The test message was not delivered:" in text(tested)

    confirm = visitor.get(f"/console/notifications/{hook['id']}/delete")
    assert "Delete the notification webhook?" in text(confirm)
    assert ">Delete</button>" in text(confirm) and ">Cancel</a>" in text(confirm)
    assert len(cluster.admin("node-a", "GET", HOOKS).body["webhooks"]) == 1
    deleted = visitor.post(f"/console/notifications/{hook['id']}/delete", {"csrf_token": csrf})
    assert header(deleted, "Location") == "/console/notifications?done=deleted"
    assert cluster.admin("node-a", "GET", HOOKS).body["webhooks"] == []

    gone = visitor.post(f"/console/notifications/{hook['id']}/test", {"csrf_token": csrf})
    assert gone.status_code == 404
    assert "no longer exists" in _alert(text(gone))
    assert visitor.get(f"/console/notifications/{hook['id']}/delete").status_code == 404


def test_a_refused_webhook_is_a_sentence_and_the_form_keeps_what_was_typed(cluster):
    visitor = _signed_in(cluster)
    csrf = visitor.csrf("/console/notifications")
    metadata = visitor.post(
        "/console/notifications",
        {"csrf_token": csrf, "url": "http://169.254.169.254/latest", "event_issue_error": "on"},
    )
    assert metadata.status_code == 400
    assert "This node may not call that URL" in _alert(text(metadata))
    assert 'value="http://169.254.169.254/latest"' in text(metadata)
    no_event = visitor.post("/console/notifications", {"csrf_token": csrf, "url": "http://x/"})
    assert no_event.status_code == 400
    assert "Choose at least one event" in _alert(text(no_event))
    assert cluster.admin("node-a", "GET", HOOKS).body["webhooks"] == []


# --- Node -----------------------------------------------------------------------------------


def test_the_node_tab_shows_the_node_and_its_health(cluster):
    cid = connect_a_to_b(cluster)
    visitor = _signed_in(cluster)
    page = visitor.get("/console/node")
    html = text(page)
    assert page.status_code == 200
    about = cluster.admin("node-a", "GET", "/api/v1/node").body
    assert f"data-node-id>{about['node_id']}</dd>" in html
    assert about["public_url"] and f"data-public-url>{about['public_url']}</span>" in html
    assert "Configuration types" in html and "Basic" in html
    assert about["version"] and f"data-node-version>Twinsync {about['version']}</dd>" in html
    assert re.search(r"data-health-status>(OK|Degraded)</span>", html)
    assert "Tables" in html and "Queues" in html
    assert f'href="/console/connections/{cid}">A_to_B</a>' in html
    assert 'aria-current="page">Node</a>' in html

    private = text(_signed_in(cluster, "node-p").get("/console/node"))
    assert "none: this node is private" in private
