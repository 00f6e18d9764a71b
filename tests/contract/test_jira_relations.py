"""Both adapters against both sandbox flavours: issue 18's operations (links, hierarchy,
worklogs, components and versions, users), over real HTTP."""

from __future__ import annotations

from typing import Any, cast

import pytest

from chalicelib.trackers.base import (
    Body,
    InvalidRequest,
    IssueFields,
    IssueLink,
    NotFound,
    TrackerRelations,
)
from tests.contract.conftest import PROJECT, Jira, adf


def new_issue(jira: Jira, summary: str = "Printer on fire", **changes: Any) -> str:
    fields = IssueFields(summary=summary, issue_type=changes.pop("issue_type", "Task"), **changes)
    return jira.bot.create_issue(PROJECT, fields).key


def rel(jira: Jira) -> TrackerRelations:
    assert isinstance(jira.bot, TrackerRelations)
    return cast(TrackerRelations, jira.bot)


# --- links -------------------------------------------------------------------------------


def test_link_types(jira: Jira):
    types = {t.name: t for t in rel(jira).list_link_types()}
    assert (types["Blocks"].inward, types["Blocks"].outward) == ("is blocked by", "blocks")
    assert types["Blocks"].id


def test_add_read_and_delete_a_link(jira: Jira):
    a, b = new_issue(jira, "A"), new_issue(jira, "B")
    rel(jira).add_issue_link("Blocks", a, b)
    [on_a] = jira.bot.get_issue(a).links
    [on_b] = jira.alice.get_issue(b).links
    assert on_a == IssueLink(on_a.id, "Blocks", "outward", b) and on_a.id
    assert on_b == IssueLink(on_a.id, "Blocks", "inward", a)
    rel(jira).delete_issue_link(on_a.id)
    assert jira.bot.get_issue(a).links == () == jira.bot.get_issue(b).links
    with pytest.raises(NotFound):
        rel(jira).delete_issue_link(on_a.id)


def test_unknown_link_type_is_not_found(jira: Jira):
    a, b = new_issue(jira, "A"), new_issue(jira, "B")
    with pytest.raises(NotFound) as caught:
        rel(jira).add_issue_link("Frobnicates", a, b)
    assert "Frobnicates" in caught.value.message


# --- hierarchy ---------------------------------------------------------------------------

HIE = "HIE"


@pytest.fixture
def hie(jira: Jira) -> Jira:
    jira.admin.create_project(HIE, "Hierarchy", issue_types=["Epic", "Story", "Sub-task"])
    return jira


def create(jira: Jira, kind: str, summary: str = "x", parent: str | None = None) -> str:
    return jira.bot.create_issue(
        HIE, IssueFields(summary=summary, issue_type=kind, parent=parent)
    ).key


def test_issue_types_with_the_subtask_flag(hie: Jira):
    types = {t.name: t for t in rel(hie).list_issue_types(HIE)}
    assert [types[n].subtask for n in ("Epic", "Story", "Sub-task")] == [False, False, True]
    levels = [types[n].hierarchy_level for n in ("Epic", "Story", "Sub-task")]
    assert levels == ([1, 0, -1] if hie.flavour == "cloud" else [None, None, None])
    assert "Sub-task" not in hie.bot.get_project(HIE).issue_types  # top-level types only
    assert hie.bot.get_project(HIE).subtask_types == ("Sub-task",)  # listed apart


def test_sub_task_parent_is_read_and_written_alike(hie: Jira):
    story = create(hie, "Story")
    child = create(hie, "Sub-task", parent=story)
    assert hie.alice.get_issue(child).parent == story
    other = create(hie, "Story")
    rel(hie).set_parent(child, other)
    assert hie.bot.get_issue(child).parent == other
    assert hie.bot.get_issue(story).parent is None


def test_epic_child_hides_the_flavour(hie: Jira):
    """Cloud's ``parent`` and Server's ``Epic Link`` through the same calls."""
    epic = create(hie, "Epic", "The epic")  # Server: Epic Name filled from the summary
    story = create(hie, "Story", parent=epic)
    assert hie.bot.get_issue(story).parent == epic
    loose = create(hie, "Story")
    rel(hie).set_parent(loose, epic)
    assert hie.bot.get_issue(loose).parent == epic
    rel(hie).set_parent(loose, None)
    assert hie.bot.get_issue(loose).parent is None
    if hie.flavour == "server":
        assert hie.bot.get_issue(epic).fields["Epic Name"] == "The epic"


def test_update_issue_sets_and_removes_a_parent_in_either_flavour(hie: Jira):
    """``IssueFields.parent``: a key sets it (Server: Epic Link or a sub-task's parent),
    ``""`` removes it."""
    epic = create(hie, "Epic", "The epic")
    story = create(hie, "Story")
    hie.bot.update_issue(story, IssueFields(parent=epic))
    assert hie.bot.get_issue(story).parent == epic
    hie.bot.update_issue(story, IssueFields(parent=""))
    assert hie.bot.get_issue(story).parent is None
    child = create(hie, "Sub-task", parent=create(hie, "Story"))
    hie.bot.update_issue(child, IssueFields(parent=story))
    assert hie.bot.get_issue(child).parent == story


