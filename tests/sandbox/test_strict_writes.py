"""Writes real Jira refuses, refused: unknown custom fields, fields off a screen, required
fields left out, transition screens; and the resolution a Done transition sets.

Wording: ``Field 'x' cannot be set. It is not on the appropriate screen, or unknown.`` is
what Jira Cloud answers, one entry per offending field under ``errors`` with empty
``errorMessages`` (real 400 bodies of ``POST /rest/api/3/issue`` quoted in public issue
threads, e.g. tenable/integration-jira-cloud #89 and #225); the resolution's shape and
values are those of the captured ``issue-updated-resolved.json``.
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import PROJECT, Env, JiraClient


def not_settable(field: str) -> dict[str, Any]:
    message = f"Field '{field}' cannot be set. It is not on the appropriate screen, or unknown."
    return {"errorMessages": [], "errors": {field: message}}


def create(client: JiraClient, project: str = PROJECT, **fields: Any) -> Any:
    values = {"project": {"key": project}, "issuetype": {"name": "Task"}, "summary": "S"}
    return client.post("issue", json={"fields": {**values, **fields}})


def count_issues(env: Env) -> int:
    return len(env.site.store.issues)


# --- item 4: unknown custom fields ---------------------------------------------------------


def test_an_unknown_custom_field_refuses_the_whole_create(env: Env) -> None:
    answer = create(env.bot, labels=["kept"], customfield_10099="x")
    assert answer.status_code == 400
    assert answer.json() == not_settable("customfield_10099")
    assert count_issues(env) == 0


def test_an_unknown_custom_field_refuses_the_whole_edit(env: Env) -> None:
    key = env.bot.create_issue("Before")["key"]
    for body in (
        {"fields": {"summary": "After", "customfield_10099": 1}},
        {"update": {"customfield_10099": [{"set": 1}]}, "fields": {"summary": "After"}},
    ):
        answer = env.bot.put(f"issue/{key}", json=body)
        assert answer.status_code == 400
        assert answer.json() == not_settable("customfield_10099")
    assert env.bot.get(f"issue/{key}").json()["fields"]["summary"] == "Before"


def test_a_defined_custom_field_is_set(env: Env) -> None:
    field = env.admin.create_field("Customer")
    key = create(env.bot, **{field["id"]: "ACME"}).json()["key"]
    assert env.bot.get(f"issue/{key}").json()["fields"][field["id"]] == "ACME"


# --- item 5: screens and required fields -----------------------------------------------------


@pytest.fixture
def screened(env: Env) -> Env:
    """Project SCR: its create screen lacks priority, its edit screen lacks labels, and
    the Customer field is required on create."""
    env.admin.create_field("Customer")
    env.admin.create_field("Region")
    env.admin.create_project(
        "SCR",
        "Screened",
        issue_types=["Task"],
        screens={
            "create": ["summary", "description", "labels", "Customer"],
            "edit": ["summary", "Customer", "Region"],
            "required": ["Customer"],
        },
    )
    return env


def test_a_field_off_the_create_screen_is_refused(screened: Env) -> None:
    answer = create(screened.bot, "SCR", customfield_10000="ACME", priority={"name": "High"})
    assert answer.status_code == 400
    assert answer.json() == not_settable("priority")
    region = create(screened.bot, "SCR", customfield_10000="ACME", customfield_10001="EU")
    assert region.json() == not_settable("customfield_10001")
    assert count_issues(screened) == 0


def test_a_required_field_left_out_is_refused(screened: Env) -> None:
    answer = create(screened.bot, "SCR", labels=["a"])
    assert answer.status_code == 400
    assert answer.json() == {
        "errorMessages": [],
        "errors": {"customfield_10000": "Customer is required."},
    }
    assert create(screened.bot, "SCR", customfield_10000="ACME").status_code == 201


def test_a_field_off_the_edit_screen_is_refused(screened: Env) -> None:
    key = create(screened.bot, "SCR", customfield_10000="ACME", labels=["a"]).json()["key"]
    for body in (
        {"fields": {"summary": "Edited", "labels": ["b"]}},
        {"update": {"labels": [{"add": "b"}]}},
    ):
        answer = screened.bot.put(f"issue/{key}", json=body)
        assert answer.status_code == 400
        assert answer.json() == not_settable("labels")
    assert screened.bot.put(f"issue/{key}", json={"fields": {"customfield_10001": "EU"}}).ok
    fields = screened.bot.get(f"issue/{key}").json()["fields"]
    assert (fields["summary"], fields["labels"], fields["customfield_10001"]) == ("S", ["a"], "EU")


def test_the_resolution_is_on_no_default_screen(env: Env) -> None:
    key = env.bot.create_issue()["key"]
    answer = env.bot.put(f"issue/{key}", json={"fields": {"resolution": {"name": "Done"}}})
    assert answer.json() == not_settable("resolution")
    assert create(env.bot, resolution={"name": "Done"}).json() == not_settable("resolution")


# --- item 5: transitions: screens, required fields, the resolution Done sets ---------------


def move(client: JiraClient, key: str, transition_id: str, **extra: Any) -> Any:
    return client.post(
        f"issue/{key}/transitions", json={"transition": {"id": transition_id}, **extra}
    )


def test_done_sets_a_resolution_and_reopening_clears_it(env: Env) -> None:
    key = env.bot.create_issue()["key"]
    assert env.bot.get(f"issue/{key}").json()["fields"]["resolution"] is None
    assert move(env.bot, key, "11").status_code == 204
    assert move(env.bot, key, "21").status_code == 204
    fields = env.bot.get(f"issue/{key}").json()["fields"]
    assert fields["resolution"]["name"] == "Done" and fields["resolution"]["id"] == "10000"
    assert fields["resolutiondate"]
    assert move(env.bot, key, "41").status_code == 204  # Reopen
    fields = env.bot.get(f"issue/{key}").json()["fields"]
    assert fields["resolution"] is None and fields["resolutiondate"] is None


def test_a_transition_without_a_screen_sets_no_field(env: Env) -> None:
    key = env.bot.create_issue("Before")["key"]
    answer = move(env.bot, key, "11", fields={"summary": "During"})
    assert answer.status_code == 400
    assert answer.json() == not_settable("summary")
    fields = env.bot.get(f"issue/{key}").json()["fields"]
    assert (fields["summary"], fields["status"]["name"]) == ("Before", "To Do")


@pytest.fixture
def resolving(env: Env) -> Env:
    """Project RES: its Resolve transition has a screen that requires a resolution."""
    env.admin.create_project(
        "RES",
        "Resolving",
        issue_types=["Task"],
        workflow={
            "statuses": ["Open", "Resolved"],
            "transitions": [
                {
                    "id": "5",
                    "name": "Resolve",
                    "from": ["Open"],
                    "to": "Resolved",
                    "screen": ["resolution", "summary"],
                    "required": ["resolution"],
                },
                {"id": "3", "name": "Reopen", "from": ["Resolved"], "to": "Open"},
            ],
        },
    )
    return env


def test_a_transition_screen_requires_its_fields(resolving: Env) -> None:
    key = create(resolving.bot, "RES").json()["key"]
    listed = resolving.bot.get(
        f"issue/{key}/transitions", params={"expand": "transitions.fields"}
    ).json()["transitions"]
    [resolve] = listed
    field = resolve["fields"]["resolution"]
    assert field["required"] is True and field["operations"] == ["set"]
    assert "Won't Do" in [v["name"] for v in field["allowedValues"]]
    if resolving.bot.cloud:
        assert resolve["hasScreen"] is True
    missing = move(resolving.bot, key, "5")
    assert missing.status_code == 400
    assert missing.json() == {
        "errorMessages": [],
        "errors": {"resolution": "Resolution is required."},
    }
    off_screen = move(
        resolving.bot, key, "5", fields={"resolution": {"name": "Done"}, "labels": ["x"]}
    )
    assert off_screen.json() == not_settable("labels")
    assert resolving.bot.get(f"issue/{key}").json()["fields"]["status"]["name"] == "Open"
    done = move(resolving.bot, key, "5", fields={"resolution": {"name": "Won't Do"}})
    assert done.status_code == 204
    fields = resolving.bot.get(f"issue/{key}").json()["fields"]
    assert (fields["status"]["name"], fields["resolution"]["name"]) == ("Resolved", "Won't Do")


def test_an_unknown_resolution_is_refused(resolving: Env) -> None:
    key = create(resolving.bot, "RES").json()["key"]
    answer = move(resolving.bot, key, "5", fields={"resolution": {"name": "Fixed-ish"}})
    assert answer.status_code == 400 and "resolution" in answer.json()["errors"]


def test_screens_are_checked_when_the_project_is_made(env: Env) -> None:
    from devstack.sandbox_jira.admin import SandboxAdminError

    with pytest.raises(SandboxAdminError) as bad:
        env.admin.create_project("BAD", "Bad", screens={"create": "summary"})
    assert bad.value.status == 400
    with pytest.raises(SandboxAdminError):
        env.admin.create_project(
            "BAD",
            "Bad",
            workflow={
                "statuses": ["A", "B"],
                "transitions": [{"to": "B", "screen": ["summary"], "required": ["labels"]}],
            },
        )
