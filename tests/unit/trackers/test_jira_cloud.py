"""Jira Cloud adapter against a fake REST v3 at the transport: every protocol operation."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.trackers.base import (
    Body,
    InvalidRequest,
    IssueFields,
    NotFound,
    PermissionDenied,
    TooLarge,
    Tracker,
)
from chalicelib.trackers.jira_cloud import JiraCloud
from tests.factories import fake_http as matchers
from tests.factories.fake_http import Call, FakeHttp
from tests.shared_data import jira_data
from tests.unit.trackers import jira_json as J
from tests.unit.trackers.conftest import CLOUD_AUTH, sent_json

API = f"{J.CLOUD}/rest/api/3"


def query(call: Call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def only_call(http: FakeHttp) -> Call:
    assert len(http.calls) == 1
    call = http.calls[0]
    assert call.request.headers["Authorization"] == CLOUD_AUTH
    return call


def test_is_a_tracker(cloud):
    assert isinstance(cloud, Tracker)
    assert (cloud.kind, cloud.body_format, cloud.attachment_limit) == ("jira_cloud", "adf", None)


def test_myself_is_the_account_id(http, cloud):
    http.get(f"{API}/myself", json=J.cloud_user("acc-1", "Sync Bot"))
    user = cloud.myself()
    assert (user.id, user.name) == ("acc-1", "Sync Bot")
    assert only_call(http).request.method == "GET"


# --- issues ------------------------------------------------------------------------------


def test_get_issue_reads_every_field_of_the_protocol(http, cloud):
    http.get(f"{API}/issue/ABC-12", json=J.issue())
    issue = cloud.get_issue("ABC-12")
    assert (issue.id, issue.key, issue.project) == ("10040", "ABC-12", "ABC")
    assert issue.url == f"{J.CLOUD}/browse/ABC-12"
    assert issue.summary == "Printer on fire"
    assert issue.description == Body("adf", J.adf("It burns."))
    assert (issue.issue_type, issue.priority, issue.status) == ("Bug", "High", "To Do")
    assert issue.labels == ("hardware",)
    assert issue.created.startswith("2024-05-01T09") and issue.updated.startswith("2024-05-01T12")
    (comment,) = issue.comments
    assert comment.id == "10001" and comment.body == Body("adf", J.adf("A comment"))
    assert comment.author.id == "5b10a2844c20165700ede21g" and comment.public is True
    (att,) = issue.attachments
    assert (att.id, att.filename, att.size, att.mime_type) == ("10010", "log.txt", 12, "text/plain")
    assert issue.fields == {"customfield_10072": 3.5}  # nulls and standard fields left out
    only_call(http)


def test_get_issue_pages_through_comments_when_the_issue_embeds_only_some(http, cloud):
    first = [J.comment(str(i)) for i in range(2)]
    http.get(f"{API}/issue/ABC-12", json=J.issue(comments=first, comment_total=3))
    http.get(
        f"{API}/issue/ABC-12/comment",
        match=[matchers.query_param_matcher({"startAt": "0", "maxResults": "100"})],
        json={"comments": first, "startAt": 0, "maxResults": 2, "total": 3},
    )
    http.get(
        f"{API}/issue/ABC-12/comment",
        match=[matchers.query_param_matcher({"startAt": "2", "maxResults": "100"})],
        json={"comments": [J.comment("2")], "startAt": 2, "maxResults": 2, "total": 3},
    )
    issue = cloud.get_issue("ABC-12")
    assert [c.id for c in issue.comments] == ["0", "1", "2"]


def test_get_issue_without_description_has_none(http, cloud):
    http.get(f"{API}/issue/ABC-12", json=J.issue(description=None, comments=[]))
    issue = cloud.get_issue("ABC-12")
    assert issue.description is None and issue.comments == ()


def test_get_missing_issue_is_not_found(http, cloud):
    http.get(
        f"{API}/issue/ABC-99",
        status=404,
        json={"errorMessages": ["Issue does not exist or you do not have permission to see it."]},
    )
    with pytest.raises(NotFound, match="does not exist"):
        cloud.get_issue("ABC-99")


def test_create_issue_sends_fields_and_properties_in_one_request(http, cloud):
    http.post(f"{API}/issue", status=201, json={"id": "10050", "key": "ABC-13", "self": "x"})
    ref = cloud.create_issue(
        "ABC",
        IssueFields(
            summary="New",
            description=Body("adf", J.adf("Hi")),
            issue_type="Bug",
            labels=("a", "b"),
            priority="High",
            custom={"customfield_10072": 2},
            properties={"twinsync.twin": {"connection": "c1", "remote": "XYZ-1"}},
        ),
    )
    assert (ref.id, ref.key, ref.url) == ("10050", "ABC-13", f"{J.CLOUD}/browse/ABC-13")
    call = only_call(http)
    assert call.request.method == "POST"
    assert call.request.headers["Content-Type"] == "application/json"
    assert sent_json(call) == {
        "fields": {
            "project": {"key": "ABC"},
            "summary": "New",
            "description": J.adf("Hi"),
            "issuetype": {"name": "Bug"},
            "labels": ["a", "b"],
            "priority": {"name": "High"},
            "customfield_10072": 2,
        },
        "properties": [{"key": "twinsync.twin", "value": {"connection": "c1", "remote": "XYZ-1"}}],
    }


def test_create_issue_in_unknown_project_surfaces_jiras_message(http, cloud):
    http.post(
        f"{API}/issue",
        status=400,
        json={"errorMessages": [], "errors": {"project": "valid project is required"}},
    )
    with pytest.raises(InvalidRequest) as caught:
        cloud.create_issue("NOPE", IssueFields(summary="x", issue_type="Task"))
    assert caught.value.field_errors == {"project": "valid project is required"}


def test_update_issue_puts_only_what_changes(http, cloud):
    http.put(f"{API}/issue/ABC-12", status=204)
    cloud.update_issue("ABC-12", IssueFields(summary="Renamed", labels=()))
    call = only_call(http)
    assert call.request.method == "PUT"
    assert sent_json(call) == {"fields": {"summary": "Renamed", "labels": []}}


def test_update_issue_sets_properties_one_by_one(http, cloud):
    http.put(f"{API}/issue/ABC-12", status=204)
    http.put(f"{API}/issue/ABC-12/properties/twinsync.twin", status=200, json={})
    cloud.update_issue("ABC-12", IssueFields(priority="Low", properties={"twinsync.twin": 1}))
    assert sent_json(http.calls[1]) == 1


def test_update_issue_with_nothing_to_change_sends_nothing(http, cloud):
    cloud.update_issue("ABC-12", IssueFields())
    assert len(http.calls) == 0


def test_update_issue_can_clear_the_description(http, cloud):
    http.put(f"{API}/issue/ABC-12", status=204)
    cloud.update_issue("ABC-12", IssueFields(description=Body("adf", None)))
    assert sent_json(only_call(http)) == {"fields": {"description": None}}


def test_delete_issue(http, cloud):
    http.delete(f"{API}/issue/ABC-12", status=204)
    cloud.delete_issue("ABC-12")
    assert only_call(http).request.method == "DELETE"


def test_issue_keys_are_escaped_in_paths(http, cloud):
    http.get(f"{API}/issue/A%2FB", json=J.issue("AB-1"))
    cloud.get_issue("A/B")
    only_call(http)


# --- comments ----------------------------------------------------------------------------


def test_add_comment_posts_an_adf_body(http, cloud):
    http.post(f"{API}/issue/ABC-12/comment", status=201, json=J.comment("10100", body=J.adf("Yo")))
    comment = cloud.add_comment("ABC-12", Body("adf", J.adf("Yo")))
    assert comment.id == "10100" and comment.body.value == J.adf("Yo")
    assert sent_json(only_call(http)) == {"body": J.adf("Yo")}


def test_add_internal_comment_marks_it_with_the_jsm_property(http, cloud):
    http.post(f"{API}/issue/ABC-12/comment", status=201, json={**J.comment(), "jsdPublic": False})
    comment = cloud.add_comment("ABC-12", Body("adf", J.adf("psst")), public=False)
    assert comment.public is False
    sent = sent_json(only_call(http))
    assert sent["properties"] == [{"key": "sd.public.comment", "value": {"internal": True}}]
    # outside Service Management only the visibility restricts it
    assert sent["visibility"] == {"type": "role", "value": "Administrators"}


@pytest.mark.parametrize(
    "visibility",
    [{"type": "role", "value": "Administrators"}, {"type": "group", "value": "jira-admins"}],
)
def test_a_restricted_comment_is_not_public_though_cloud_says_jsd_public(http, cloud, visibility):
    # Cloud puts jsdPublic=true on every comment made in the platform, restricted or not
    # (the captured webhook comment has it): the visibility decides (issue 14)
    captured = json.loads(jira_data("webhooks", "cloud", "cloud-comment-created.json").read_text())
    restricted = {**captured["comment"], "body": J.adf("admins only"), "visibility": visibility}
    assert restricted["jsdPublic"] is True
    http.get(f"{API}/issue/ABC-12", json=J.issue(comments=[restricted, J.comment("10002")]))
    restricted_read, plain = cloud.get_issue("ABC-12").comments
    assert restricted_read.public is False
    assert plain.public is True


def test_a_jsm_internal_comment_without_visibility_is_not_public(http, cloud):
    internal = {**J.comment(), "jsdPublic": False}
    http.get(f"{API}/issue/ABC-12", json=J.issue(comments=[internal]))
    assert cloud.get_issue("ABC-12").comments[0].public is False


def test_update_comment_puts_the_body(http, cloud):
    http.put(f"{API}/issue/ABC-12/comment/10001", json=J.comment(body=J.adf("Edited")))
    comment = cloud.update_comment("ABC-12", "10001", Body("adf", J.adf("Edited")))
    assert comment.body.value == J.adf("Edited")
    assert sent_json(only_call(http)) == {"body": J.adf("Edited")}


def test_delete_comment(http, cloud):
    http.delete(f"{API}/issue/ABC-12/comment/10001", status=204)
    cloud.delete_comment("ABC-12", "10001")
    only_call(http)


def test_delete_missing_comment_is_not_found(http, cloud):
    http.delete(f"{API}/issue/ABC-12/comment/1", status=404, json={"errorMessages": ["gone"]})
    with pytest.raises(NotFound):
        cloud.delete_comment("ABC-12", "1")


@pytest.mark.timeout(10)
def test_writing_a_body_of_another_format_converts_it(http, cloud):
    formats = pytest.importorskip("chalicelib.trackers.formats")
    if not hasattr(formats, "convert"):
        pytest.skip("chalicelib.trackers.formats.convert is not there yet")
    http.post(f"{API}/issue/ABC-12/comment", status=201, json=J.comment())
    cloud.add_comment("ABC-12", Body("wiki", "Hello *world*"))
    sent = sent_json(only_call(http))["body"]
    assert sent == formats.convert("wiki", "Hello *world*", "adf")
    assert sent["type"] == "doc"


# --- attachments -------------------------------------------------------------------------


def test_upload_attachment_is_multipart_with_the_xsrf_header(http, cloud):
    http.post(f"{API}/issue/ABC-12/attachments", json=[J.attachment("10200", filename="a.png")])
    att = cloud.upload_attachment("ABC-12", "a.png", b"\x89PNG-bytes", "image/png")
    assert (att.id, att.filename) == ("10200", "a.png")
    request = only_call(http).request
    assert request.headers["X-Atlassian-Token"] == "no-check"
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert b'name="file"; filename="a.png"' in request.body
    assert b"Content-Type: image/png" in request.body
    assert b"\x89PNG-bytes" in request.body


def test_upload_over_jiras_limit_is_too_large_with_the_limit_jira_states(http, cloud):
    http.post(f"{API}/issue/ABC-12/attachments", status=413, json={"errorMessages": ["too big"]})
    http.get(f"{API}/attachment/meta", json={"enabled": True, "uploadLimit": 50})
    with pytest.raises(TooLarge) as caught:
        cloud.upload_attachment("ABC-12", "big.bin", b"x" * 100, "application/octet-stream")
    assert caught.value.limit == 50 and caught.value.status == 413
    assert [c.request.method for c in http.calls] == ["POST", "GET"]  # no second upload


def test_too_large_without_a_stated_limit(http, cloud):
    http.post(f"{API}/issue/ABC-12/attachments", status=413, json={"errorMessages": ["too big"]})
    http.get(f"{API}/attachment/meta", status=403, json={"errorMessages": ["no"]})
    with pytest.raises(TooLarge) as caught:
        cloud.upload_attachment("ABC-12", "big.bin", b"x" * 100, "application/octet-stream")
    assert caught.value.limit is None and "too big" in caught.value.message


def test_upload_over_a_known_limit_is_refused_before_sending(http):
    jira = JiraCloud(J.CLOUD, "a", "b", pool=http.pool(), attachment_limit=10)
    with pytest.raises(TooLarge) as caught:
        jira.upload_attachment("ABC-12", "big.bin", b"x" * 11, "application/octet-stream")
    assert caught.value.limit == 10
    assert len(http.calls) == 0


def test_download_attachment_follows_jiras_redirect_to_the_media_store(http, cloud):
    media = "https://api.media.atlassian.com/file/abc/binary?token=signed"
    http.get(f"{API}/attachment/content/10010", status=303, headers={"Location": media})
    http.get(media, body=b"file-bytes")
    assert cloud.download_attachment("10010") == b"file-bytes"
    assert http.calls[0].request.headers["Authorization"] == CLOUD_AUTH
    assert http.calls[0].request.headers["Accept"] == "*/*"
    assert "Authorization" not in http.calls[1].request.headers  # never leaves our site


def test_delete_attachment(http, cloud):
    http.delete(f"{API}/attachment/10010", status=204)
    cloud.delete_attachment("10010")
    only_call(http)


# --- search ------------------------------------------------------------------------------


def _hit(key: str, updated: str = "2024-05-01T12:00:00.000+0000") -> dict:
    return {"id": key.split("-")[1], "key": key, "fields": {"updated": updated}}


def test_search_uses_the_enhanced_endpoint_and_hands_back_the_token(http, cloud):
    http.get(
        f"{API}/search/jql",
        json={"issues": [_hit("ABC-1"), _hit("ABC-2")], "nextPageToken": "tok-2", "isLast": False},
    )
    page = cloud.search("project = ABC", limit=2)
    assert [r.key for r in page.issues] == ["ABC-1", "ABC-2"]
    assert page.next_cursor == "tok-2" and page.total is None
    assert page.updated["ABC-1"].startswith("2024-05-01")
    q = query(only_call(http))
    assert q == {"jql": ["project = ABC"], "maxResults": ["2"], "fields": ["updated"]}


def test_search_next_page_sends_the_token_and_ends_without_one(http, cloud):
    http.get(f"{API}/search/jql", json={"issues": [_hit("ABC-3")], "isLast": True})
    page = cloud.search("project = ABC", cursor="tok-2")
    assert page.next_cursor is None
    assert query(only_call(http))["nextPageToken"] == ["tok-2"]


def test_bad_jql_is_invalid_request_with_jiras_message(http, cloud):
    message = "Error in the JQL Query: Expecting operator but got 'nonsense'."
    http.get(f"{API}/search/jql", status=400, json={"errorMessages": [message], "errors": {}})
    with pytest.raises(InvalidRequest) as caught:
        cloud.check_jql("project nonsense")
    assert caught.value.error_messages == (message,)


def test_check_jql_of_a_valid_query_passes(http, cloud):
    http.get(f"{API}/search/jql", json={"issues": [], "isLast": True})
    cloud.check_jql("project = ABC")
    assert query(only_call(http))["maxResults"] == ["1"]


# --- projects ----------------------------------------------------------------------------


def _scheme_page(default_id: str | None, *project_ids: str) -> dict:
    scheme = {"id": "10000", "name": "Default Issue Type Scheme", "isDefault": True}
    if default_id:
        scheme["defaultIssueTypeId"] = default_id
    return {
        "isLast": True,
        "maxResults": 50,
        "startAt": 0,
        "total": 1,
        "values": [{"issueTypeScheme": scheme, "projectIds": list(project_ids)}],
    }


def test_get_project_reads_creatable_types_and_the_schemes_default(http, cloud):
    http.get(f"{API}/project/ABC", json=J.project())
    http.get(
        f"{API}/issue/createmeta/ABC/issuetypes",
        json={
            "issueTypes": [
                J.issue_type("10001", "Task"),
                J.issue_type("10004", "Bug"),
                J.issue_type("10003", "Sub-task", subtask=True),
            ],
            "maxResults": 50,
            "startAt": 0,
            "total": 3,
        },
    )
    http.get(
        f"{API}/issuetypescheme/project",
        match=[matchers.query_param_matcher({"projectId": "10000"}, strict_match=False)],
        json=_scheme_page("10004", "10000"),
    )
    project = cloud.get_project("ABC")
    assert project.key == "ABC" and project.name == "Project ABC"
    assert project.issue_types == ("Task", "Bug")
    assert project.default_issue_type == "Bug"


def test_default_issue_type_is_none_for_a_non_admin(http, cloud):
    http.get(f"{API}/project/ABC", json=J.project())
    http.get(
        f"{API}/issue/createmeta/ABC/issuetypes",
        json={"issueTypes": [J.issue_type("10001", "Task")], "total": 1},
    )
    http.get(f"{API}/issuetypescheme/project", status=403, json={"errorMessages": ["admin only"]})
    project = cloud.get_project("ABC")
    assert project.issue_types == ("Task",) and project.default_issue_type is None


def test_get_unknown_project_is_not_found(http, cloud):
    http.get(
        f"{API}/project/NOPE", status=404, json={"errorMessages": ["No project could be found"]}
    )
    with pytest.raises(NotFound):
        cloud.get_project("NOPE")


def test_list_projects_pages_and_asks_for_defaults_in_one_call(http, cloud):
    http.get(
        f"{API}/project/search",
        match=[matchers.query_param_matcher({"startAt": "0"}, strict_match=False)],
        json={"isLast": False, "startAt": 0, "maxResults": 1, "values": [J.project("ABC", "1")]},
    )
    http.get(
        f"{API}/project/search",
        match=[matchers.query_param_matcher({"startAt": "1"}, strict_match=False)],
        json={"isLast": True, "startAt": 1, "maxResults": 1, "values": [J.project("XYZ", "2")]},
    )
    http.get(f"{API}/issuetypescheme/project", json=_scheme_page("10001", "1"))
    projects = cloud.list_projects()
    assert [(p.key, p.issue_types, p.default_issue_type) for p in projects] == [
        ("ABC", ("Task", "Bug"), "Task"),
        ("XYZ", ("Task", "Bug"), None),
    ]
    assert query(http.calls[0])["expand"] == ["issueTypes"]
    assert query(http.calls[2])["projectId"] == ["1", "2"]


# --- issue properties --------------------------------------------------------------------


def test_set_issue_property_puts_the_raw_json_value(http, cloud):
    http.put(f"{API}/issue/ABC-12/properties/twinsync.twin", status=201)
    cloud.set_issue_property("ABC-12", "twinsync.twin", {"remote": "XYZ-1"})
    call = only_call(http)
    assert call.request.method == "PUT"
    assert sent_json(call) == {"remote": "XYZ-1"}


def test_get_issue_property_returns_its_value(http, cloud):
    http.get(
        f"{API}/issue/ABC-12/properties/twinsync.twin",
        json={"key": "twinsync.twin", "value": {"remote": "XYZ-1"}},
    )
    assert cloud.get_issue_property("ABC-12", "twinsync.twin") == {"remote": "XYZ-1"}


def test_get_unset_property_is_none(http, cloud):
    http.get(f"{API}/issue/ABC-12/properties/p", status=404, json={"errorMessages": ["no prop"]})
    http.get(f"{API}/issue/ABC-12", json={"id": "1", "key": "ABC-12", "fields": {}})
    assert cloud.get_issue_property("ABC-12", "p") is None


def test_get_property_of_missing_issue_is_not_found(http, cloud):
    http.get(f"{API}/issue/ABC-99/properties/p", status=404, json={"errorMessages": ["no"]})
    http.get(f"{API}/issue/ABC-99", status=404, json={"errorMessages": ["Issue does not exist"]})
    with pytest.raises(NotFound):
        cloud.get_issue_property("ABC-99", "p")


def test_find_issues_with_property_reads_recent_own_issues(http, cloud):
    http.get(
        f"{API}/search/jql",
        json={"issues": [_hit("ABC-3"), _hit("ABC-2"), _hit("ABC-1")], "isLast": True},
    )
    http.get(f"{API}/issue/ABC-3/properties/twin", status=404, json={"errorMessages": ["no"]})
    http.get(f"{API}/issue/ABC-2/properties/twin", json={"key": "twin", "value": {"r": "X-1"}})
    http.get(f"{API}/issue/ABC-1/properties/twin", json={"key": "twin", "value": {"r": "X-9"}})
    assert cloud.find_issues_with_property("ABC", "twin", {"r": "X-1"}, created_within_hours=6) == [
        "ABC-2"
    ]
    jql = query(http.calls[0])["jql"][0]
    assert jql == (
        'project = "ABC" AND reporter = currentUser() AND created >= -6h ORDER BY created DESC'
    )


def test_find_issues_with_property_is_bounded(http, cloud):
    cloud.max_property_candidates = 2
    http.get(
        f"{API}/search/jql",
        json={"issues": [_hit("ABC-3"), _hit("ABC-2")], "nextPageToken": "more", "isLast": False},
    )
    http.get(f"{API}/issue/ABC-3/properties/twin", json={"key": "twin", "value": 1})
    http.get(f"{API}/issue/ABC-2/properties/twin", json={"key": "twin", "value": 2})
    assert cloud.find_issues_with_property("ABC", "twin", 2) == ["ABC-2"]
    assert len(http.calls) == 3
    assert query(http.calls[0])["maxResults"] == ["2"]


# --- failures are typed ------------------------------------------------------------------


def test_wrong_credentials_are_permission_denied(http, cloud):
    http.get(f"{API}/issue/ABC-12", status=401, body="")
    with pytest.raises(PermissionDenied):
        cloud.get_issue("ABC-12")
    only_call(http)


def test_request_bodies_are_json_not_form(http, cloud):
    http.post(f"{API}/issue/ABC-12/comment", status=201, json=J.comment())
    cloud.add_comment("ABC-12", Body("adf", J.adf("x")))
    body = only_call(http).request.body
    json.loads(body)
