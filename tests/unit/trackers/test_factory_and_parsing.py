"""The factory, and the shared JSON parsers on odd but real shapes."""

from __future__ import annotations

import json

import pytest
import urllib3

from chalicelib.config import TrackerSettings
from chalicelib.trackers.base import Body, User
from chalicelib.trackers.factory import make_tracker
from chalicelib.trackers.http import BasicAuth, BearerAuth
from chalicelib.trackers.jira_cloud import JiraCloud
from chalicelib.trackers.jira_common import (
    jql_quote,
    parse_attachment,
    parse_comment,
    parse_issue,
    parse_user,
)
from chalicelib.trackers.jira_server import JiraServer
from tests.shared_data import jira_data
from tests.unit.trackers import jira_json as J


def test_factory_builds_cloud_with_basic_auth():
    tracker = make_tracker(TrackerSettings("jira_cloud", J.CLOUD, "bot@a.test", "tok"))
    assert isinstance(tracker, JiraCloud)
    assert isinstance(tracker.http.auth, BasicAuth)
    assert tracker.base_url == J.CLOUD


def test_factory_builds_server_with_bearer_or_basic():
    bearer = make_tracker(TrackerSettings("jira_server", J.SERVER, None, "pat"))
    basic = make_tracker(TrackerSettings("jira_server", J.SERVER + "/", "bot", "pw"))
    assert isinstance(bearer, JiraServer) and isinstance(bearer.http.auth, BearerAuth)
    assert isinstance(basic.http.auth, BasicAuth)
    assert basic.base_url == J.SERVER


def test_factory_accepts_a_transport():
    pool = urllib3.PoolManager()
    tracker = make_tracker(TrackerSettings("jira_server", J.SERVER, None, "t"), pool=pool)
    assert tracker.http.pool is pool


def test_factory_refuses_unknown_kinds_and_cloud_without_user():
    with pytest.raises(ValueError, match="unknown tracker kind"):
        make_tracker(TrackerSettings("github", J.SERVER, None, "t"))
    with pytest.raises(ValueError, match="e-mail"):
        make_tracker(TrackerSettings("jira_cloud", J.CLOUD, None, "t"))


def test_user_ids_prefer_account_id_then_key_then_name():
    assert parse_user({"accountId": "a", "key": "k", "name": "n", "displayName": "D"}) == User(
        "a", "D"
    )
    # Server: the key is the id, the username kept beside it
    assert parse_user({"key": "k", "name": "n"}) == User("k", "n", username="n")
    assert parse_user({"name": "n"}) == User("n", "n", username="n")
    shown = {"key": "JIRAUSER1", "name": "jo", "displayName": "Jo", "emailAddress": "jo@x.test"}
    assert parse_user(shown) == User("JIRAUSER1", "Jo", "jo@x.test", "jo")
    assert parse_user({"displayName": "Former user"}) is None
    assert parse_user(None) is None


def test_comment_of_a_deleted_user_still_parses():
    data = {**J.comment(), "author": None}
    assert parse_comment(data, "adf").author == User("", "Anonymous")


def test_empty_comment_body_is_an_empty_body_of_the_format():
    assert parse_comment({**J.comment(), "body": None}, "adf").body.value["content"] == []
    assert parse_comment({**J.comment(server=True), "body": ""}, "wiki").body == Body("wiki", "")


def test_attachment_ids_are_strings_even_when_jira_sends_numbers():
    assert parse_attachment({**J.attachment(), "id": 10010}).id == "10010"


def test_real_cloud_issue_response_parses():
    data = json.loads(jira_data("jira-rest-responses", "jira-cli-issue.json").read_text())
    issue = parse_issue(data, base_url=J.CLOUD, body_format="adf")
    assert issue.key == "TEST-1" and issue.project == "TEST"  # no project field: from the key
    assert issue.issue_type == "Bug" and issue.status == "To Do" and issue.priority == "Medium"
    assert issue.description.format == "adf"
    assert "issuelinks" in issue.fields and "resolution" not in issue.fields


def test_jql_quote_escapes():
    assert jql_quote("ABC") == '"ABC"'
    assert jql_quote('a"b\\c') == '"a\\"b\\\\c"'


def test_the_changelog_says_when_each_field_last_changed_whatever_its_order():
    histories = [
        {"created": "2026-12-02T10:00:00.000+0100", "items": [{"field": "summary"}]},
        {
            "created": "2026-12-02T09:30:00.000+0000",
            "items": [{"field": "summary"}, {"field": "description"}],
        },
        {"created": "2026-12-02T11:00:00.000+0000", "items": [{"field": "issuetype"}]},
    ]
    for ordered in (histories, histories[::-1]):  # Server oldest first, Cloud newest first
        data = {**J.issue(), "changelog": {"histories": ordered}}
        issue = parse_issue(data, base_url=J.CLOUD, body_format="adf")
        assert issue.changed_at == {
            "summary": "2026-12-02T09:30:00.000Z",  # 10:00+01:00 is the earlier one
            "description": "2026-12-02T09:30:00.000Z",
            "issuetype": "2026-12-02T11:00:00.000Z",
        }
    assert parse_issue(J.issue(), base_url=J.CLOUD, body_format="adf").changed_at == {}


def test_the_changelog_lists_who_changed_which_field_to_what_oldest_first():
    """Issue 19: the history apply's unseen writes are recovered from, both flavours."""
    bob_cloud = {"accountId": "acc-bob", "displayName": "Bob"}
    bob_server = {"name": "bob", "key": "JIRAUSER10100", "displayName": "Bob"}
    for bob, items_of in (
        (bob_cloud, lambda i: i),
        (bob_server, lambda i: {k: v for k, v in i.items() if k != "fieldId"}),
    ):
        histories = [
            {
                "id": "10011",
                "author": bob,
                "created": "2026-12-02T10:00:00.000+0100",
                "items": [
                    items_of(
                        {
                            "field": "summary",
                            "fieldtype": "jira",
                            "fieldId": "summary",
                            "from": None,
                            "fromString": "Old",
                            "to": None,
                            "toString": "Bob's",
                        }
                    )
                ],
            },
            {
                "id": "10012",
                "author": {"accountId": "bot", "name": "bot", "key": "bot"},
                "created": "2026-12-02T09:00:01.000+0000",
                "items": [
                    items_of({"field": "summary", "fieldId": "summary", "toString": "Ours"}),
                    items_of({"field": "issuetype", "to": "10001", "toString": "Bug"}),
                ],
            },
        ]
        for ordered in (histories, histories[::-1]):  # Server oldest first, Cloud newest first
            data = {**J.issue(), "changelog": {"histories": ordered}}
            history = parse_issue(data, base_url=J.CLOUD, body_format="adf").history
            assert [(c.field, c.at, c.author_id, c.to, c.to_string) for c in history] == [
                (
                    "summary",
                    "2026-12-02T09:00:00.000Z",
                    bob.get("accountId") or bob["key"],
                    None,
                    "Bob's",
                ),
                ("summary", "2026-12-02T09:00:01.000Z", "bot", None, "Ours"),
                ("issuetype", "2026-12-02T09:00:01.000Z", "bot", "10001", "Bug"),
            ]
    assert parse_issue(J.issue(), base_url=J.CLOUD, body_format="adf").history == ()
