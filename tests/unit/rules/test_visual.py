"""Visual mode: mappings are data, checked when saved and compiled to rules that sync what
they say (scope filters, value maps with defaults, per-direction sync methods)."""

from __future__ import annotations

import pytest
from msgspec.structs import replace

from chalicelib.rules import basic, mapping_document, visual
from chalicelib.rules.skip import SkipSync
from chalicelib.trackers.base import Attachment
from tests.factories import ALICE, BOT, comment, issue, project
from tests.unit.rules.script_helpers import context, replica_of

KW = {"connection_id": "c1", "integration_user_id": BOT.id, "attachment_sha": {}}
SUPPORT = project("SUP", types=("Problem", "Task", "Incident"), default="Incident")
SMALL = Attachment(id="7", filename="log.txt", size=12, mime_type="text/plain", author=ALICE)
BIG = Attachment(id="8", filename="dump.bin", size=50_000_000, mime_type="x/y", author=ALICE)
RICH = replace(
    issue(comments=(comment("1", "public"), replace(comment("2", "internal"), public=False))),
    labels=("customer", "urgent"),
    priority="High",
    status="Open",
    fields={"customfield_10050": "ACME Corp"},
    attachments=(SMALL, BIG),
)


def block(direction, *, side="local", sync="automatic", scope=None, fields=None):
    data = {"side": side, "direction": direction, "sync": sync, "scope": scope or {}}
    if fields is not None:
        data["fields"] = fields
    return data


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ({"direction": "outgoing"}, "mappings"),
        ([block("sideways")], "mappings[0].direction"),
        ([block("outgoing", sync="sometimes")], "mappings[0].sync"),
        ([block("outgoing", side="middle")], "mappings[0].side"),
        ([block("outgoing", scope={"colour": ["red"]})], "mappings[0].scope.colour"),
        ([block("outgoing", scope={"labels": "red"})], "mappings[0].scope.labels"),
        ([block("outgoing", fields=[{"field": "watchers"}])], "mappings[0].fields[0].field"),
        (
            [block("outgoing", fields=[{"field": "custom", "local": "x"}])],
            "mappings[0].fields[0].remote",
        ),
        (
            [block("outgoing", fields=[{"field": "labels", "values": {"a": 1}}])],
            "mappings[0].fields[0].values.a",
        ),
        (
            [block("outgoing", fields=[{"field": "summary", "colour": 1}])],
            "mappings[0].fields[0].colour",
        ),
        (
            [block("outgoing", fields=[{"field": "attachments", "max_size": -1}])],
            "mappings[0].fields[0].max_size",
        ),
        (
            [block("outgoing", fields=[{"field": "summary"}, {"field": "summary"}])],
            "mappings[0].fields",
        ),
        ([block("outgoing"), block("outgoing")], "mappings[1]"),
        (
            [block("incoming", fields=[{"field": "summary", "on_conflict": "mine"}])],
            "mappings[0].fields[0].on_conflict",
        ),
        (
            [block("incoming", fields=[{"field": "labels", "on_conflict": "keep"}])],
            "mappings[0].fields[0].on_conflict",
        ),
        (
            [block("outgoing", fields=[{"field": "summary", "on_conflict": "keep"}])],
            "mappings[0].fields[0].on_conflict",
        ),
        (
            [
                block("incoming", fields=[{"field": "summary", "on_conflict": "keep"}]),
                block(
                    "incoming", side="remote", fields=[{"field": "summary", "on_conflict": "keep"}]
                ),
            ],
            "mappings",
        ),
    ],
)
def test_invalid_documents_name_the_culprit(document, path):
    with pytest.raises(mapping_document.MappingError) as caught:
        mapping_document.parse(document)
    assert caught.value.path == path


