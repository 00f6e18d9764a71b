"""Workflows (statuses change through transitions only) and custom fields defined per site."""

from __future__ import annotations

import pytest

from devstack.sandbox_jira import SandboxAdmin, SandboxJira
from devstack.sandbox_jira.admin import SandboxAdminError

from .conftest import Env, Receiver
from .oas import response_validator
from .test_fidelity_openapi import check


def transitions(env: Env, key: str) -> dict[str, str]:
    answer = env.bot.get(f"issue/{key}/transitions")
    assert answer.status_code == 200, answer.text
    return {t["to"]["name"]: t["id"] for t in answer.json()["transitions"]}


def move(env: Env, key: str, transition_id: str) -> int:
    return env.bot.post(
        f"issue/{key}/transitions", json={"transition": {"id": transition_id}}
    ).status_code


# --- workflows ------------------------------------------------------------------------------


def test_the_default_workflow_goes_one_step_at_a_time_and_back(env: Env) -> None:
    key = env.bot.create_issue("Workflow")["key"]
    assert env.bot.get(f"issue/{key}").json()["fields"]["status"]["name"] == "To Do"
    assert transitions(env, key) == {"In Progress": "11"}
    assert move(env, key, "11") == 204
    assert env.bot.get(f"issue/{key}").json()["fields"]["status"]["name"] == "In Progress"
    assert set(transitions(env, key)) == {"Done", "To Do"}
    assert move(env, key, transitions(env, key)["Done"]) == 204
    assert transitions(env, key) == {"In Progress": "41"}  # Reopen


def test_an_unavailable_or_missing_transition_is_a_400(env: Env) -> None:
    key = env.bot.create_issue("Workflow")["key"]
    answer = env.bot.post(f"issue/{key}/transitions", json={"transition": {"id": "21"}})
    assert answer.status_code == 400
    assert answer.json()["errorMessages"] == ["Transition id '21' is not valid for this issue."]
    assert env.bot.post(f"issue/{key}/transitions", json={}).status_code == 400
    assert env.bot.get(f"issue/{key}").json()["fields"]["status"]["name"] == "To Do"
    assert env.bot.get("issue/ABC-999/transitions").status_code == 404


def test_a_transition_fires_issue_updated_with_a_status_item(env: Env, receiver: Receiver) -> None:
    env.admin.add_webhook(receiver.url, events=["jira:issue_updated"])
    key = env.bot.create_issue("Webhook")["key"]
    assert move(env, key, "11") == 204
    env.site.publisher.wait_idle(5)
    (event,) = receiver.events("jira:issue_updated")
    items = event["json"]["changelog"]["items"]
    assert [(i["field"].lower(), i["fromString"], i["toString"]) for i in items] == [
        ("status", "To Do", "In Progress")
    ]
    assert event["json"]["issue"]["fields"]["status"]["name"] == "In Progress"


def test_a_project_gets_its_own_workflow_through_the_admin_api(env: Env) -> None:
    env.admin.create_project(
        "WF",
        "Workflowed",
        issue_types=["Task"],
        workflow={
            "statuses": ["Open", "In Review", "Closed"],
            "transitions": [
                {"name": "Review", "from": ["Open"], "to": "In Review"},
                {"name": "Close", "to": "Closed"},  # global: from anywhere
            ],
        },
    )
    created = env.bot.post(
        "issue",
        json={"fields": {"project": {"key": "WF"}, "issuetype": {"name": "Task"}, "summary": "x"}},
    )
    key = created.json()["key"]
    listed = env.bot.get(f"issue/{key}/transitions").json()["transitions"]
    assert [(t["name"], t["to"]["name"]) for t in listed] == [
        ("Review", "In Review"),
        ("Close", "Closed"),
    ]
    assert move(env, key, listed[1]["id"]) == 204
    fields = env.bot.get(f"issue/{key}").json()["fields"]
    assert fields["status"]["name"] == "Closed"
    assert fields["status"]["statusCategory"]["key"] == "done"
    assert env.bot.get(f"issue/{key}/transitions").json()["transitions"] == []
    if env.bot.cloud:
        found = env.bot.get("search/jql", params={"jql": 'status = "Closed"'}).json()["issues"]
        assert len(found) == 1
    else:
        assert env.bot.get("search", params={"jql": 'status = "Closed"'}).json()["total"] == 1
    shown = next(p for p in env.admin.call("GET", "projects") if p["key"] == "WF")
    assert [s["name"] for s in shown["workflow"]["statuses"]] == ["Open", "In Review", "Closed"]


def test_statuses_alone_make_a_chain(env: Env) -> None:
    env.admin.create_project("CH", "Chain", issue_types=["Task"], workflow={"statuses": ["A", "B"]})
    key = env.bot.post(
        "issue",
        json={"fields": {"project": {"key": "CH"}, "issuetype": {"name": "Task"}, "summary": "x"}},
    ).json()["key"]
    assert transitions(env, key).keys() == {"B"}


