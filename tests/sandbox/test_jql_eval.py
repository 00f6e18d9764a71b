"""JQL meaning over a fixed catalogue and a handful of issues (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from devstack.sandbox_jira.jql import JqlError, parse
from devstack.sandbox_jira.jql_eval import Catalog, IssueDoc, compile_query, parse_date

NOW = int(datetime(2024, 3, 10, 12, 0, tzinfo=UTC).timestamp() * 1000)
MINUTE = 60_000
DAY = 86_400_000


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


CATALOG = Catalog(
    projects=[("10000", "ABC", "Alpha"), ("10001", "XYZ", "Xylophone")],
    users={"u-bot": {"u-bot", "bot"}, "u-alice": {"u-alice", "alice"}},
    issue_types=[("10001", "Task"), ("10002", "Bug"), ("10003", "Story")],
    statuses=[("10000", "To Do"), ("3", "In Progress"), ("10001", "Done")],
    priorities=[("1", "Highest"), ("2", "High"), ("3", "Medium"), ("4", "Low"), ("5", "Lowest")],
    issue_keys={"ABC-1": 1, "ABC-2": 2, "ABC-3": 3, "XYZ-1": 4},
    now_ms=NOW,
    current_user="u-bot",
)

DOCS = [
    IssueDoc(
        id=1,
        key="ABC-1",
        project_id="10000",
        number=1,
        issue_type="Task",
        status="To Do",
        labels=("backend", "urgent"),
        priority="High",
        reporter="u-bot",
        created=ms("2024-01-02T10:00:00"),
        updated=NOW - 5 * MINUTE,
        texts={"summary": "Login page crashes", "description": "Users cannot log in"},
        properties={"twin": {"remote": {"key": "XYZ-9"}, "count": 3}},
    ),
    IssueDoc(
        id=2,
        key="ABC-2",
        project_id="10000",
        number=2,
        issue_type="Bug",
        status="Done",
        labels=(),
        priority=None,
        reporter="u-alice",
        created=ms("2024-02-01T00:00:00"),
        updated=NOW - 2 * DAY,
        texts={"summary": "Crashing reports", "comment": "we fixed the full screen mode"},
    ),
    IssueDoc(
        id=3,
        key="ABC-3",
        project_id="10000",
        number=3,
        issue_type="Story",
        status="In Progress",
        labels=("frontend",),
        priority="Low",
        reporter="u-alice",
        created=ms("2024-03-01T08:30:00"),
        updated=NOW - 10 * DAY,
        texts={"summary": "Screen reader support", "description": "Windows and screens"},
        properties={"twin": {"remote": {"key": "XYZ-7"}, "count": 10}},
    ),
    IssueDoc(
        id=4,
        key="XYZ-1",
        project_id="10001",
        number=1,
        issue_type="Task",
        status="To Do",
        labels=("backend",),
        priority="Medium",
        reporter="u-bot",
        created=ms("2024-03-09T12:00:00"),
        updated=NOW - 1 * MINUTE,
        texts={"summary": "Import from ABC"},
    ),
]


def keys(jql: str, catalog: Catalog = CATALOG) -> list[str]:
    compiled = compile_query(parse(jql), catalog)
    return [d.key for d in compiled.sort(d for d in DOCS if compiled.predicate(d))]


def matches(jql: str) -> set[str]:
    return set(keys(jql))


@pytest.mark.parametrize(
    ("jql", "expected"),
    [
        ("project = ABC", {"ABC-1", "ABC-2", "ABC-3"}),
        ("project = abc", {"ABC-1", "ABC-2", "ABC-3"}),
        ("project = 10001", {"XYZ-1"}),
        ('project = "Xylophone"', {"XYZ-1"}),
        ("project in (ABC, XYZ)", {"ABC-1", "ABC-2", "ABC-3", "XYZ-1"}),
        ("project != ABC", {"XYZ-1"}),
        ("key = ABC-2", {"ABC-2"}),
        ("issuekey in (ABC-1, XYZ-1)", {"ABC-1", "XYZ-1"}),
        ("key > ABC-1", {"ABC-2", "ABC-3"}),
        ("key <= ABC-2", {"ABC-1", "ABC-2"}),
        ("id = 3", {"ABC-3"}),
        ("issuetype = Bug", {"ABC-2"}),
        ("type in (Task, Story)", {"ABC-1", "ABC-3", "XYZ-1"}),
        ("issuetype = 10002", {"ABC-2"}),
        ("status = 'In Progress'", {"ABC-3"}),
        ("status != Done", {"ABC-1", "ABC-3", "XYZ-1"}),
        ("labels = backend", {"ABC-1", "XYZ-1"}),
        ("labels in (urgent, frontend)", {"ABC-1", "ABC-3"}),
        ("labels is EMPTY", {"ABC-2"}),
        ("labels is not empty", {"ABC-1", "ABC-3", "XYZ-1"}),
        # Jira: != and NOT IN never match an empty field
        ("labels != urgent", {"ABC-3", "XYZ-1"}),
        ("labels not in (backend)", {"ABC-3"}),
        ("NOT labels = urgent", {"ABC-2", "ABC-3", "XYZ-1"}),
        ("priority = High", {"ABC-1"}),
        ("priority > Medium", {"ABC-1"}),
        ("priority >= Medium", {"ABC-1", "XYZ-1"}),
        ("priority is empty", {"ABC-2"}),
        ("reporter = currentUser()", {"ABC-1", "XYZ-1"}),
        ("reporter = alice", {"ABC-2", "ABC-3"}),
        ("reporter != currentUser()", {"ABC-2", "ABC-3"}),
        ("assignee is EMPTY", {"ABC-1", "ABC-2", "ABC-3", "XYZ-1"}),
        ('created >= "2024-02-01"', {"ABC-2", "ABC-3", "XYZ-1"}),
        ('created > "2024-02-01"', {"ABC-3", "XYZ-1"}),
        ('created < "2024/01/02 10:01"', {"ABC-1"}),
        ('created = "2024-01-02 10:00"', {"ABC-1"}),
        ("created >= -1d", {"XYZ-1"}),
        ("updated >= -10m", {"ABC-1", "XYZ-1"}),
        ("updated >= -2m", {"XYZ-1"}),
        ("updated < -1w", {"ABC-3"}),
        ("updated >= -3d AND updated <= -1h", {"ABC-2"}),
        ('updated > "-4w 2d"', {"ABC-1", "ABC-2", "ABC-3", "XYZ-1"}),
        ("updated <= now()", {"ABC-1", "ABC-2", "ABC-3", "XYZ-1"}),
        ("updated >= startOfDay()", {"ABC-1", "XYZ-1"}),
        ("created < startOfDay(-1d)", {"ABC-1", "ABC-2", "ABC-3"}),
        ("updated <= endOfDay()", {"ABC-1", "ABC-2", "ABC-3", "XYZ-1"}),
        ('text ~ "crash"', {"ABC-1", "ABC-2"}),  # stemmed: crashes, crashing
        ('text ~ "crashes"', {"ABC-1", "ABC-2"}),
        ('summary ~ "page"', {"ABC-1"}),
        ('text ~ "crash*"', {"ABC-1", "ABC-2"}),
        ('summary ~ "login crashes"', {"ABC-1"}),
        ('summary ~ "crashes login"', {"ABC-1"}),
        ('summary !~ "crash*"', {"ABC-3", "XYZ-1"}),
        ('text ~ "fixed"', {"ABC-2"}),
        ('comment ~ "full screen"', {"ABC-2"}),
        ('text ~ "\\"full screen\\""', {"ABC-2"}),
        ('text ~ "\\"screen full\\""', set()),
        ('description ~ "screen"', {"ABC-3"}),
        ('text ~ "window"', {"ABC-3"}),
        ("description is empty", {"ABC-2", "XYZ-1"}),
        ('issue.property[twin].remote.key = "XYZ-9"', {"ABC-1"}),
        ("issue.property[twin].remote.key in (XYZ-9, XYZ-7)", {"ABC-1", "ABC-3"}),
        ("issue.property[twin].count > 5", {"ABC-3"}),
        ("issue.property[twin].remote.key is empty", {"ABC-2", "XYZ-1"}),
        ("issue.property[twin].remote.key != XYZ-9", {"ABC-3"}),
        ("project = ABC AND (labels = urgent OR status = Done)", {"ABC-1", "ABC-2"}),
        ("project = ABC AND NOT (labels = urgent OR status = Done)", {"ABC-3"}),
        ("project = XYZ OR project = ABC AND status = Done", {"XYZ-1", "ABC-2"}),
    ],
)
def test_matching(jql: str, expected: set[str]) -> None:
    assert matches(jql) == expected


def test_default_order_is_created_descending() -> None:
    assert keys("project in (ABC, XYZ)") == ["XYZ-1", "ABC-3", "ABC-2", "ABC-1"]


@pytest.mark.parametrize(
    ("jql", "expected"),
    [
        ("project in (ABC, XYZ) ORDER BY key", ["ABC-1", "ABC-2", "ABC-3", "XYZ-1"]),
        ("project in (ABC, XYZ) ORDER BY key DESC", ["XYZ-1", "ABC-3", "ABC-2", "ABC-1"]),
        ("project in (ABC, XYZ) ORDER BY updated DESC", ["XYZ-1", "ABC-1", "ABC-2", "ABC-3"]),
        ("project in (ABC, XYZ) ORDER BY updated ASC", ["ABC-3", "ABC-2", "ABC-1", "XYZ-1"]),
        # an empty value sorts after every value ascending, so first when descending
        ("project in (ABC, XYZ) ORDER BY priority DESC", ["ABC-2", "ABC-1", "XYZ-1", "ABC-3"]),
        ("project in (ABC, XYZ) ORDER BY priority", ["ABC-3", "XYZ-1", "ABC-1", "ABC-2"]),
        ("project in (ABC, XYZ) ORDER BY project DESC, key", ["XYZ-1", "ABC-1", "ABC-2", "ABC-3"]),
        ("project in (ABC, XYZ) ORDER BY summary", ["ABC-2", "XYZ-1", "ABC-1", "ABC-3"]),
        # ties broken by id so pages are stable
        ("project in (ABC, XYZ) ORDER BY issuetype", ["ABC-2", "ABC-3", "ABC-1", "XYZ-1"]),
    ],
)
def test_ordering(jql: str, expected: list[str]) -> None:
    assert keys(jql) == expected


@pytest.mark.parametrize(
    ("jql", "message"),
    [
        ("foo = bar", "Field 'foo' does not exist or you do not have permission to view it."),
        ("project = NOPE", "The value 'NOPE' does not exist for the field 'project'."),
        ("issuetype = Epic", "The value 'Epic' does not exist for the field 'issuetype'."),
        ("status = Closed", "The value 'Closed' does not exist for the field 'status'."),
        ("priority = Urgent", "The value 'Urgent' does not exist for the field 'priority'."),
        ("reporter = mallory", "The value 'mallory' does not exist for the field 'reporter'."),
        ("key = ABC-99", "An issue with key 'ABC-99' does not exist for field 'key'."),
        ("key = 'not a key'", "The issue key 'not a key' for field 'key' is invalid."),
        ("summary = x", "The operator '=' is not supported by the 'summary' field."),
        ("labels > x", "The operator '>' is not supported by the 'labels' field."),
        ("project ~ x", "The operator '~' is not supported by the 'project' field."),
        ("created = banana", "Date value 'banana' for field 'created' is invalid."),
        ("reporter = foo()", "Unable to find JQL function 'foo()'."),
        ("created > currentUser()", "is invalid for the field 'created'"),
        ("reporter = now()", "is invalid for the field 'reporter'"),
        ("project = ABC ORDER BY labels", "Field 'labels' does not support sorting."),
        ("project = ABC ORDER BY nothing", "Field 'nothing' does not exist"),
        ("text ~ ''", "The text query is empty."),
    ],
)
def test_semantic_errors(jql: str, message: str) -> None:
    with pytest.raises(JqlError) as info:
        compile_query(parse(jql), CATALOG)
    assert message in info.value.message


def test_unindexed_property_is_unknown_field() -> None:
    strict = Catalog(**{**CATALOG.__dict__, "indexed_properties": {"other"}})
    with pytest.raises(JqlError, match=r"issue\.property\[twin\]\.remote\.key"):
        keys("issue.property[twin].remote.key = X", strict)


def test_anonymous_current_user_matches_nothing() -> None:
    anonymous = Catalog(**{**CATALOG.__dict__, "current_user": None})
    assert keys("reporter = currentUser()", anonymous) == []


def test_bounded_flag() -> None:
    assert compile_query(parse("order by key"), CATALOG).bounded is False
    assert compile_query(parse("project = ABC"), CATALOG).bounded is True


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-02", ms("2024-01-02T00:00:00")),
        ("2024/01/02", ms("2024-01-02T00:00:00")),
        ("2024-01-02 10:05", ms("2024-01-02T10:05:00")),
        ("-5m", NOW - 5 * MINUTE),
        ("-2h", NOW - 2 * 60 * MINUTE),
        ("-1d", NOW - DAY),
        ("-1w", NOW - 7 * DAY),
        ("+1d", NOW + DAY),
        ("3d", NOW + 3 * DAY),
        ("-1w 2d", NOW - 9 * DAY),
        ("-1d6h", NOW - DAY - 6 * 60 * MINUTE),
    ],
)
def test_dates(text: str, expected: int) -> None:
    assert parse_date(text, NOW, "created") == expected


def test_sort_keys_compare_after_json_round_trip() -> None:
    import json

    compiled = compile_query(parse("project = ABC ORDER BY key DESC"), CATALOG)
    order = compiled.order
    key = json.loads(json.dumps(order.key(DOCS[1])))
    assert order.compare_keys(order.key(DOCS[0]), key) > 0  # ABC-1 comes after ABC-2
    assert order.compare_keys(order.key(DOCS[2]), key) < 0
    assert order.compare_keys(order.key(DOCS[1]), key) == 0
