"""The stack file: custom fields, per-project screens and workflows reach the sandbox as
written, and mistakes in them are reported with the rest."""

from __future__ import annotations

import pytest

from devstack.stackfile import FieldSpec, StackFileError, parse

NODE = {"nodes": {"a": {"tracker": "a"}}}


def tracker(**extra: object) -> dict:
    return {"trackers": {"a": {"kind": "jira_cloud", **extra}}, **NODE}


def test_fields_screens_and_workflows_are_read() -> None:
    workflow = {"statuses": ["Open", "Done"], "transitions": [{"to": "Done"}]}
    spec = parse(
        tracker(
            fields=[
                {"name": "Customer", "id": "customfield_10050"},
                {"name": "Points", "type": "number"},
            ],
            projects=[
                {
                    "key": "ABC",
                    "issue_types": ["Task"],
                    "screens": {"create": ["summary", "Customer"], "required": ["Customer"]},
                    "workflow": workflow,
                }
            ],
        )
    )
    a = spec.trackers["a"]
    assert a.fields == (
        FieldSpec("Customer", "string", "customfield_10050"),
        FieldSpec("Points", "number", None),
    )
    [project] = a.projects
    assert project.screens == {"create": ["summary", "Customer"], "required": ["Customer"]}
    assert project.workflow == workflow


def test_the_shipped_stack_file_defines_its_custom_field_and_a_resolve_screen() -> None:
    from pathlib import Path

    from devstack.stackfile import load

    spec = load(Path(__file__).parents[2] / "devstack" / "stack.toml")
    assert all(t.fields for t in spec.trackers.values())
    sup = next(p for p in spec.trackers["b"].projects if p.key == "SUP")
    assert sup.workflow is not None
    assert any(t.get("required") == ["resolution"] for t in sup.workflow["transitions"])


def test_mistakes_are_all_reported() -> None:
    with pytest.raises(StackFileError) as bad:
        parse(
            tracker(
                fields=[{"name": "X", "type": "date"}, {"name": "Y", "id": "cf_1"}],
                projects=[
                    {"key": "ABC", "issue_types": ["Task"], "screens": {"view": []}},
                    {"key": "DEF", "issue_types": ["Task"], "screens": {"create": "summary"}},
                    {"key": "GHI", "issue_types": ["Task"], "workflow": {"transitions": []}},
                ],
            )
        )
    problems = " | ".join(bad.value.problems)
    for expected in (
        "fields[0] needs a name and a type",
        "fields[1].id must be customfield_NNNNN",
        "projects[0].screens takes create, edit, required",
        "projects[1].screens.create must be a list",
        "projects[2].workflow needs statuses",
    ):
        assert expected in problems


def test_a_nodes_webhook_can_be_filtered_by_jql() -> None:
    spec = parse(
        {
            "trackers": {"a": {"kind": "jira_server"}},
            "nodes": {
                "a": {"tracker": "a", "webhook_jql": "project in (OPS)"},
                "b": {"tracker": "a"},
            },
        }
    )
    assert spec.nodes["a"].webhook_jql == "project in (OPS)"
    assert spec.nodes["b"].webhook_jql is None  # every issue's events, as before


def test_an_empty_webhook_filter_is_reported() -> None:
    with pytest.raises(StackFileError) as bad:
        parse(
            {
                "trackers": {"a": {"kind": "jira_cloud"}},
                "nodes": {"a": {"tracker": "a", "webhook_jql": " "}},
            }
        )
    assert "nodes.a.webhook_jql must be a JQL query" in " | ".join(bad.value.problems)
