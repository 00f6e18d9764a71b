"""JQL that admins write in triggers and guards: ``statusCategory``, ``resolution``, custom
fields by name and ``cf[NNNNN]``, ``parent``, ``CHANGED``, ``EMPTY`` (also in a list).

Each clause is searched over REST on both flavours; what Jira refuses is refused with its
wording (an operator a field's type does not take, a value that does not exist).
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Env


def search(env: Env, jql: str) -> Any:
    if env.bot.cloud:
        return env.bot.get("search/jql", params={"jql": jql, "fields": "key", "maxResults": 100})
    return env.bot.get("search", params={"jql": jql, "fields": "key", "maxResults": 100})


def keys(env: Env, jql: str) -> set[str]:
    answer = search(env, jql)
    assert answer.status_code == 200, answer.text
    return {i["key"] for i in answer.json()["issues"]}


def refused(env: Env, jql: str) -> str:
    answer = search(env, jql)
    assert answer.status_code == 400, answer.text
    return " ".join(answer.json()["errorMessages"])


def move(env: Env, key: str, *ids: str) -> None:
    for transition in ids:
        answer = env.bot.post(f"issue/{key}/transitions", json={"transition": {"id": transition}})
        assert answer.status_code == 204, answer.text


@pytest.fixture
def issues(env: Env) -> dict[str, str]:
    """todo (To Do), doing (In Progress), done (Done, resolved), reopened (back to In
    Progress: resolution cleared), child (parent = todo)."""
    made = {n: env.bot.create_issue(n)["key"] for n in ("todo", "doing", "done", "reopened")}
    move(env, made["doing"], "11")
    move(env, made["done"], "11", "21")
    move(env, made["reopened"], "11", "21", "41")
    child = env.bot.create_issue(
        "child", issuetype={"name": "Sub-task"}, parent={"key": made["todo"]}
    )
    made["child"] = child["key"]
    return made


def test_status_category(env: Env, issues: dict[str, str]) -> None:
    project = "project = ABC AND "
    todo = {issues["todo"], issues["child"]}
    assert keys(env, project + "statusCategory = Done") == {issues["done"]}
    assert keys(env, project + 'statusCategory = "To Do"') == todo
    assert keys(env, project + "statusCategory in (new, 4)") == todo | {
        issues["doing"],
        issues["reopened"],
    }
    assert keys(env, project + "statusCategory != Done") == todo | {
        issues["doing"],
        issues["reopened"],
    }
    assert "does not exist" in refused(env, "statusCategory = Finished")


def test_resolution(env: Env, issues: dict[str, str]) -> None:
    unresolved = {issues["todo"], issues["doing"], issues["reopened"], issues["child"]}
    assert keys(env, "project = ABC AND resolution = Done") == {issues["done"]}
    assert keys(env, "project = ABC AND resolution = Unresolved") == unresolved
    assert keys(env, "project = ABC AND resolution IS EMPTY") == unresolved
    assert keys(env, "project = ABC AND resolution IS NOT EMPTY") == {issues["done"]}
    assert keys(env, 'project = ABC AND resolution in (EMPTY, "Won\'t Do")') == unresolved
    assert keys(env, "project = ABC AND resolution != Done") == set()  # Jira skips empties
    assert "does not exist" in refused(env, "resolution = Fixed")


def test_parent(env: Env, issues: dict[str, str]) -> None:
    assert keys(env, f"parent = {issues['todo']}") == {issues["child"]}
    assert keys(env, f"parent in ({issues['todo']}, {issues['done']})") == {issues["child"]}
    assert issues["child"] not in keys(env, "project = ABC AND parent IS EMPTY")
    assert (
        env.bot.get(f"issue/{issues['child']}").json()["fields"]["parent"]["key"]
        == (issues["todo"])
    )


def test_custom_fields_by_name_and_by_cf_id(env: Env) -> None:
    customer = env.admin.create_field("Customer", field_id="customfield_10050")
    points = env.admin.create_field("Story Points", field_type="number")
    tags = env.admin.create_field("Teams", field_type="array")
    number = points["id"].removeprefix("customfield_")
    acme = env.bot.create_issue(
        "acme", **{customer["id"]: "ACME Corp", points["id"]: 5, tags["id"]: ["red", "blue"]}
    )["key"]
    other = env.bot.create_issue("other", **{customer["id"]: "Initech", points["id"]: 1})["key"]
    bare = env.bot.create_issue("bare")["key"]
    assert keys(env, "Customer ~ acme") == {acme}
    assert keys(env, "cf[10050] ~ initech") == {other}
    assert keys(env, 'project = ABC AND "Story Points" >= 2') == {acme}
    assert keys(env, f"cf[{number}] = 1") == {other}
    assert keys(env, "Teams = red") == {acme}
    assert keys(env, "project = ABC AND Customer IS EMPTY") == {bare}
    assert keys(env, "project = ABC AND customer is not empty") == {acme, other}
    # a text field is searched with ~ (Jira: "=" is not a text field's operator)
    assert "'=' is not supported by the 'Customer' field" in refused(env, "Customer = ACME")
    assert "is an invalid number" in refused(env, '"Story Points" = many')
    assert "does not exist" in refused(env, "cf[19999] ~ x")
    assert "does not exist" in refused(env, "Nonexistent ~ x")


def test_changed(env: Env, issues: dict[str, str]) -> None:
    project = "project = ABC AND "
    moved = {issues["doing"], issues["done"], issues["reopened"]}
    assert keys(env, project + "status CHANGED") == moved
    assert keys(env, project + 'status CHANGED FROM "To Do" TO "In Progress"') == moved
    assert keys(env, project + "status CHANGED TO Done") == {issues["done"], issues["reopened"]}
    assert keys(env, project + "NOT status CHANGED TO Done") == {
        issues["todo"],
        issues["doing"],
        issues["child"],
    }
    assert keys(env, project + "resolution CHANGED FROM Done") == {issues["reopened"]}
    assert keys(env, project + "status CHANGED BY currentUser() AFTER -1h") == moved
    assert keys(env, project + "status CHANGED BEFORE -1d") == set()
    assert keys(env, project + 'status CHANGED DURING ("-1d", now())') == moved
    assert keys(env, project + "status CHANGED ON startOfDay()") == moved
    assert keys(env, project + f'status CHANGED BY "{env.alice_user["id"]}"') == set()
    assert "'CHANGED' is not supported by the 'summary' field" in refused(env, "summary CHANGED")


def test_empty_in_a_list_and_as_a_value(env: Env) -> None:
    labelled = env.bot.create_issue("labelled", labels=["x"])["key"]
    bare = env.bot.create_issue("bare")["key"]
    assert keys(env, "project = ABC AND labels in (EMPTY, x)") == {labelled, bare}
    assert keys(env, "project = ABC AND labels = EMPTY") == {bare}
    assert keys(env, "project = ABC AND assignee in (EMPTY)") == {labelled, bare}
    assert "'NOT IN' is not supported" in refused(env, "labels not in (EMPTY, x)")
