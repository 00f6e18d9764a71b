"""Both adapters against both sandbox flavours: issue 18's operations (links, hierarchy,
worklogs, components and versions, users), over real HTTP."""

from __future__ import annotations

from typing import Any, cast

import pytest

from chalicelib.trackers.base import IssueFields, IssueLink, NotFound, TrackerRelations
from tests.contract.conftest import PROJECT, Jira


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
