"""The Visual block editor offers issue 18's field kinds (components, versions, due date,
environment, resolution, people, parent, links, worklogs) with their options — value map
rows, default, "create names this project lacks" — each input labelled; what is saved is
the mapping document both nodes hold. Over Chalice's test client (no browser)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories.cluster import three_nodes
from tests.functional.test_console import text, unlabelled
from tests.functional.test_console_rules import block_form, signed_in, stored, textarea

NEW_KINDS = (
    "components",
    "fix_versions",
    "affects_versions",
    "due_date",
    "environment",
    "resolution",
    "assignee",
    "reporter",
    "parent",
    "links",
    "worklogs",
)


@pytest.fixture
def cluster(aws, monkeypatch):
    with three_nodes(aws, monkeypatch) as nodes:
        yield nodes


def rows(first: int, fields: dict[str, dict[str, str]]) -> dict[str, str]:
    """Form rows ``f{first}_…`` on, one per field, as the editor posts them."""
    form: dict[str, str] = {}
    for i, (name, options) in enumerate(fields.items(), start=first):
        form[f"f{i}_field"] = name
        form.update({f"f{i}_{k}": v for k, v in options.items()})
    return form


def editor_path(cid: str, side: str, direction: str) -> str:
    return f"/console/connections/{cid}/rules/mappings/{side}/{direction}"


def test_every_new_kind_is_offered_and_saved_with_its_options(cluster):
    visitor, cid = signed_in(cluster, "visual")
    page = text(visitor.get(editor_path(cid, "local", "incoming")))
    for name in NEW_KINDS:
        assert f'<option value="{name}">' in page, name
    assert 'id="new_create_missing"' in page and not unlabelled(page)

    form = block_form(visitor, cid, "local", "incoming")
    form.update({"enabled": "on"})
    form.update(
        rows(
            5,
            {
                "components": {
                    "values": "UI = Frontend\r\nLegacy =",
                    "other": "keep",
                    "create_missing": "on",
                },
                "fix_versions": {"other": "drop"},
                "affects_versions": {"other": "default", "default": "Unknown"},
                "due_date": {"on_conflict": "keep"},
                "environment": {},
                "resolution": {"values": "Fixed = Done", "other": "default", "default": "Done"},
                "assignee": {"on_conflict": "keep"},
                "reporter": {},
                "parent": {},
                "links": {"values": "Blocks = Depends\r\nCloners ="},
                "worklogs": {},
            },
        )
    )
    saved = visitor.post(editor_path(cid, "local", "incoming"), form)
    assert saved.status_code == 303, text(saved)[:3000]
    (block,) = stored(cluster, cid)["mappings"]
    assert block["fields"][5:] == [
        {
            "field": "components",
            "values": {"UI": "Frontend", "Legacy": None},
            "create_missing": True,
        },
        {"field": "fix_versions", "default": None},
        {"field": "affects_versions", "default": "Unknown"},
        {"field": "due_date", "on_conflict": "keep"},
        {"field": "environment"},
        {"field": "resolution", "values": {"Fixed": "Done"}, "default": "Done"},
        {"field": "assignee", "on_conflict": "keep"},
        {"field": "reporter"},
        {"field": "parent"},
        {"field": "links", "values": {"Blocks": "Depends", "Cloners": None}},
        {"field": "worklogs"},
    ]
    (theirs,) = stored(cluster, cid, "node-b")["mappings"]
    assert theirs["side"] == "remote" and theirs["fields"] == block["fields"]

    # shown again, each with its options, every input labelled
    editor = text(visitor.get(editor_path(cid, "local", "incoming")))
    assert not unlabelled(editor)
    for name in NEW_KINDS:
        assert f'data-mapping-row="{name}"' in editor, name
    assert textarea(editor, "f5_values") == "UI = Frontend\nLegacy ="
    assert 'id="f5_create_missing" name="f5_create_missing" checked' in editor
    assert 'id="f6_create_missing" name="f6_create_missing">' in editor  # unticked
    assert 'id="f8_create_missing"' not in editor  # due date: nothing to create
    assert textarea(editor, "f14_values") == "Blocks = Depends\nCloners ="
    assert 'id="f14_other"' not in editor and 'id="f14_default"' not in editor  # links
    assert 'id="f15_values"' not in editor  # worklogs: as they are
    for i in (8, 9, 10, 11, 12, 13):  # registers: a conflict rule
        assert f'id="f{i}_on_conflict"' in editor, i
    for i in (5, 14, 15):  # sets and items: none
        assert f'id="f{i}_on_conflict"' not in editor, i

    again = block_form(visitor, cid, "local", "incoming")
    assert again["f5_create_missing"] == "on" and again["f7_default"] == "Unknown"
    again.pop("f5_create_missing")  # untick it, nothing else
    assert visitor.post(editor_path(cid, "local", "incoming"), again).status_code == 303
    (block,) = stored(cluster, cid)["mappings"]
    assert block["fields"][5] == {
        "field": "components",
        "values": {"UI": "Frontend", "Legacy": None},
    }
    assert block["fields"][6:] == [
        {"field": "fix_versions", "default": None},
        {"field": "affects_versions", "default": "Unknown"},
        *block["fields"][8:],
    ]

    summary = text(visitor.get(f"/console/connections/{cid}/rules"))
    assert "Blocks \u2192 Depends, Cloners \u2192 (dropped)" in summary
    assert "Due date" in summary and "Worklogs" in summary


def test_a_new_mapping_added_with_create_missing(cluster):
    visitor, cid = signed_in(cluster, "visual")
    form = block_form(visitor, cid, "local", "incoming")
    form.update(
        {
            "enabled": "on",
            "new_field": "fix_versions",
            "new_values": "1.0 = 2026.1",
            "new_create_missing": "on",
        }
    )
    assert visitor.post(editor_path(cid, "local", "incoming"), form).status_code == 303
    (block,) = stored(cluster, cid)["mappings"]
    assert block["fields"][-1] == {
        "field": "fix_versions",
        "values": {"1.0": "2026.1"},
        "create_missing": True,
    }
    summary = text(visitor.get(f"/console/connections/{cid}/rules"))
    assert "1.0 \u2192 2026.1; names missing here are created" in summary


def test_the_outgoing_editor_offers_the_kinds_without_create_missing(cluster):
    visitor, cid = signed_in(cluster, "visual")
    page = text(visitor.get(editor_path(cid, "local", "outgoing")))
    assert '<option value="worklogs">' in page and 'id="new_create_missing"' not in page
    form = block_form(visitor, cid, "local", "outgoing")
    form.update(
        {
            "enabled": "on",
            "new_field": "links",
            "new_values": "Blocks = Depends",
            "new_create_missing": "on",  # not shown outgoing: not taken
        }
    )
    form.update(rows(5, {"worklogs": {}, "assignee": {"on_conflict": "keep"}}))
    assert visitor.post(editor_path(cid, "local", "outgoing"), form).status_code == 303
    (block,) = stored(cluster, cid)["mappings"]
    assert block["fields"][5:] == [
        {"field": "worklogs"},
        {"field": "assignee"},  # outgoing: no conflict rule
        {"field": "links", "values": {"Blocks": "Depends"}},
    ]


def test_refusals_name_the_new_kind_in_words(cluster):
    visitor, cid = signed_in(cluster, "visual")
    form = block_form(visitor, cid, "local", "incoming")
    form.update({"enabled": "on", **rows(5, {"resolution": {"other": "default", "default": ""}})})
    refused = visitor.post(editor_path(cid, "local", "incoming"), form)
    assert refused.status_code == 400
    assert "Check \u201cResolution\u201d: write the default value" in text(refused)

    form.update(rows(5, {"assignee": {"on_conflict": "keep"}}))
    assert visitor.post(editor_path(cid, "local", "incoming"), form).status_code == 303
    theirs: dict[str, Any] = block_form(visitor, cid, "remote", "incoming")
    theirs.update({"enabled": "on", **rows(5, {"assignee": {"on_conflict": "keep"}})})
    refused = visitor.post(editor_path(cid, "remote", "incoming"), theirs)
    assert refused.status_code == 400
    assert "both sides keep assignee on a conflict" in text(refused)
    assert len(stored(cluster, cid)["mappings"]) == 1
