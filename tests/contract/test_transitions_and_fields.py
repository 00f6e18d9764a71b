"""Status by transition and custom fields by name: both adapters on both sandbox flavours."""

from __future__ import annotations

import pytest

from chalicelib.trackers.base import InvalidRequest, IssueFields, NotFound
from tests.contract.conftest import PROJECT, Jira


def new_issue(jira: Jira, **changes) -> str:
    fields = IssueFields(summary="Workflow", issue_type="Task", **changes)
    return jira.bot.create_issue(PROJECT, fields).key


def test_transition_moves_the_issue_one_step_and_says_when_it_cannot(jira: Jira):
    key = new_issue(jira)
    assert jira.bot.get_issue(key).status == "To Do"
    assert jira.bot.transition_issue(key, "in progress") is True
    assert jira.alice.get_issue(key).status == "In Progress"
    assert jira.bot.transition_issue(key, "Done") is True
    assert jira.bot.get_issue(key).status == "Done"
    assert jira.bot.transition_issue(key, "Done") is True  # already there: nothing to do
    assert jira.bot.transition_issue(key, "To Do") is False  # Done → To Do: no transition
    assert jira.bot.get_issue(key).status == "Done"
    with pytest.raises(NotFound):
        jira.bot.transition_issue(f"{PROJECT}-999", "Done")


def test_a_custom_field_goes_by_name_both_ways(jira: Jira):
    customer = jira.admin.create_field("Customer")
    key = new_issue(jira, custom={"Customer": "ACME"})
    issue = jira.alice.get_issue(key)
    assert issue.fields["Customer"] == issue.fields[customer["id"]] == "ACME"
    jira.bot.update_issue(key, IssueFields(custom={"customer": "Initech"}))
    assert jira.alice.get_issue(key).fields["Customer"] == "Initech"


def test_a_field_defined_after_the_adapter_read_the_list_is_found(jira: Jira):
    jira.admin.create_field("Customer")
    key = new_issue(jira, custom={"Customer": "ACME"})
    jira.admin.create_field("Region")
    jira.bot.update_issue(key, IssueFields(custom={"Region": "EU"}))
    assert jira.bot.get_issue(key).fields["Region"] == "EU"


def test_an_unknown_field_name_is_refused_by_name(jira: Jira):
    with pytest.raises(InvalidRequest, match="'Region'"):
        new_issue(jira, custom={"Region": "EU"})
    assert list(jira.bot.search(f"project = {PROJECT}").issues) == []


def test_a_value_of_the_wrong_type_is_jiras_field_error(jira: Jira):
    points = jira.admin.create_field("Points", field_type="number")
    key = new_issue(jira)
    with pytest.raises(InvalidRequest) as refused:
        jira.bot.update_issue(key, IssueFields(custom={"Points": "many"}))
    assert points["id"] in refused.value.field_errors


RESOLVE_SCREEN = {
    "statuses": ["To Do", "In Progress", "Done"],
    "transitions": [
        {"id": "11", "name": "Start", "from": ["To Do"], "to": "In Progress"},
        {
            "id": "21",
            "name": "Resolve",
            "from": ["In Progress"],
            "to": "Done",
            "screen": ["resolution", "Customer"],
            "required": ["resolution"],
        },
        {"id": "31", "name": "Reopen", "from": ["Done"], "to": "In Progress"},
    ],
}


def test_a_transition_whose_screen_requires_a_resolution_is_taken(jira: Jira):
    """Jira's classic "Resolve Issue" screen: the resolution is required on the way to
    Done. The adapter reads the transition's fields and sends a resolution."""
    jira.admin.create_field("Customer")
    jira.admin.create_project("RSV", "Resolving", issue_types=["Task"], workflow=RESOLVE_SCREEN)
    key = jira.bot.create_issue("RSV", IssueFields(summary="Resolve me", issue_type="Task")).key
    assert jira.bot.transition_issue(key, "In Progress") is True
    assert jira.bot.transition_issue(key, "Done") is True
    issue = jira.alice.get_issue(key)
    assert issue.status == "Done"
    assert issue.fields["resolution"]["name"] == "Done"


def test_a_transition_requiring_a_field_the_adapter_cannot_fill_is_refused(jira: Jira):
    jira.admin.create_field("Customer")
    workflow = {
        "statuses": ["Open", "Closed"],
        "transitions": [
            {"name": "Close", "to": "Closed", "screen": ["Customer"], "required": ["Customer"]}
        ],
    }
    jira.admin.create_project("REQ", "Requiring", issue_types=["Task"], workflow=workflow)
    key = jira.bot.create_issue("REQ", IssueFields(summary="Close me", issue_type="Task")).key
    with pytest.raises(InvalidRequest) as refused:
        jira.bot.transition_issue(key, "Closed")
    assert "Customer is required." in refused.value.field_errors.values()
    assert jira.bot.get_issue(key).status == "Open"
