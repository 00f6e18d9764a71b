"""Issue 18: an issue's resolution, read and written by both adapters on both sandbox
flavours. Jira's default screens carry the resolution on a transition's screen only (the
edit refuses it): the adapter then sends it on the next transition whose screen has it;
where an admin put it on the edit screen, the edit sets and clears it."""

from __future__ import annotations

from chalicelib.trackers.base import Body, IssueFields
from tests.contract.conftest import PROJECT, Jira
from tests.contract.test_transitions_and_fields import RESOLVE_SCREEN


def test_the_resolution_is_read(jira: Jira):
    key = jira.bot.create_issue(PROJECT, IssueFields(summary="Done soon", issue_type="Task")).key
    assert jira.bot.get_issue(key).resolution is None
    assert jira.bot.transition_issue(key, "In Progress") is True
    assert jira.bot.transition_issue(key, "Done") is True  # the post function: Done
    assert jira.alice.get_issue(key).resolution == "Done"


def test_a_resolution_the_edit_screen_refuses_goes_with_the_next_transition(jira: Jira):
    jira.admin.create_field("Customer")
    jira.admin.create_project("RSV", "Resolving", issue_types=["Task"], workflow=RESOLVE_SCREEN)
    key = jira.bot.create_issue("RSV", IssueFields(summary="Resolve me", issue_type="Task")).key
    jira.bot.update_issue(key, IssueFields(summary="Won't fix", resolution="Won't Do"))
    issue = jira.alice.get_issue(key)
    assert (issue.summary, issue.resolution) == ("Won't fix", None)  # the rest was written
    assert jira.bot.transition_issue(key, "In Progress") is True  # no screen: still waiting
    assert jira.bot.transition_issue(key, "Done") is True
    assert jira.alice.get_issue(key).resolution == "Won't Do"


def test_a_resolution_given_on_create_goes_with_the_first_transition(jira: Jira):
    jira.admin.create_field("Customer")
    jira.admin.create_project("RSC", "Resolved", issue_types=["Task"], workflow=RESOLVE_SCREEN)
    fields = IssueFields(summary="Born resolved", issue_type="Task", resolution="Won't Do")
    key = jira.bot.create_issue("RSC", fields).key  # no create screen has it: not refused
    assert jira.alice.get_issue(key).resolution is None
    assert jira.bot.transition_issue(key, "In Progress") is True
    assert jira.bot.transition_issue(key, "Done") is True
    assert jira.alice.get_issue(key).resolution == "Won't Do"


def test_a_resolution_on_the_edit_screen_is_set_and_cleared_by_the_edit(jira: Jira):
    screens = {"edit": ["summary", "resolution"]}
    jira.admin.create_project("EDR", "Editable", issue_types=["Task"], screens=screens)
    key = jira.bot.create_issue("EDR", IssueFields(summary="Edit me", issue_type="Task")).key
    jira.bot.update_issue(key, IssueFields(resolution="Duplicate"))
    assert jira.alice.get_issue(key).resolution == "Duplicate"
    jira.bot.update_issue(key, IssueFields(resolution=""))
    assert jira.alice.get_issue(key).resolution is None


def test_an_empty_environment_clears_it(jira: Jira):
    fields = IssueFields(summary="Env", issue_type="Task", environment=jira.body("Linux"))
    key = jira.bot.create_issue(PROJECT, fields).key
    assert jira.bot.get_issue(key).environment == jira.body("Linux")
    cloud = jira.flavour == "cloud"
    empty = Body("adf", None) if cloud else Body("wiki", "")
    jira.bot.update_issue(key, IssueFields(environment=empty))  # as the incoming rules clear it
    assert jira.alice.get_issue(key).environment is None
