"""JQL composition around an admin's query (pure)."""

from __future__ import annotations

import pytest

from chalicelib.trackers import jql


@pytest.mark.parametrize(
    ("query", "where", "order"),
    [
        ("project = SUP ORDER BY created DESC", "project = SUP", "ORDER BY created DESC"),
        ("project = SUP order by key", "project = SUP", "order by key"),
        ('summary ~ "order by me"', 'summary ~ "order by me"', None),
        ("(a = 1 ORDER BY x)", "(a = 1 ORDER BY x)", None),
        ("ORDER BY key", "", "ORDER BY key"),
        ("  labels = vip  ", "labels = vip", None),
    ],
)
def test_order_by_is_split_off_outside_strings_and_parentheses(query, where, order):
    assert jql.split_order_by(query) == (where, order)


def test_for_issue_asks_about_one_key():
    assert jql.for_issue("SUP-12", "labels = vip") == 'key = "SUP-12" AND (labels = vip)'
    assert jql.for_issue("SUP-12", "") == 'key = "SUP-12"'
    with pytest.raises(ValueError):
        jql.for_issue('SUP-1" OR key != "X', "a = 1")


def test_any_of_makes_one_query_and_an_empty_condition_matches_all():
    assert jql.any_of(["a = 1"]) == "a = 1"
    assert jql.any_of(["a = 1", "b = 2 OR c = 3"]) == "(a = 1) OR (b = 2 OR c = 3)"
    assert jql.any_of(["a = 1", ""]) == ""


def test_in_key_order_replaces_the_admins_order():
    assert jql.in_key_order("project = X ORDER BY created") == "(project = X) ORDER BY key ASC"
    assert jql.in_key_order("") == "ORDER BY key ASC"


@pytest.mark.parametrize(
    ("where", "projects"),
    [
        ("project = SUP", {"SUP"}),
        ("project = SUP AND labels = vip", {"SUP"}),
        ('labels = vip AND project in (SUP, "OPS")', {"SUP", "OPS"}),
        ("project in (SUP, OPS) AND project = OPS", {"OPS"}),
        ("project = SUP OR labels = vip", None),
        ("NOT project = SUP", None),
        ("project != SUP", None),
        ('project = "Support desk"', None),  # a name, not a key: the tracker decides
        ("project = 10000", None),  # an id
        ("labels = vip", None),
        ('summary ~ "project = SUP"', None),
    ],
)
def test_projects_required_only_when_certain(where, projects):
    found = jql.projects_required(where)
    assert (set(found) if found is not None else None) == projects
