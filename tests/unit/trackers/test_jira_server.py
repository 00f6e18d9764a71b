"""Jira Server / DC adapter against a fake REST v2 at the transport: every operation."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.trackers.base import (
    Body,
    CommentVisibility,
    InvalidRequest,
    IssueFields,
    NotFound,
    PermissionDenied,
    RateLimited,
    TooLarge,
    Tracker,
    TrackerError,
    Unavailable,
)
from chalicelib.trackers.jira_server import JiraServer
from tests.factories.fake_http import Call, FakeHttp
from tests.unit.trackers import jira_json as J
from tests.unit.trackers.conftest import SERVER_BEARER, basic, sent_json

API = f"{J.SERVER}/rest/api/2"


def query(call: Call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def only_call(http: FakeHttp) -> Call:
    assert len(http.calls) == 1
    call = http.calls[0]
    assert call.request.headers["Authorization"] == SERVER_BEARER
    return call


def test_is_a_tracker(server):
    assert isinstance(server, Tracker)
    assert (server.kind, server.body_format) == ("jira_server", "wiki")


def test_myself_is_the_user_key(http, server):
    http.get(f"{API}/myself", json=J.server_user("JIRAUSER10000", "bot", "Sync Bot"))
    user = server.myself()
    assert (user.id, user.name) == ("JIRAUSER10000", "Sync Bot")
    only_call(http)


def test_basic_auth_when_a_user_is_configured(http):
    http.get(f"{API}/myself", json=J.server_user())
    JiraServer(J.SERVER, "pw", user="bot", pool=http.pool()).myself()
    assert http.calls[0].request.headers["Authorization"] == basic("bot", "pw")


def test_get_issue_reads_wiki_bodies_and_key_users(http, server):
    http.get(f"{API}/issue/ABC-12", json=J.issue(server=True))
    issue = server.get_issue("ABC-12")
    assert issue.description == Body("wiki", "h1. Fire\nIt *burns*.")
    assert issue.url == f"{J.SERVER}/browse/ABC-12"
    (comment,) = issue.comments
    assert comment.body == Body("wiki", "A *comment*")
    assert comment.author.id == "JIRAUSER10100" and comment.author.name == "Mia Krystof"
    assert comment.public is True
    assert issue.attachments[0].author.id == "JIRAUSER10100"
    only_call(http)


def test_restricted_comment_is_not_public(http, server):
    restricted = {**J.comment(server=True), "visibility": {"type": "role", "value": "Developers"}}
    http.get(f"{API}/issue/ABC-12", json=J.issue(server=True, comments=[restricted]))
    assert server.get_issue("ABC-12").comments[0].public is False


def test_create_issue_sends_wiki_description(http, server):
    http.post(f"{API}/issue", status=201, json={"id": "10050", "key": "ABC-13", "self": "x"})
    ref = server.create_issue(
        "ABC",
        IssueFields(
            summary="New",
            description=Body("wiki", "*bold*"),
            issue_type="Task",
            properties={"twinsync.twin": "XYZ-1"},
        ),
    )
    assert ref.key == "ABC-13" and ref.url == f"{J.SERVER}/browse/ABC-13"
    assert sent_json(only_call(http)) == {
        "fields": {
            "project": {"key": "ABC"},
            "summary": "New",
            "description": "*bold*",
            "issuetype": {"name": "Task"},
        },
        "properties": [{"key": "twinsync.twin", "value": "XYZ-1"}],
    }


def test_create_with_unknown_issue_type_surfaces_jiras_message(http, server):
    http.post(
        f"{API}/issue",
        status=400,
        json={"errorMessages": [], "errors": {"issuetype": "issue type is required"}},
    )
    with pytest.raises(InvalidRequest, match="issuetype: issue type is required"):
        server.create_issue("ABC", IssueFields(summary="x", issue_type="Nope"))


def test_update_and_delete_issue(http, server):
    http.put(f"{API}/issue/ABC-12", status=204)
    http.delete(f"{API}/issue/ABC-12", status=204)
    server.update_issue("ABC-12", IssueFields(description=Body("wiki", "new")))
    server.delete_issue("ABC-12")
    assert sent_json(http.calls[0]) == {"fields": {"description": "new"}}
    assert [c.request.method for c in http.calls] == ["PUT", "DELETE"]


def test_comments_add_update_delete(http, server):
    http.post(f"{API}/issue/ABC-12/comment", status=201, json=J.comment("7", server=True))
    http.put(f"{API}/issue/ABC-12/comment/7", json=J.comment("7", body="edited", server=True))
    http.delete(f"{API}/issue/ABC-12/comment/7", status=204)
    added = server.add_comment("ABC-12", Body("wiki", "hello"))
    edited = server.update_comment("ABC-12", "7", Body("wiki", "edited"))
    server.delete_comment("ABC-12", "7")
    assert added.id == "7" and edited.body == Body("wiki", "edited")
    assert sent_json(http.calls[0]) == {"body": "hello"}
    assert sent_json(http.calls[1]) == {"body": "edited"}
    assert len(http.calls) == 3


@pytest.mark.parametrize(
    ("visibility", "sent"),
    [
        (None, {"type": "role", "value": "Administrators"}),
        (CommentVisibility("group", "support-staff"), {"type": "group", "value": "support-staff"}),
    ],
)
def test_an_internal_comment_is_restricted_by_visibility(http, server, visibility, sent):
    # Jira Server without Service Management ignores the JSM property: only visibility
    # keeps the comment from everyone outside the role or group (issue 14 item 2)
    restricted = {**J.comment("8", server=True), "visibility": sent}
    http.post(f"{API}/issue/ABC-12/comment", status=201, json=restricted)
    added = server.add_comment("ABC-12", Body("wiki", "psst"), public=False, visibility=visibility)
    assert sent_json(http.calls[0])["visibility"] == sent
    assert added.public is False


@pytest.mark.timeout(10)
def test_writing_a_body_of_another_format_converts_it(http, server):
    formats = pytest.importorskip("chalicelib.trackers.formats")
    if not hasattr(formats, "convert"):
        pytest.skip("chalicelib.trackers.formats.convert is not there yet")
    http.post(f"{API}/issue/ABC-12/comment", status=201, json=J.comment(server=True))
    server.add_comment("ABC-12", Body("adf", J.adf("Hello")))
    assert sent_json(only_call(http))["body"] == formats.convert("adf", J.adf("Hello"), "wiki")


def test_upload_attachment(http, server):
    http.post(f"{API}/issue/ABC-12/attachments", json=[J.attachment("77", server=True)])
    att = server.upload_attachment("ABC-12", "log.txt", b"hello", "text/plain")
    assert att.id == "77"
    request = only_call(http).request
    assert request.headers["X-Atlassian-Token"] == "no-check"
    assert b'filename="log.txt"' in request.body


def test_upload_over_the_limit_is_too_large(http, server):
    http.post(f"{API}/issue/ABC-12/attachments", status=413, body="")
    http.get(f"{API}/attachment/meta", json={"enabled": True, "uploadLimit": 10485760})
    with pytest.raises(TooLarge) as caught:
        server.upload_attachment("ABC-12", "big", b"x", "application/octet-stream")
    assert caught.value.limit == 10485760


def test_download_attachment_reads_metadata_then_content(http, server):
    http.get(f"{API}/attachment/77", json=J.attachment("77", server=True, filename="a b.txt"))
    http.get(f"{J.SERVER}/secure/attachment/77/a b.txt", body=b"bytes!")
    assert server.download_attachment("77") == b"bytes!"
    assert [c.request.headers["Authorization"] for c in http.calls] == [SERVER_BEARER] * 2


def test_download_rebases_a_content_url_of_another_host(http, server):
    meta = {
        **J.attachment("77", server=True),
        "content": "http://internal:8080/secure/x/77/log.txt",
    }
    http.get(f"{API}/attachment/77", json=meta)
    http.get(f"{J.SERVER}/secure/attachment/77/log.txt", body=b"ok")
    assert server.download_attachment("77") == b"ok"


def test_delete_attachment(http, server):
    http.delete(f"{API}/attachment/77", status=204)
    server.delete_attachment("77")
    only_call(http)


def _hit(key: str) -> dict:
    return {"id": "1", "key": key, "fields": {"updated": "2024-05-01T12:00:00.000+0000"}}


def test_search_pages_by_start_at(http, server):
    http.get(
        f"{API}/search",
        json={"startAt": 0, "maxResults": 2, "total": 3, "issues": [_hit("A-1"), _hit("A-2")]},
    )
    http.get(
        f"{API}/search",
        json={
            "startAt": 0,
            "maxResults": 4,
            "total": 3,
            "issues": [_hit(k) for k in ("A-1", "A-2", "A-3")],
        },
    )
    first = server.search("project = A", limit=2)
    second = server.search("project = A", cursor=first.next_cursor, limit=2)
    assert [r.key for r in first.issues] == ["A-1", "A-2"] and first.next_cursor == "2:A-2"
    assert first.total == 3
    assert [r.key for r in second.issues] == ["A-3"] and second.next_cursor is None
    assert query(http.calls[0]) == {
        "jql": ["project = A"],
        "startAt": ["0"],
        "maxResults": ["2"],
        "fields": ["updated"],
    }
    # the next page is read with an overlap, to find where the last one ended
    assert query(http.calls[1])["startAt"] == ["0"]
    assert query(http.calls[1])["maxResults"] == ["4"]


def test_an_issue_leaving_an_earlier_page_lets_none_slip(http, server):
    """A-1 was updated between pages and sorts last now: A-3 would be skipped by offset."""
    moved = ("A-2", "A-3", "A-4", "A-1")
    http.get(f"{API}/search", json={"startAt": 0, "total": 4, "issues": [_hit(k) for k in moved]})
    page = server.search("updated >= -5m ORDER BY updated", cursor="2:A-2", limit=2)
    assert [r.key for r in page.issues] == ["A-3", "A-4"] and page.next_cursor == "3:A-4"


def test_a_foreign_cursor_is_refused(server):
    with pytest.raises(TrackerError, match="cursor"):
        server.search("project = A", cursor="tok-from-cloud")


def test_check_jql(http, server):
    http.get(f"{API}/search", status=400, json={"errorMessages": ["Field 'x' does not exist"]})
    with pytest.raises(InvalidRequest, match="does not exist"):
        server.check_jql("x = 1")


def test_get_project_reads_its_issue_types(http, server):
    http.get(f"{API}/project/ABC", json=J.project(server=True))
    project = server.get_project("ABC")
    assert project.issue_types == ("Task", "Bug")
    assert project.default_issue_type is None  # real Jira Server does not say
    only_call(http)


def test_a_service_desk_project_without_task_falls_back_to_its_first_standard_type(http, server):
    from chalicelib.rules.basic import resolve_issue_type

    types = [
        J.issue_type("10003", "Sub-task", subtask=True),  # listed first: never a fallback
        J.issue_type("10100", "Service Request"),
        J.issue_type("10101", "Incident"),
    ]
    http.get(f"{API}/project/DESK", json=J.project("DESK", server=True, types=types))
    desk = server.get_project("DESK")
    assert resolve_issue_type("Bug", desk) == "Service Request"
    assert resolve_issue_type("Sub-task", desk) == "Service Request"
    assert resolve_issue_type("incident", desk) == "Incident"


def test_list_projects_fetches_types_only_when_the_list_lacks_them(http, server):
    bare = {k: v for k, v in J.project("XYZ", "2", server=True).items() if k != "issueTypes"}
    http.get(f"{API}/project", json=[J.project("ABC", server=True), bare])
    http.get(f"{API}/project/XYZ", json=J.project("XYZ", "2", server=True))
    projects = server.list_projects()
    assert [(p.key, p.issue_types) for p in projects] == [
        ("ABC", ("Task", "Bug")),
        ("XYZ", ("Task", "Bug")),
    ]
    assert query(http.calls[0])["expand"] == ["issueTypes"]


def test_issue_properties(http, server):
    http.put(f"{API}/issue/ABC-12/properties/twin", status=200)
    http.get(f"{API}/issue/ABC-12/properties/twin", json={"key": "twin", "value": "XYZ-1"})
    server.set_issue_property("ABC-12", "twin", "XYZ-1")
    assert server.get_issue_property("ABC-12", "twin") == "XYZ-1"
    assert sent_json(http.calls[0]) == "XYZ-1"


def test_find_issues_with_property(http, server):
    http.get(f"{API}/search", json={"startAt": 0, "total": 2, "issues": [_hit("A-2"), _hit("A-1")]})
    http.get(f"{API}/issue/A-2/properties/twin", json={"key": "twin", "value": "X"})
    http.get(f"{API}/issue/A-1/properties/twin", status=404, json={"errorMessages": ["no"]})
    assert server.find_issues_with_property("A", "twin", "X") == ["A-2"]
    assert "reporter = currentUser()" in query(http.calls[0])["jql"][0]


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, PermissionDenied), (403, PermissionDenied), (429, RateLimited), (502, Unavailable)],
)
def test_failures_are_typed_and_not_retried(http, server, status, error):
    http.get(f"{API}/issue/ABC-12", status=status, headers={"Retry-After": "5"})
    with pytest.raises(error):
        server.get_issue("ABC-12")
    only_call(http)


def test_missing_issue(http, server):
    http.get(f"{API}/issue/ABC-1", status=404, json={"errorMessages": ["Issue Does Not Exist"]})
    with pytest.raises(NotFound, match="Issue Does Not Exist"):
        server.get_issue("ABC-1")