@pytest.mark.parametrize(
    "workflow",
    [
        {"statuses": []},
        {"statuses": ["A", "A"]},
        {"statuses": ["A"], "transitions": [{"to": "Z"}]},
        {"statuses": ["A"], "transitions": [{"to": "A", "from": ["Z"]}]},
    ],
)
def test_a_broken_workflow_is_refused(env: Env, workflow: dict) -> None:
    with pytest.raises(SandboxAdminError) as refused:
        env.admin.create_project("BAD", "Bad", issue_types=["Task"], workflow=workflow)
    assert refused.value.status == 400
    assert "BAD" not in [p["key"] for p in env.admin.call("GET", "projects")]


def test_admin_status_shortcut_follows_the_project_workflow(env: Env) -> None:
    key = env.bot.create_issue("Shortcut")["key"]
    env.admin.set_status(key, "Done", user=env.bot_user["id"])
    assert env.bot.get(f"issue/{key}").json()["fields"]["status"]["name"] == "Done"
    with pytest.raises(SandboxAdminError):
        env.admin.set_status(key, "Closed", user=env.bot_user["id"])


def test_transitions_match_the_openapi_document(cloud: Env) -> None:
    key = cloud.bot.create_issue("Fidelity")["key"]
    body = cloud.bot.get(f"issue/{key}/transitions").json()
    check(response_validator("/rest/api/3/issue/{issueIdOrKey}/transitions", "get"), body)


# --- custom fields --------------------------------------------------------------------------


def test_custom_fields_are_listed_by_name_and_stored_by_id(env: Env) -> None:
    customer = env.admin.create_field("Customer")
    points = env.admin.create_field("Points", field_type="number", field_id="customfield_10777")
    assert customer["id"].startswith("customfield_") and points["id"] == "customfield_10777"
    listed = env.bot.get("field").json()
    by_name = {f["name"]: f for f in listed}
    assert by_name["Customer"]["id"] == customer["id"] and by_name["Customer"]["custom"] is True
    assert by_name["Summary"] == {**by_name["Summary"], "id": "summary", "custom": False}

    key = env.bot.create_issue("Custom", **{customer["id"]: "ACME"})["key"]
    assert env.bot.put(f"issue/{key}", json={"fields": {points["id"]: 3.5}}).status_code == 204
    data = env.bot.get(f"issue/{key}", params={"expand": "names"}).json()
    assert data["fields"][customer["id"]] == "ACME" and data["fields"][points["id"]] == 3.5
    assert data["names"][customer["id"]] == "Customer"


def test_a_custom_field_value_of_the_wrong_type_is_a_400(env: Env) -> None:
    points = env.admin.create_field("Points", field_type="number")
    key = env.bot.create_issue("Typed")["key"]
    answer = env.bot.put(f"issue/{key}", json={"fields": {points["id"]: "many"}})
    assert answer.status_code == 400
    assert answer.json()["errors"] == {points["id"]: "Operation value must be a number"}


def test_a_field_name_is_defined_once(env: Env) -> None:
    env.admin.create_field("Customer")
    with pytest.raises(SandboxAdminError) as refused:
        env.admin.create_field("customer")
    assert refused.value.status == 409
    assert env.admin.ensure_field("CUSTOMER")["name"] == "Customer"


def test_fields_come_from_the_config_and_survive_a_restart(tmp_path) -> None:
    state = tmp_path / "state.json"
    config = {"fields": [{"name": "Customer", "id": "customfield_10050"}]}
    with SandboxJira("server", persist_path=state, config=config) as site:
        admin = SandboxAdmin(site.url)
        admin.create_field("Region")
        assert [f["name"] for f in admin.fields()] == ["Customer", "Region"]
    with SandboxJira("server", persist_path=state, config=config) as site:
        ids = [f["id"] for f in SandboxAdmin(site.url).fields()]
        assert len(ids) == 2 and ids[0] == "customfield_10050"


def test_the_field_list_matches_the_openapi_document(cloud: Env) -> None:
    cloud.admin.create_field("Customer")
    check(response_validator("/rest/api/3/field", "get"), cloud.bot.get("field").json())


def test_a_custom_field_change_is_a_changelog_item_named_by_the_field(
    env: Env, receiver: Receiver
) -> None:
    customer = env.admin.create_field("Customer")
    env.admin.add_webhook(receiver.url, events=["jira:issue_updated"])
    key = env.bot.create_issue("Changelog")["key"]
    env.bot.put(f"issue/{key}", json={"fields": {customer["id"]: "Initech"}})
    env.site.publisher.wait_idle(5)
    (event,) = receiver.events("jira:issue_updated")
    (item,) = event["json"]["changelog"]["items"]
    assert (item["field"], item["fieldtype"], item["toString"]) == ("Customer", "custom", "Initech")
