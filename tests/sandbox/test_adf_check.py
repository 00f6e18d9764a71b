"""The sandbox checks Cloud v3 bodies as Cloud does (issue 14 item 3).

A description, environment or comment body sent to REST v3 of a Cloud site must be a
``doc`` of version 1 with block nodes at its top level, known node types where they may
be, text that is not empty, known marks, and media the site has; otherwise Cloud answers
``400 {"errorMessages": ["INVALID_INPUT"], "errors": {}}``. Node types and nesting come
from Atlassian's full ADF schema, and every real sample in the shared data is accepted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from devstack.sandbox_jira import adf_check
from tests.sandbox.conftest import Env, adf
from tests.shared_data import JIRA_DATA, jira_data

INVALID_INPUT = {"errorMessages": ["INVALID_INPUT"], "errors": {}}


def doc(*content: Any, version: Any = 1) -> dict[str, Any]:
    return {"type": "doc", "version": version, "content": list(content)}


def para(*content: Any) -> dict[str, Any]:
    return {"type": "paragraph", "content": list(content)}


def text(value: str, *marks: str) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": value}
    if marks:
        node["marks"] = [{"type": m} for m in marks]
    return node


def media_single(media_id: str) -> dict[str, Any]:
    media = {"type": "media", "attrs": {"type": "file", "id": media_id, "collection": ""}}
    return {"type": "mediaSingle", "attrs": {"layout": "center"}, "content": [media]}


# --- the table against the schema, and the real samples -----------------------------------


def _schema() -> dict[str, Any]:
    return json.loads(jira_data("adf", "adf-schema-full-v1.json").read_text())


def _types(defs: dict[str, Any], fragment: dict[str, Any], seen: frozenset[str]) -> set[str]:
    """The node or mark type names a schema fragment admits."""
    if "$ref" in fragment:
        name = fragment["$ref"].rsplit("/", 1)[-1]
        return set() if name in seen else _types(defs, defs[name], seen | {name})
    found: set[str] = set()
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in fragment.get(key, []):
            found |= _types(defs, sub, seen)
    found |= set(fragment.get("properties", {}).get("type", {}).get("enum", []))
    return found


def _children(defs: dict[str, Any], fragment: dict[str, Any], seen: frozenset[str]) -> set[str]:
    if "$ref" in fragment:
        name = fragment["$ref"].rsplit("/", 1)[-1]
        return set() if name in seen else _children(defs, defs[name], seen | {name})
    found: set[str] = set()
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in fragment.get(key, []):
            found |= _children(defs, sub, seen)
    content = fragment.get("properties", {}).get("content")
    if content and "$ref" in content:
        content = defs[content["$ref"].rsplit("/", 1)[-1]]
    items = (content or {}).get("items") or []
    for item in items if isinstance(items, list) else [items]:
        found |= _types(defs, item, frozenset())
    return found


def schema_nesting() -> tuple[dict[str, set[str]], set[str]]:
    """(node type -> the child types the schema allows, the mark types it knows)."""
    defs = _schema()["definitions"]
    nesting: dict[str, set[str]] = {}
    marks: set[str] = set()
    for name, fragment in defs.items():
        if name.endswith("_mark"):
            marks |= _types(defs, fragment, frozenset())
        elif name.endswith("_node"):
            kinds = _types(defs, fragment, frozenset())
            if len(kinds) == 1:  # not a union such as inline_node
                nesting.setdefault(kinds.pop(), set()).update(
                    _children(defs, fragment, frozenset())
                )
    return nesting, marks


def test_node_types_and_nesting_are_the_schemas_widened_only_where_real_adf_goes_beyond():
    nesting, marks = schema_nesting()
    assert set(adf_check.CHILDREN) == set(nesting)
    for kind, children in nesting.items():
        assert children <= adf_check.CHILDREN[kind], kind  # everything the schema allows
        beyond = adf_check.CHILDREN[kind] - children
        assert beyond == adf_check.BEYOND_SCHEMA.get(kind, frozenset()) - children, kind
    assert marks <= adf_check.MARKS
    assert adf_check.MARKS - marks == {"backgroundColor"}


def real_docs() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every ADF document in the shared Jira data (samples, REST answers, OpenAPI examples)."""
    jira_data("adf", "samples")  # skips when the shared data is absent

    def walk(node: Any) -> Iterator[dict[str, Any]]:
        if isinstance(node, dict):
            if node.get("type") == "doc":
                yield node
                return
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    for path in sorted(JIRA_DATA.rglob("*.json")):
        if path.name == "adf-schema-full-v1.json":
            continue
        for i, found in enumerate(walk(json.loads(path.read_text()))):
            yield f"{path.relative_to(JIRA_DATA)}#{i}", found