def test_normalize_writes_defaults_out_and_mirror_swaps_sides():
    document = [
        block("outgoing", fields=[{"field": "issue_type", "values": {"Bug": "Problem"}}]),
        block("incoming", side="remote", scope={"labels": ["x"]}),
    ]
    stored = mapping_document.normalize(document)
    assert stored[0]["fields"] == [{"field": "issue_type", "values": {"Bug": "Problem"}}]
    assert [f["field"] for f in stored[1]["fields"]] == [
        "summary",
        "description",
        "issue_type",
        "comments",
        "attachments",
    ]
    mirrored = mapping_document.mirror(stored)
    assert [b["side"] for b in mirrored] == ["remote", "local"]
    assert mapping_document.mirror(mirrored) == stored
    assert mapping_document.normalize(stored) == stored


def test_on_conflict_keep_names_the_side_both_ends_agree_on():
    document = [
        block("incoming", fields=[{"field": "summary", "on_conflict": "keep"}]),
        block(
            "incoming",
            side="remote",
            fields=[{"field": "custom", "local": "A", "remote": "B", "on_conflict": "keep"}],
        ),
    ]
    stored = mapping_document.normalize(document)
    assert stored[0]["fields"] == [{"field": "summary", "on_conflict": "keep"}]
    assert mapping_document.conflict_preferences(stored) == {"summary": "local", "fields": "remote"}
    assert mapping_document.conflict_preferences(mapping_document.mirror(stored)) == {
        "summary": "remote",
        "fields": "local",
    }
    assert mapping_document.conflict_preferences([block("incoming")]) == {}


def test_sync_methods_per_direction():
    document = [block("outgoing", sync="manual"), block("incoming", sync="disabled")]
    assert mapping_document.sync_method(document, "outgoing") == "manual"
    assert mapping_document.sync_method(document, "incoming") == "disabled"
    assert mapping_document.sync_method([], "outgoing") == "automatic"


# --- outgoing -----------------------------------------------------------------------------


def test_without_blocks_it_syncs_like_basic():
    replica = visual.outgoing_rule([])(issue(comments=(comment("1", "x"),)), **KW)
    expected = basic.outgoing(issue(comments=(comment("1", "x"),)), **KW)
    for name in ("summary", "description", "type", "comments", "attachments", "fields"):
        assert replica[name] == expected[name]
    ctx = context(replica_of(issue(comments=(comment("1", "x"),))))
    assert visual.incoming_rule([])(ctx) == basic.incoming(ctx)


def test_outgoing_sends_the_listed_fields_mapped():
    rule = visual.outgoing_rule(
        [
            block(
                "outgoing",
                fields=[
                    {"field": "summary"},
                    {"field": "issue_type", "values": {"Bug": "Problem"}, "default": "Task"},
                    {"field": "labels", "values": {"customer": "external", "urgent": None}},
                    {"field": "priority", "values": {"High": "P1"}},
                    {"field": "comments", "only_public": True},
                    {"field": "attachments", "max_size": 1_000_000},
                    {"field": "custom", "local": "customfield_10050", "remote": "Customer"},
                ],
            )
        ]
    )
    replica = rule(RICH, **KW)
    assert replica["summary"] == "Printer on fire"
    assert replica["description"] is None  # not listed
    assert replica["type"] == {"name": "Problem"}
    assert replica["labels"] == ["external"]
    assert replica["priority"] == {"name": "P1"} and replica["status"] == {"name": "Open"}
    assert [c["id"] for c in replica["comments"]] == ["1"]
    assert [a["id"] for a in replica["attachments"]] == ["7"]
    assert replica["fields"] == {"Customer": "ACME Corp"}
    task = rule(replace(RICH, issue_type="Story"), **KW)
    assert task["type"] == {"name": "Task"}  # the default for what the map does not name


