"""Issue 18's parsers (no I/O): links seen from each end, the parent per flavour,
components/versions by name, worklogs, and worklog ``started`` in Jira's format."""

from __future__ import annotations

import pytest

from chalicelib.trackers.base import Body, IssueLink, TrackerError, User
from chalicelib.trackers.jira_common import parse_issue
from chalicelib.trackers.jira_relations import parse_links
from chalicelib.trackers.jira_worklogs import jira_started, parse_worklog
from tests.unit.trackers import jira_json

BLOCKS = {"id": "10000", "name": "Blocks", "inward": "is blocked by", "outward": "blocks"}


def test_links_name_the_other_end_and_the_direction() -> None:
    raw = [
        {"id": "1", "type": BLOCKS, "outwardIssue": {"id": "2", "key": "ABC-2"}},
        {"id": "3", "type": BLOCKS, "inwardIssue": {"id": "4", "key": "ABC-4"}},
        {"id": "5", "type": BLOCKS},  # neither end: not a link one can use
    ]
    assert parse_links(raw) == (
        IssueLink("1", "Blocks", "outward", "ABC-2"),
        IssueLink("3", "Blocks", "inward", "ABC-4"),
    )


def test_cloud_parent_and_catalog_fields() -> None:
    data = jira_json.issue(
        parent={"id": "1", "key": "ABC-1", "fields": {"summary": "Epic"}},
        components=[{"id": "1", "name": "Backend"}],
        fixVersions=[{"id": "2", "name": "2.0"}],
        versions=[],
        duedate="2026-12-24",
        environment=jira_json.adf("Linux"),
        assignee=jira_json.cloud_user("acc-1", "Alice"),
    )
    issue = parse_issue(data, base_url="https://x.atlassian.net", body_format="adf")
    assert issue.parent == "ABC-1"
    assert (issue.components, issue.fix_versions, issue.versions) == (("Backend",), ("2.0",), ())
    assert (issue.due_date, issue.environment) == (
        "2026-12-24",
        Body("adf", jira_json.adf("Linux")),
    )
    assert issue.assignee == User("acc-1", "Alice")


def test_server_epic_link_is_the_parent_by_its_name() -> None:
    data = jira_json.issue(server=True, customfield_10100="ABC-7")
    data["names"] = {"customfield_10100": "Epic Link"}
    issue = parse_issue(data, base_url="https://jira.example.com", body_format="wiki")
    assert issue.parent == "ABC-7"
    del data["names"]  # without names the field is not known to be the Epic Link
    assert parse_issue(data, base_url="https://j", body_format="wiki").parent is None


def test_worklog() -> None:
    raw = {
        "id": "9",
        "started": "2026-12-01T09:30:00.000+0000",
        "timeSpentSeconds": 5400,
        "comment": "done",
        "created": "c",
        "updated": "u",
    }
    log = parse_worklog(raw, "wiki", User("k", "Kim"))
    assert (log.id, log.seconds, log.comment, log.author) == (
        "9",
        5400,
        Body("wiki", "done"),
        User("k", "Kim"),
    )
    assert parse_worklog({**raw, "comment": None}, "wiki").comment is None


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("2026-12-01T10:30:00+01:00", "2026-12-01T09:30:00.000+0000"),
        ("2026-12-01T09:30:00Z", "2026-12-01T09:30:00.000+0000"),
        ("2026-12-01T09:30:00.123+0000", "2026-12-01T09:30:00.123+0000"),
        ("2026-12-01T09:30:00", "2026-12-01T09:30:00.000+0000"),
    ],
)
def test_started_in_jiras_format(given: str, sent: str) -> None:
    assert jira_started(given) == sent


def test_started_must_be_a_time() -> None:
    with pytest.raises(TrackerError):
        jira_started("yesterday")
