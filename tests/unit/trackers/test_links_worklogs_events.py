"""Issue 18: worklogs read with the issue (all of them when Jira includes only some), and
the link and worklog webhooks as hints naming their issue(s)."""

from __future__ import annotations

import json

from chalicelib.trackers.base import Body
from chalicelib.trackers.jira_common import parse_issue
from chalicelib.trackers.webhook import parse_webhook, parse_webhook_events
from tests.factories import fake_http as matchers
from tests.unit.trackers import jira_json as J

API = f"{J.CLOUD}/rest/api/3"


def worklog(wid: str, seconds: int = 60, author: dict | None = None) -> dict:
    return {
        "id": wid,
        "issueId": "10002",
        "author": author or J.cloud_user("acc-kim", "Kim"),
        "updateAuthor": author or J.cloud_user("acc-kim", "Kim"),
        "started": "2026-12-01T09:30:00.000+0000",
        "timeSpentSeconds": seconds,
        "comment": J.adf("fixed"),
        "created": "c",
        "updated": "u",
    }


def test_the_worklogs_the_issue_includes_are_parsed():
    data = J.issue(worklog={"startAt": 0, "maxResults": 20, "total": 1, "worklogs": [worklog("7")]})
    (log,) = parse_issue(data, base_url=J.CLOUD, body_format="adf").worklogs
    assert (log.id, log.seconds, log.author.id, log.author.name) == ("7", 60, "acc-kim", "Kim")
    assert log.comment == Body("adf", J.adf("fixed"))
    assert parse_issue(J.issue(), base_url=J.CLOUD, body_format="adf").worklogs == ()


def test_get_issue_lists_every_worklog_when_the_issue_includes_only_some(http, cloud):
    first = [worklog(str(i)) for i in range(20)]
    data = J.issue(worklog={"startAt": 0, "maxResults": 20, "total": 21, "worklogs": first})
    http.get(f"{API}/issue/ABC-12", json=data)
    http.get(
        f"{API}/issue/ABC-12/worklog",
        match=[matchers.query_param_matcher({"startAt": "0", "maxResults": "1000"})],
        json={"startAt": 0, "maxResults": 1000, "total": 21, "worklogs": [*first, worklog("20")]},
    )
    issue = cloud.get_issue("ABC-12")
    assert [w.id for w in issue.worklogs] == [str(i) for i in range(21)]


def body(event: str, **parts: object) -> bytes:
    return json.dumps({"webhookEvent": event, "timestamp": 5, **parts}).encode()


def test_worklog_events_name_their_issue_and_author():
    created = parse_webhook({}, body("worklog_created", worklog=worklog("7")))
    assert (created.kind, created.issue_id, created.issue_key) == ("worklog_created", "10002", None)
    assert created.author_id == "acc-kim"  # our own copies are skipped as our own change
    updated = parse_webhook(
        {}, body("worklog_updated", worklog={**worklog("7"), "updateAuthor": {"key": "bot"}})
    )
    assert (updated.kind, updated.author_id) == ("worklog_updated", "bot")
    deleted = parse_webhook({}, body("worklog_deleted", worklog=worklog("7")))
    assert (deleted.kind, deleted.issue_id, deleted.author_id) == ("worklog_deleted", "10002", None)
    assert parse_webhook({}, body("worklog_created", worklog="odd")).issue_id is None


LINK = {
    "id": 10400,
    "sourceIssueId": 10002,
    "destinationIssueId": 10003,
    "issueLinkType": {"id": 10000, "name": "Blocks"},
}


def test_a_link_event_names_both_issues():
    for event in ("issuelink_created", "issuelink_deleted"):
        events = parse_webhook_events({}, body(event, issueLink=LINK))
        assert [(e.kind, e.issue_id, e.issue_key) for e in events] == [
            (event, "10002", None),
            (event, "10003", None),
        ]
        assert all(e.author_id is None for e in events)
    (one,) = parse_webhook_events({}, body("issuelink_created", issueLink={"sourceIssueId": 4}))
    assert one.issue_id == "4"
    (other,) = parse_webhook_events({}, body("comment_created", issue={"id": "1", "key": "A-1"}))
    assert other.issue_key == "A-1"