def test_outgoing_scope_or_within_a_filter_and_across_filters():
    rule = visual.outgoing_rule(
        [
            block(
                "outgoing",
                scope={"issue_types": ["Bug", "Incident"], "labels": ["customer", "vip"]},
            )
        ]
    )
    assert rule(RICH, **KW)["summary"] == "Printer on fire"  # Bug and customer
    with pytest.raises(SkipSync, match="labels"):
        rule(replace(RICH, labels=("internal",)), **KW)
    with pytest.raises(SkipSync, match="issue_types"):
        rule(replace(RICH, issue_type="Task"), **KW)
    rule_by_priority = visual.outgoing_rule(
        [block("outgoing", scope={"priorities": ["high"], "statuses": ["Open", "In Progress"]})]
    )
    assert rule_by_priority(RICH, **KW)  # case does not matter
    with pytest.raises(SkipSync):
        rule_by_priority(replace(RICH, status="Done"), **KW)


def test_a_disabled_direction_sends_nothing():
    with pytest.raises(SkipSync, match="disabled"):
        visual.outgoing_rule([block("outgoing", sync="disabled")])(RICH, **KW)


# --- incoming -----------------------------------------------------------------------------


def rich_replica(**changes):
    replica = replica_of(issue(comments=(comment("1", "hello"),), attachments=(SMALL, BIG)))
    replica.update(
        {
            "labels": ["customer", "internal-only"],
            "priority": {"name": "High"},
            "status": {"name": "Open"},
            "fields": {"Customer": "ACME Corp"},
            **changes,
        }
    )
    return replica


INCOMING = [
    block(
        "incoming",
        fields=[
            {"field": "summary"},
            {"field": "issue_type", "values": {"Bug": "Problem"}, "default": "Task"},
            {"field": "labels", "values": {"internal-only": None}},
            {"field": "priority", "values": {"High": "Highest"}},
            {"field": "comments", "public": False},
            {"field": "attachments", "max_size": 1_000_000},
            {"field": "custom", "remote": "Customer", "local": "customfield_10070"},
        ],
    )
]


def test_incoming_writes_the_listed_fields_mapped():
    plan = visual.incoming_rule(INCOMING)(context(rich_replica(), proj=SUPPORT))
    fields = plan.fields
    assert fields.summary == "Printer on fire"
    assert fields.description is None  # not listed
    assert fields.issue_type == "Problem"
    assert fields.labels == ("customer",)
    assert fields.priority == "Highest"
    assert fields.custom == {"customfield_10070": "ACME Corp"}
    assert [(op.action, op.public) for op in plan.comments] == [("create", False)]
    assert [op.remote_id for op in plan.attachments] == ["7"]


def test_a_value_the_map_does_not_name_takes_the_default_then_the_project_decides():
    story = rich_replica(type={"name": "Story"})
    assert visual.incoming_rule(INCOMING)(context(story, proj=SUPPORT)).fields.issue_type == "Task"
    no_task = project("SUP", types=("Problem", "Incident"), default="Incident")
    assert visual.incoming_rule(INCOMING)(context(story, proj=no_task)).fields.issue_type == (
        "Incident"
    )


def test_incoming_writes_only_what_changed_since_the_last_replica():
    first = rich_replica()
    later = rich_replica(labels=["customer", "vip"])
    plan = visual.incoming_rule(INCOMING)(
        context(
            later,
            first_sync=False,
            previous=first,
            proj=SUPPORT,
            comment_map={"1": {"local_id": "l1", "hash": "x"}},
            attachment_map={"7": "l7"},
        )
    )
    assert plan.fields.labels == ("customer", "vip")
    assert (plan.fields.summary, plan.fields.issue_type, plan.fields.custom) == (None, None, {})


def test_incoming_scope_and_disabled():
    scoped = [block("incoming", scope={"issue_types": ["Incident"]})]
    with pytest.raises(SkipSync, match="incoming scope"):
        visual.incoming_rule(scoped)(context(rich_replica()))
    with pytest.raises(SkipSync, match="disabled"):
        visual.incoming_rule([block("incoming", sync="disabled")])(context(rich_replica()))


def test_only_this_sides_blocks_run():
    document = [block("incoming", side="remote", sync="disabled")]
    plan = visual.incoming_rule(document)(context(rich_replica()))
    assert plan.fields.summary == "Printer on fire"