def test_sub_task_without_parent_is_refused_with_jiras_message(hie: Jira):
    with pytest.raises(InvalidRequest) as caught:
        create(hie, "Sub-task")
    assert caught.value.field_errors == {
        "issuetype": "Issue type is a sub-task but parent issue key or id not specified."
    }


# --- worklogs ----------------------------------------------------------------------------


def test_worklogs_round_trip(jira: Jira):
    key = new_issue(jira)
    made = rel(jira).add_worklog(
        key, started="2026-12-01T10:30:00+01:00", seconds=5400, comment=jira.body("Fixed")
    )
    assert (made.started, made.seconds) == ("2026-12-01T09:30:00.000+0000", 5400)
    assert made.author is not None and made.author.id == jira.bot_user["id"]
    assert made.comment == jira.body("Fixed")
    changed = rel(jira).update_worklog(key, made.id, seconds=60)
    assert (changed.seconds, changed.comment) == (60, jira.body("Fixed"))
    assert [w.id for w in rel(jira).list_worklogs(key)] == [made.id]
    rel(jira).delete_worklog(key, made.id)
    assert rel(jira).list_worklogs(key) == []
    with pytest.raises(NotFound):
        rel(jira).delete_worklog(key, made.id)


def test_worklog_comment_of_the_other_format_is_converted(jira: Jira):
    key = new_issue(jira)
    other = Body("wiki", "*done*") if jira.flavour == "cloud" else Body("adf", adf("done"))
    made = rel(jira).add_worklog(key, started="2026-12-01T09:30:00Z", seconds=60, comment=other)
    assert made.comment is not None and made.comment.format == jira.bot.body_format


def test_worklog_refusal_is_invalid_request(jira: Jira):
    key = new_issue(jira)
    with pytest.raises(InvalidRequest) as caught:
        rel(jira).add_worklog(key, started="2026-12-01T09:30:00Z", seconds=0)
    assert caught.value.field_errors == {"timeLogged": "Invalid time duration entered."}


# --- components, versions, due date, environment -----------------------------------------


def test_components_and_versions_by_name(jira: Jira):
    made = rel(jira).create_component(PROJECT, "Backend", "APIs")
    assert (made.name, made.description) == ("Backend", "APIs") and made.id
    assert rel(jira).list_components(PROJECT) == [made]
    first = rel(jira).create_version(PROJECT, "1.0", release_date="2026-12-24")
    second = rel(jira).create_version(PROJECT, "2.0", released=True)
    assert first.release_date == "2026-12-24" and second.released
    assert [v.name for v in rel(jira).list_versions(PROJECT)] == ["1.0", "2.0"]
    key = new_issue(
        jira,
        components=("Backend",),
        fix_versions=("2.0",),
        versions=("1.0",),
        due_date="2026-12-31",
        environment=jira.body("Linux"),
    )
    issue = jira.alice.get_issue(key)
    assert (issue.components, issue.fix_versions, issue.versions) == (
        ("Backend",),
        ("2.0",),
        ("1.0",),
    )
    assert (issue.due_date, issue.environment) == ("2026-12-31", jira.body("Linux"))
    jira.bot.update_issue(key, IssueFields(components=(), due_date=""))
    issue = jira.bot.get_issue(key)
    assert (issue.components, issue.due_date, issue.fix_versions) == ((), None, ("2.0",))


def test_unknown_component_name_is_refused_with_jiras_message(jira: Jira):
    with pytest.raises(InvalidRequest) as caught:
        new_issue(jira, components=("Nope",))
    assert caught.value.field_errors == {"components": "Component name 'Nope' is not valid"}


# --- users --------------------------------------------------------------------------------


def test_find_users_and_assign(jira: Jira):
    alice = rel(jira).find_user_by_email(jira.alice_user["email"])
    assert alice is not None and alice.id == jira.alice_user["id"] and alice.name == "Alice"
    assert alice.email == jira.alice_user["email"]
    assert rel(jira).find_user_by_email("nobody@example.com") is None
    assert rel(jira).get_user(alice.id) == alice
    key = new_issue(jira)
    rel(jira).set_assignee(key, alice.id)
    rel(jira).set_reporter(key, alice.id)
    issue = jira.bot.get_issue(key)
    assert issue.assignee is not None and issue.assignee.id == alice.id
    assert issue.reporter is not None and issue.reporter.id == alice.id
    rel(jira).set_assignee(key, None)
    assert jira.bot.get_issue(key).assignee is None


def test_cloud_hidden_address_is_found_whole(jira: Jira):
    if jira.flavour != "cloud":
        pytest.skip("Cloud's profile privacy")
    carol = jira.admin.create_user(
        display_name="Carol", email="carol@example.com", email_visible=False
    )
    found = rel(jira).find_user_by_email("carol@example.com")
    assert found is not None and (found.id, found.email) == (carol["id"], None)


def test_unknown_user_is_not_found(jira: Jira):
    with pytest.raises(NotFound):
        rel(jira).get_user("no-such-user")
