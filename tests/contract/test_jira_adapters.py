"""Both adapters against both sandbox flavours over real HTTP: every protocol operation.

The sandbox stands in for a real site, so these tests pin the adapters' contract with
Jira's shapes end to end: what one writes, the other (or a re-read) sees; failures arrive
as the typed errors of ``chalicelib.trackers.base``.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.rules import recovery
from chalicelib.trackers.base import (
    Body,
    InvalidRequest,
    IssueFields,
    NotFound,
    PermissionDenied,
    RateLimited,
    RemoteLink,
    TooLarge,
    Tracker,
    Unavailable,
)
from chalicelib.trackers.factory import make_tracker
from chalicelib.trackers.jira_server import JiraServer
from chalicelib.trackers.webhook import parse_webhook, verify_webhook
from tests.contract.conftest import OTHER, PROJECT, Jira

TWIN = "twinsync.twin"


def new_issue(jira: Jira, tracker: Tracker | None = None, **changes: Any) -> str:
    fields = IssueFields(summary="Printer on fire", issue_type="Task", **changes)
    return (tracker or jira.bot).create_issue(PROJECT, fields).key


def route_count(jira: Jira, user: dict[str, Any]) -> int:
    return jira.admin.request_counts().get(user["id"], {}).get("total", 0)


# --- identity ----------------------------------------------------------------------------


def test_myself_is_the_integration_user(jira: Jira):
    me = jira.bot.myself()
    assert me.id == jira.bot_user["id"] and me.name == "Sync Bot"
    assert jira.alice.myself().id == jira.alice_user["id"]


# --- issues ------------------------------------------------------------------------------


def test_create_then_read_every_field(jira: Jira):
    ref = jira.bot.create_issue(
        PROJECT,
        IssueFields(
            summary="Printer on fire",
            description=jira.body("It burns."),
            issue_type="Bug",
            labels=("hardware", "urgent"),
            priority="High",
            properties={TWIN: {"remote": "XYZ-1"}},
        ),
    )
    assert ref.key.startswith(f"{PROJECT}-") and ref.id
    assert ref.url == f"{jira.site.url}/browse/{ref.key}"
    issue = jira.alice.get_issue(ref.key)
    assert (issue.key, issue.id, issue.project, issue.url) == (ref.key, ref.id, PROJECT, ref.url)
    assert issue.summary == "Printer on fire"
    assert issue.description == jira.body("It burns.")
    assert issue.issue_type == "Bug" and issue.priority == "High"
    assert set(issue.labels) == {"hardware", "urgent"}
    assert issue.status and issue.created and issue.updated
    assert issue.comments == () and issue.attachments == ()
    assert jira.alice.get_issue_property(ref.key, TWIN) == {"remote": "XYZ-1"}


def test_update_issue_changes_only_what_it_sets(jira: Jira):
    key = new_issue(jira, description=jira.body("before"), labels=("a",))
    jira.bot.update_issue(key, IssueFields(summary="Renamed", issue_type="Bug"))
    issue = jira.bot.get_issue(key)
    assert (issue.summary, issue.issue_type) == ("Renamed", "Bug")
    assert issue.description == jira.body("before") and issue.labels == ("a",)
    jira.bot.update_issue(key, IssueFields(labels=(), description=Body("text", None)))
    issue = jira.bot.get_issue(key)
    assert issue.labels == () and issue.description is None


def test_the_changelog_gives_who_wrote_which_value_as_jira_does(jira: Jira):
    """Issue 19: what apply's unseen writes are recovered from. Summary, type and (Server)
    a wiki description read back as their value; Cloud gives an ADF description as text."""
    key = new_issue(jira, description=jira.body("before"))
    jira.alice.update_issue(
        key, IssueFields(summary="Alice's", issue_type="Bug", description=jira.body("h1. Hers"))
    )
    jira.bot.update_issue(key, IssueFields(summary="Ours"))
    history = jira.bot.get_issue(key).history
    assert history == tuple(sorted(history, key=lambda c: c.at))  # oldest first, both flavours
    by = {(c.field, c.author_id): c for c in history}
    alice, bot = jira.alice_user["id"], jira.bot_user["id"]
    assert by[("summary", alice)].to_string == "Alice's"
    assert by[("summary", bot)].to_string == "Ours"
    assert by[("summary", bot)].at >= by[("summary", alice)].at
    assert by[("issuetype", alice)].to_string == "Bug" and by[("issuetype", alice)].to
    # Server: the wiki markup itself; Cloud: the ADF document's text (not the value)
    assert by[("description", alice)].to_string == "h1. Hers"
    found = recovery.overwritten(history, since=None, ours=bot)
    assert found["summary"].to_string == "Alice's"
    assert "issuetype" not in found  # its last change is Alice's own


def test_update_issue_sets_properties(jira: Jira):
    key = new_issue(jira)
    jira.bot.update_issue(key, IssueFields(properties={TWIN: "XYZ-9"}))
    assert jira.bot.get_issue_property(key, TWIN) == "XYZ-9"


def test_delete_issue(jira: Jira):
    key = new_issue(jira)
    jira.bot.delete_issue(key)
    with pytest.raises(NotFound):
        jira.bot.get_issue(key)
    with pytest.raises(NotFound):
        jira.bot.delete_issue(key)


# --- comments ----------------------------------------------------------------------------


def test_comments_add_edit_delete_with_authors(jira: Jira):
    key = new_issue(jira)
    mine = jira.bot.add_comment(key, jira.body("first"))
    hers = jira.alice.add_comment(key, jira.body("second"))
    assert mine.author.id == jira.bot_user["id"] and hers.author.id == jira.alice_user["id"]
    assert mine.body == jira.body("first") and mine.public
    edited = jira.bot.update_comment(key, mine.id, jira.body("first, edited"))
    assert edited.id == mine.id and edited.body == jira.body("first, edited")
    issue = jira.bot.get_issue(key)
    assert [(c.id, c.body) for c in issue.comments] == [
        (mine.id, jira.body("first, edited")),
        (hers.id, jira.body("second")),
    ]
    jira.bot.delete_comment(key, hers.id)
    assert [c.id for c in jira.bot.get_issue(key).comments] == [mine.id]
    with pytest.raises(NotFound):
        jira.bot.delete_comment(key, hers.id)


def test_internal_comment(jira: Jira):
    key = new_issue(jira)
    comment = jira.bot.add_comment(key, jira.body("psst"), public=False)
    (read,) = jira.bot.get_issue(key).comments
    assert read.id == comment.id and read.public == comment.public
    # restricted to a role (Jira Server without Service Management ignores JSM's marker)
    assert read.public is False


def test_many_comments_are_all_read(jira: Jira):
    key = new_issue(jira)
    ids = [jira.bot.add_comment(key, jira.body(f"c{i}")).id for i in range(3)]
    assert [c.id for c in jira.bot.get_issue(key).comments] == ids


# --- attachments -------------------------------------------------------------------------


def test_attachments_upload_list_download_delete(jira: Jira):
    key = new_issue(jira)
    data = bytes(range(256)) * 4
    att = jira.bot.upload_attachment(key, "blob.bin", data, "application/octet-stream")
    assert (att.filename, att.size) == ("blob.bin", len(data))
    assert att.author is not None and att.author.id == jira.bot_user["id"]
    (listed,) = jira.alice.get_issue(key).attachments
    assert listed.id == att.id and listed.mime_type == "application/octet-stream"
    assert jira.alice.download_attachment(att.id) == data
    jira.bot.delete_attachment(att.id)
    assert jira.bot.get_issue(key).attachments == ()
    with pytest.raises(NotFound):
        jira.bot.download_attachment(att.id)


def test_attachment_names_with_spaces_and_unicode(jira: Jira):
    key = new_issue(jira)
    att = jira.bot.upload_attachment(key, "rapport final é.txt", b"hello", "text/plain")
    assert att.filename == "rapport final é.txt"
    assert jira.bot.download_attachment(att.id) == b"hello"


def test_attachment_over_the_limit_is_too_large(jira: Jira):
    key = new_issue(jira)
    jira.admin.faults(attachment_limit=10)
    with pytest.raises(TooLarge) as caught:
        jira.bot.upload_attachment(key, "big.bin", b"x" * 11, "application/octet-stream")
    assert caught.value.status == 413
    assert "too large" in caught.value.message
    assert jira.bot.get_issue(key).attachments == ()


# --- search ------------------------------------------------------------------------------


def test_search_pages_with_the_cursor_until_the_end(jira: Jira):
    keys = {new_issue(jira) for _ in range(5)}
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = jira.bot.search(f"project = {PROJECT} ORDER BY key ASC", cursor=cursor, limit=2)
        pages += 1
        assert len(page.issues) <= 2
        seen.extend(r.key for r in page.issues)
        assert set(page.updated) == {r.key for r in page.issues}
        assert all(r.url.endswith(f"/browse/{r.key}") and r.id for r in page.issues)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert set(seen) == keys and len(seen) == 5 and pages == 3


def test_search_by_updated_for_reconciliation(jira: Jira):
    key = new_issue(jira)
    page = jira.bot.search(f"project = {PROJECT} AND updated >= -1h")
    assert key in [r.key for r in page.issues]
    assert jira.bot.search(f"project = {OTHER}").issues == ()


def test_check_jql(jira: Jira):
    jira.bot.check_jql(f'project = {PROJECT} AND labels IN ("a", "b") ORDER BY created DESC')
    with pytest.raises(InvalidRequest) as caught:
        jira.bot.check_jql("project = = ")
    assert caught.value.error_messages or caught.value.field_errors


def test_unsupported_jql_is_an_error_never_a_match_all(jira: Jira):
    new_issue(jira)
    with pytest.raises(InvalidRequest):
        jira.bot.search("fixVersion in releasedVersions()")


# --- projects ----------------------------------------------------------------------------


def test_get_project_with_issue_types_and_default(jira: Jira):
    project = jira.bot.get_project(PROJECT)
    assert (project.key, project.name) == (PROJECT, "Alpha")
    assert set(project.issue_types) == {"Task", "Bug", "Story"}
    if jira.flavour == "cloud":
        assert project.default_issue_type == "Bug"  # from the issue type scheme
    else:
        # Real Jira Server's REST API does not expose a default issue type.
        assert project.default_issue_type is None


def test_list_projects(jira: Jira):
    projects = {p.key: p for p in jira.bot.list_projects()}
    assert set(projects) == {PROJECT, OTHER}
    assert set(projects[PROJECT].issue_types) == {"Task", "Bug", "Story"}
    assert projects[OTHER].issue_types == ("Task",)
    assert projects[PROJECT].default_issue_type == jira.bot.get_project(PROJECT).default_issue_type


def test_unknown_project_is_not_found(jira: Jira):
    with pytest.raises(NotFound):
        jira.bot.get_project("NOPE")


# --- issue properties --------------------------------------------------------------------


def test_issue_properties(jira: Jira):
    key = new_issue(jira)
    assert jira.bot.get_issue_property(key, TWIN) is None
    jira.bot.set_issue_property(key, TWIN, {"connection": "c1", "remote": "XYZ-1"})
    assert jira.bot.get_issue_property(key, TWIN) == {"connection": "c1", "remote": "XYZ-1"}
    jira.bot.set_issue_property(key, TWIN, "replaced")
    assert jira.bot.get_issue_property(key, TWIN) == "replaced"
    with pytest.raises(NotFound):
        jira.bot.get_issue_property(f"{PROJECT}-999", TWIN)


def test_remote_links_are_put_by_global_id_listed_and_deleted(jira: Jira):
    key = new_issue(jira)
    before = jira.bot.get_issue(key).updated
    first = RemoteLink(
        global_id="twinsync:c1",
        url="https://globex.example/browse/OPS-12",
        title="Synced with OPS-12 by Twinsync",
        summary="Acme-Globex",
        relationship="synced with",
        application="Twinsync",
    )
    jira.bot.put_remote_link(key, first)
    moved = RemoteLink("twinsync:c1", "https://globex.example/browse/OPS-13", "Synced with OPS-13")
    jira.bot.put_remote_link(key, moved)  # the same global id: updated, not a second link
    other = RemoteLink("twinsync:c2", "https://initech.example/browse/X-1", "Synced with X-1")
    jira.bot.put_remote_link(key, other)
    assert [(x.global_id, x.url, x.title) for x in jira.bot.remote_links(key)] == [
        ("twinsync:c1", "https://globex.example/browse/OPS-13", "Synced with OPS-13"),
        ("twinsync:c2", "https://initech.example/browse/X-1", "Synced with X-1"),
    ]
    assert jira.bot.get_issue(key).updated == before  # a remote link is no edit
    assert jira.bot.delete_remote_link(key, "twinsync:c1") is True
    assert jira.bot.delete_remote_link(key, "twinsync:c1") is False
    assert [x.global_id for x in jira.bot.remote_links(key)] == ["twinsync:c2"]
    with pytest.raises(NotFound):
        jira.bot.put_remote_link(f"{PROJECT}-999", other)


def test_find_issues_with_property_finds_only_own_recent_matches(jira: Jira):
    wanted = {"connection": "c1", "remote": "XYZ-7"}
    mine = new_issue(jira, properties={TWIN: wanted})
    new_issue(jira, properties={TWIN: {"connection": "c1", "remote": "XYZ-8"}})
    new_issue(jira)
    new_issue(jira, jira.alice, properties={TWIN: wanted})  # not created by the bot
    assert jira.bot.find_issues_with_property(PROJECT, TWIN, wanted) == [mine]
    assert jira.bot.find_issues_with_property(OTHER, TWIN, wanted) == []


def test_find_issues_with_property_finds_a_new_issue_once_search_catches_up(jira: Jira):
    """With a search lag (Cloud's search/jql is eventually consistent) a new issue is not
    found at once; polling finds it before a deadline."""
    jira.admin.settings(search_lag_ms=300)
    wanted = {"connection": "c1", "remote": "XYZ-9"}
    mine = new_issue(jira, properties={TWIN: wanted})
    deadline = time.monotonic() + 10
    while jira.bot.find_issues_with_property(PROJECT, TWIN, wanted) != [mine]:
        assert time.monotonic() < deadline, "the new issue never showed in search"
        time.sleep(0.05)  # poll interval


# --- failures ----------------------------------------------------------------------------


def test_wrong_credentials_are_permission_denied(jira: Jira):
    intruder = make_tracker(jira.settings(jira.bot_user, token="wrong-token"))
    with pytest.raises(PermissionDenied) as caught:
        intruder.myself()
    assert caught.value.status == 401
    with pytest.raises(PermissionDenied):
        intruder.get_issue(f"{PROJECT}-1")


def test_server_basic_auth_with_user_and_password(jira: Jira):
    if jira.flavour != "server":
        pytest.skip("Server only")
    basic = JiraServer(jira.site.url, jira.bot_user["password"], user=jira.bot_user["name"])
    assert basic.myself().id == jira.bot_user["id"]


def test_unknown_project_on_create_surfaces_jiras_message(jira: Jira):
    with pytest.raises(InvalidRequest) as caught:
        jira.bot.create_issue("NOPE", IssueFields(summary="x", issue_type="Task"))
    assert caught.value.status == 400
    assert "project" in caught.value.field_errors
    assert caught.value.field_errors["project"] in caught.value.message


def test_unknown_issue_type_surfaces_jiras_message(jira: Jira):
    with pytest.raises(InvalidRequest) as caught:
        jira.bot.create_issue(PROJECT, IssueFields(summary="x", issue_type="Epic Saga"))
    assert "issuetype" in caught.value.field_errors


def test_missing_summary_surfaces_jiras_message(jira: Jira):
    with pytest.raises(InvalidRequest) as caught:
        jira.bot.create_issue(PROJECT, IssueFields(issue_type="Task"))
    assert "summary" in caught.value.field_errors


def test_rate_limit_is_typed_with_retry_after_and_not_retried(jira: Jira):
    key = new_issue(jira)
    jira.admin.clear_requests()
    jira.admin.faults(rate_limit_next=1, retry_after=7)
    with pytest.raises(RateLimited) as caught:
        jira.bot.get_issue(key)
    assert caught.value.retry_after == 7.0 and caught.value.status == 429
    assert route_count(jira, jira.bot_user) == 1  # exactly one request: no hidden retry
    assert jira.bot.get_issue(key).key == key  # the next call goes through


def test_server_errors_are_unavailable_and_not_retried(jira: Jira):
    key = new_issue(jira)
    jira.admin.clear_requests()
    jira.admin.faults(fail_next=1, error_status=503)
    with pytest.raises(Unavailable) as caught:
        jira.bot.update_issue(key, IssueFields(summary="x"))
    assert caught.value.status == 503
    assert route_count(jira, jira.bot_user) == 1


def test_slow_tracker_is_unavailable(jira: Jira):
    jira.admin.faults(latency_ms=600)
    slow = make_tracker(jira.settings(jira.bot_user))
    slow.http.timeout = (1.0, 0.2)
    with pytest.raises(Unavailable, match="in time"):
        slow.myself()


def test_nobody_listening_is_unavailable(jira: Jira):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gone = make_tracker(
        type(jira.settings(jira.bot_user))(
            jira.settings(jira.bot_user).kind,
            f"http://127.0.0.1:{port}",
            jira.settings(jira.bot_user).user,
            "t",
        )
    )
    with pytest.raises(Unavailable, match="could not connect"):
        gone.myself()


# --- webhooks from the sandbox, verified and parsed by ours ------------------------------


class Receiver:
    """A loopback endpoint that records webhook requests (headers, query, raw body)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.requests.append(
                        {
                            "headers": dict(self.headers.items()),
                            "query": parse_qs(urlsplit(self.path).query),
                            "raw": raw,
                        }
                    )
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/webhooks/jira"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, event: str, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Every request received once one with ``webhookEvent == event`` has arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if any(json.loads(r["raw"])["webhookEvent"] == event for r in self.requests):
                    return list(self.requests)
            time.sleep(0.02)
        raise AssertionError(f"no {event} webhook within {timeout} s")

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver():
    started = Receiver()
    yield started
    started.stop()


def test_sandbox_webhooks_verify_and_parse(jira: Jira, receiver: Receiver):
    secret = "webhook-secret-0123456789"
    jira.admin.add_webhook(receiver.url, secret=secret)
    key = new_issue(jira, jira.alice)
    comment = jira.bot.add_comment(key, jira.body("from the bot"))
    jira.bot.update_issue(key, IssueFields(summary="Renamed by bot"))
    att = jira.alice.upload_attachment(key, "a.txt", b"a", "text/plain")
    jira.alice.delete_comment(key, comment.id)
    jira.alice.delete_issue(key)
    got = receiver.wait_for("jira:issue_deleted")
    events = []
    for request in got:
        query = {k: v[0] for k, v in request["query"].items()}
        assert verify_webhook(request["headers"], query, request["raw"], secret)
        assert not verify_webhook(request["headers"], query, request["raw"], secret + "x")
        event = parse_webhook(request["headers"], request["raw"])
        assert event.delivery_id and not event.retry
        events.append(event)
    by_kind = {}
    for event in events:
        by_kind.setdefault(event.kind, []).append(event)
    bot, alice = jira.bot_user["id"], jira.alice_user["id"]
    (created,) = by_kind["issue_created"]
    assert (created.issue_key, created.author_id) == (key, alice)
    # Jira sends comment_created and jira:issue_updated (issue_commented): both name the bot,
    # so the integration user's own change is recognisable either way.
    commented = by_kind["comment_created"]
    assert commented and all(e.author_id == bot for e in commented)
    assert all(e.issue_key == key or e.issue_id for e in commented)
    assert any(e.kind == "comment_deleted" and e.author_id in (alice, None) for e in events)
    renamed = [e for e in by_kind["issue_updated"] if "summary" in e.changed_fields]
    assert renamed and renamed[0].author_id == bot and renamed[0].issue_key == key
    attached = [e for e in by_kind.get("issue_updated", []) if "Attachment" in e.changed_fields]
    attached += by_kind.get("attachment_created", [])
    assert attached and all(e.author_id == alice for e in attached), att
    assert all(e.issue_key is None for e in by_kind.get("attachment_created", []))
    (deleted,) = by_kind["issue_deleted"]
    assert deleted.issue_key == key and deleted.author_id == alice


@pytest.mark.timeout(20)
def test_bodies_of_the_other_format_are_converted_on_write(jira: Jira):
    formats = pytest.importorskip("chalicelib.trackers.formats")
    if not hasattr(formats, "convert"):
        pytest.skip("chalicelib.trackers.formats.convert is not there yet")
    other = (
        Body("wiki", "Hello *world*")
        if jira.flavour == "cloud"
        else Body(
            "adf",
            {
                "type": "doc",
                "version": 1,
                "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Hello"}]}],
            },
        )
    )
    key = new_issue(jira, description=other)
    comment = jira.bot.add_comment(key, other)
    issue = jira.bot.get_issue(key)
    expected = formats.convert(other.format, other.value, jira.bot.body_format)
    assert issue.description == Body(jira.bot.body_format, expected)
    assert comment.body == Body(jira.bot.body_format, expected)