def test_every_real_sample_is_accepted():
    docs = list(real_docs())
    assert len(docs) >= 30
    refused = {name: adf_check.problem(d, lambda _: True) for name, d in docs}
    assert {n: p for n, p in refused.items() if p} == {}


def _has_media(node: Any) -> bool:
    return '"type": "media"' in json.dumps(node)


def test_real_samples_without_media_are_stored_as_comments_and_descriptions(cloud: Env):
    key = cloud.bot.create_issue()["key"]
    samples = [(n, d) for n, d in real_docs() if not _has_media(d) and d.get("content")]
    assert samples
    for name, sample in samples:
        answer = cloud.bot.post(f"issue/{key}/comment", json={"body": sample})
        assert answer.status_code == 201, (name, answer.text)
        edit = cloud.bot.put(f"issue/{key}", json={"fields": {"description": sample}})
        assert edit.status_code == 204, (name, edit.text)


# --- a refusal per rule -------------------------------------------------------------------

REFUSED = {
    "no version": {"type": "doc", "content": [para(text("x"))]},
    "version 2": doc(para(text("x")), version=2),
    "content not a list": {"type": "doc", "version": 1, "content": {"type": "paragraph"}},
    "text at the top level": doc(text("x")),
    "an inline node at the top level": doc({"type": "hardBreak"}),
    "unknown node type": doc({"type": "marquee", "content": [text("x")]}),
    "paragraph in a paragraph": doc(para(para(text("x")))),
    "list item outside a list": doc({"type": "listItem", "content": [para(text("x"))]}),
    "table cell straight in a table": doc(
        {"type": "table", "content": [{"type": "tableCell", "content": [para(text("x"))]}]}
    ),
    "not a node": doc(para("just a string")),
    "empty text": doc(para(text(""))),
    "unknown mark": doc(para(text("x", "blink"))),
    "media that does not exist": doc(media_single("no-such-media")),
    "media without an id": doc(
        {"type": "mediaGroup", "content": [{"type": "media", "attrs": {"type": "file"}}]}
    ),
    "external media without a url": doc(
        {"type": "mediaGroup", "content": [{"type": "media", "attrs": {"type": "external"}}]}
    ),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_an_invalid_body_is_refused_as_cloud_refuses_it(cloud: Env, name: str):
    bad = REFUSED[name]
    assert adf_check.problem(bad, lambda _: False) is not None
    key = cloud.bot.create_issue()["key"]
    comment = cloud.bot.comment(key, "fine")
    answers = {
        "create description": cloud.bot.post(
            "issue",
            json={
                "fields": {
                    "project": {"key": "ABC"},
                    "issuetype": {"name": "Task"},
                    "summary": "s",
                    "description": bad,
                }
            },
        ),
        "edit environment": cloud.bot.put(f"issue/{key}", json={"fields": {"environment": bad}}),
        "update description": cloud.bot.put(
            f"issue/{key}", json={"update": {"description": [{"set": bad}]}}
        ),
        "transition": cloud.bot.post(
            f"issue/{key}/transitions",
            json={"transition": {"id": "11"}, "fields": {"description": bad}},
        ),
        "add comment": cloud.bot.post(f"issue/{key}/comment", json={"body": bad}),
        "edit comment": cloud.bot.put(f"issue/{key}/comment/{comment['id']}", json={"body": bad}),
    }
    for what, answer in answers.items():
        assert (answer.status_code, answer.json()) == (400, INVALID_INPUT), what
    # nothing changed
    issue = cloud.bot.get(f"issue/{key}").json()
    assert issue["fields"]["status"]["name"] == "To Do"
    assert [c["body"] for c in issue["fields"]["comment"]["comments"]] == [adf("fine")]


def test_media_of_an_attachment_on_the_site_is_accepted(cloud: Env):
    key = cloud.bot.create_issue()["key"]
    (attached,) = cloud.bot.attach(key, "shot.png", b"\x89PNG").json()
    body = doc(para(text("see")), media_single(str(attached["id"])))
    answer = cloud.bot.post(f"issue/{key}/comment", json={"body": body})
    assert answer.status_code == 201, answer.text
    # and sent back as Jira stored it (the media is now in a document of the site)
    edited = cloud.bot.put(f"issue/{key}", json={"fields": {"description": body}})
    assert edited.status_code == 204, edited.text


def test_rest_v2_and_server_bodies_are_not_adf_checked(cloud: Env, server: Env):
    key = cloud.bot.create_issue()["key"]
    v2 = cloud.bot.session.post(
        f"{cloud.site.url}/rest/api/2/issue/{key}/comment", json={"body": "plain *text*"}
    )
    assert v2.status_code == 201, v2.text
    server_key = server.bot.create_issue()["key"]
    assert server.bot.comment(server_key, "h1. wiki")["body"] == "h1. wiki"
