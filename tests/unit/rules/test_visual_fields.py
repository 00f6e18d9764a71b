"""Visual mode, issue 18: the mapping document's new field kinds (components, versions, due
date, environment, resolution, people, parent, links, worklogs) are validated, mirrored and
compiled to the replica's issue-18 keys (outgoing) and to plan parts (incoming)."""

from __future__ import annotations

import pytest
from msgspec.structs import replace

from chalicelib.rules import mapping_document, visual
from chalicelib.rules.plan import LinkOp, ParentOp, PersonOp, WorklogOp
from chalicelib.rules.replica import validate
from chalicelib.trackers.base import Body, IssueLink, User, Worklog
from tests.factories import ALICE, BOT, issue
from tests.unit.rules.script_helpers import context, replica_of

KW = {"connection_id": "c1", "integration_user_id": BOT.id, "attachment_sha": {}}
BOB = User(id="acc-bob", name="Bob Jones", email="bob@example.com")
ALL_KINDS = (
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
FULL = replace(
    issue(),
    components=("UI", "Backend", "Legacy"),
    fix_versions=("1.0",),
    versions=("0.9", "0.8"),
    due_date="2026-12-24",
    environment=Body("wiki", "Linux, *Firefox*"),
    resolution="Fixed",
    assignee=BOB,
    reporter=ALICE,
    parent="ALPHA-0",
    links=(
        IssueLink("l1", "Blocks", "outward", "ALPHA-7"),
        IssueLink("l2", "Relates", "inward", "ALPHA-8"),
        IssueLink("l3", "Cloners", "outward", "ALPHA-9"),
    ),
    worklogs=(
        Worklog("w1", "2026-12-01T09:00:00.000+0000", 3600, author=ALICE, updated="u1"),
        Worklog(
            "w2",
            "2026-12-02T09:00:00.000+0000",
            1800,
            author=BOT,  # our copy of the other side's: never sent back
            comment=Body("wiki", "Logged by Carol on Acme"),
        ),
        Worklog(
            "w3",
            "2026-12-03T09:00:00.000+0000",
            600,
            author=BOB,
            comment=Body("wiki", "Reviewed"),
            updated="u3",
        ),
    ),
)


def block(direction, fields, *, side="local"):
    return {"side": side, "direction": direction, "fields": fields}


# --- the document -------------------------------------------------------------------------


def test_every_new_kind_is_accepted_both_ways():
    fields = [{"field": name} for name in ALL_KINDS]
    for direction in ("outgoing", "incoming"):
        parsed = mapping_document.parse([block(direction, fields)])
        assert [f.field for f in parsed[0].fields] == list(ALL_KINDS)


@pytest.mark.parametrize(
    ("item", "path", "words"),
    [
        ({"field": "components", "values": {"UI": 3}}, "values.UI", "maps a name"),
        ({"field": "fix_versions", "default": 1}, "default", "a name or null"),
        ({"field": "components", "create_missing": "yes"}, "create_missing", "true or false"),
        ({"field": "due_date", "create_missing": True}, "create_missing", "applies to"),
        ({"field": "due_date", "values": {"a": "b"}}, "values", "takes no value map"),
        ({"field": "assignee", "default": "someone"}, "default", "takes no default"),
        ({"field": "links", "default": "Relates"}, "default", "takes no default"),
        ({"field": "worklogs", "values": {"a": "b"}}, "values", "takes no value map"),
        ({"field": "parent", "colour": "red"}, "colour", "unknown key"),
        ({"field": "components", "on_conflict": "keep"}, "on_conflict", "every add and remove"),
        ({"field": "links", "on_conflict": "keep"}, "on_conflict", "applies to an incoming"),
        ({"field": "worklogs", "on_conflict": "keep"}, "on_conflict", "applies to an incoming"),
    ],
)
def test_invalid_kinds_name_the_culprit(item, path, words):
    with pytest.raises(mapping_document.MappingError, match=words) as caught:
        mapping_document.parse([block("incoming", [item])])
    assert caught.value.path == f"mappings[0].fields[0].{path}"


def test_create_missing_is_for_the_receiving_side():
    with pytest.raises(mapping_document.MappingError, match="incoming") as caught:
        mapping_document.parse(
            [block("outgoing", [{"field": "components", "create_missing": True}])]
        )
    assert caught.value.path == "mappings[0].fields[0].create_missing"
    # false says nothing and is accepted anywhere it could be true
    mapping_document.parse([block("outgoing", [{"field": "components", "create_missing": False}])])


@pytest.mark.parametrize(
    "name", ["due_date", "environment", "resolution", "assignee", "reporter", "parent"]
)
def test_registers_take_on_conflict_keep(name):
    document = [block("incoming", [{"field": name, "on_conflict": "keep"}], side="remote")]
    assert mapping_document.conflict_preferences(document) == {name: "remote"}
    assert mapping_document.conflict_preferences(mapping_document.mirror(document)) == {
        name: "local"
    }
    both = [*document, block("incoming", [{"field": name, "on_conflict": "keep"}])]
    with pytest.raises(mapping_document.MappingError, match="only one"):
        mapping_document.parse(both)


def test_normalize_and_mirror_keep_the_new_options():
    stored = [
        block(
            "incoming",
            [
                {"field": "components", "values": {"UI": "Frontend"}, "create_missing": True},
                {"field": "fix_versions", "default": None, "create_missing": False},
                {"field": "resolution", "values": {"Fixed": "Done"}, "default": "Done"},
                {"field": "links", "values": {"Blocks": "Depends"}},
                {"field": "worklogs"},
            ],
        )
    ]
    normal = mapping_document.normalize(stored)
    assert normal[0]["fields"] == [
        {"field": "components", "values": {"UI": "Frontend"}, "create_missing": True},
        {"field": "fix_versions", "default": None},
        {"field": "resolution", "values": {"Fixed": "Done"}, "default": "Done"},
        {"field": "links", "values": {"Blocks": "Depends"}},
        {"field": "worklogs"},
    ]
    mirrored = mapping_document.mirror(stored)
    assert mirrored[0]["side"] == "remote"
    assert mirrored[0]["fields"] == normal[0]["fields"]
    assert mapping_document.mirror(mirrored) == normal


# --- outgoing -----------------------------------------------------------------------------


def test_outgoing_without_the_kinds_sends_none_of_their_keys():
    replica = visual.outgoing_rule([block("outgoing", [{"field": "summary"}])])(FULL, **KW)
    assert not set(ALL_KINDS) & set(replica)


def test_outgoing_sends_every_listed_kind_in_replica_form():
    fields = [
        {"field": "components", "values": {"UI": "Frontend", "Legacy": None}},
        {"field": "fix_versions"},
        {"field": "affects_versions", "values": {"0.8": "0.9"}},
        {"field": "due_date"},
        {"field": "environment"},
        {"field": "resolution", "values": {"Fixed": "Done"}},
        {"field": "assignee"},
        {"field": "reporter"},
        {"field": "parent"},
        {"field": "links", "values": {"Blocks": "Depends", "Cloners": None}},
        {"field": "worklogs"},
    ]
    replica = visual.outgoing_rule([block("outgoing", fields)])(FULL, **KW)
    assert replica["components"] == ["Frontend", "Backend"]
    assert replica["fix_versions"] == ["1.0"]
    assert replica["affects_versions"] == ["0.9"]
    assert replica["due_date"] == "2026-12-24"
    assert replica["environment"] == {"format": "wiki", "value": "Linux, *Firefox*"}
    assert replica["resolution"] == {"name": "Done"}
    assert replica["assignee"] == {"id": "acc-bob", "name": "Bob Jones", "email": "bob@example.com"}
    assert replica["reporter"] == {"id": "acc-alice", "name": "Alice Smith", "email": None}
    assert replica["parent"] == {"key": "ALPHA-0"}
    assert replica["links"] == [
        {"type": "Depends", "direction": "outward", "key": "ALPHA-7"},
        {"type": "Relates", "direction": "inward", "key": "ALPHA-8"},
    ]
    assert [w["id"] for w in replica["worklogs"]] == ["w1", "w3"]  # not the bot's w2
    assert replica["worklogs"][1] == {
        "id": "w3",
        "started": "2026-12-03T09:00:00.000+0000",
        "seconds": 600,
        "comment": {"format": "wiki", "value": "Reviewed"},
        "author": {"id": "acc-bob", "name": "Bob Jones"},
        "updated": "u3",
    }
    validate({**replica, "id": "c1:ALPHA-1:1", "version": 1})  # protocol 1 accepts it


def test_outgoing_empty_values_are_null():
    bare = replace(issue(), resolution=None, assignee=None, parent=None, due_date=None)
    fields = [{"field": n} for n in ("due_date", "environment", "resolution", "assignee")]
    fields += [{"field": "parent"}, {"field": "links"}, {"field": "worklogs"}]
    replica = visual.outgoing_rule([block("outgoing", fields)])(bare, **KW)
    assert [replica[n] for n in ("due_date", "environment", "resolution", "assignee")] == [None] * 4
    assert (replica["parent"], replica["links"], replica["worklogs"]) == (None, [], [])


# --- incoming -----------------------------------------------------------------------------


def wire(**keys):
    """A replica from the other side carrying issue 18's keys."""
    replica = replica_of(issue())
    replica.update(keys)
    return replica


FROM_THEM = wire(
    components=["UI", "Backend", "Gone"],
    fix_versions=["1.0"],
    affects_versions=["0.9"],
    due_date="2026-12-24",
    environment={"format": "adf", "value": {"type": "doc", "version": 1, "content": []}},
    resolution={"name": "Fixed"},
    assignee={"id": "acc-bob", "name": "Bob Jones", "email": "bob@example.com"},
    reporter={"id": "acc-alice", "name": "Alice Smith", "email": None},
    parent={"key": "ALPHA-0"},
    links=[
        {"type": "Blocks", "direction": "outward", "key": "ALPHA-7"},
        {"type": "Relates", "direction": "inward", "key": "ALPHA-8"},
    ],
    worklogs=[
        {
            "id": "w1",
            "started": "2026-12-01T09:00:00.000+0000",
            "seconds": 3600,
            "comment": {"format": "wiki", "value": "Fixed the *fan*"},
            "author": {"id": "acc-alice", "name": "Alice Smith"},
            "updated": "u1",
        }
    ],
)
INCOMING = [
    block(
        "incoming",
        [
            {"field": "components", "values": {"UI": "Frontend", "Gone": None}},
            {"field": "fix_versions", "create_missing": True},
            {"field": "affects_versions", "default": "Unknown", "values": {"1.0": "1.0"}},
            {"field": "due_date"},
            {"field": "environment"},
            {"field": "resolution", "values": {"Fixed": "Done"}},
            {"field": "assignee"},
            {"field": "reporter"},
            {"field": "parent"},
            {"field": "links", "values": {"Blocks": "Depends"}},
            {"field": "worklogs"},
        ],
    )
]


def test_a_first_sync_plans_every_listed_kind():
    plan = visual.incoming_rule(INCOMING)(context(FROM_THEM, fmt="wiki"))
    fields = plan.fields
    assert fields.components == ("Frontend", "Backend")
    assert fields.fix_versions == ("1.0",)
    assert fields.versions == ("Unknown",)  # not in the map: the default
    assert fields.due_date == "2026-12-24"
    assert fields.environment is not None and fields.environment.format == "wiki"
    assert fields.resolution == "Done"
    assert plan.create_missing == frozenset({"fix_versions"})
    assert plan.people == (
        PersonOp("assignee", FROM_THEM["assignee"]),
        PersonOp("reporter", FROM_THEM["reporter"]),
    )
    assert plan.parent == ParentOp("ALPHA-0")
    assert plan.links == (
        LinkOp("add", "Depends", "outward", "ALPHA-7"),
        LinkOp("add", "Relates", "inward", "ALPHA-8"),
    )
    [op] = plan.worklogs
    assert (op.action, op.remote_id, op.started, op.seconds) == (
        "create",
        "w1",
        "2026-12-01T09:00:00.000+0000",
        3600,
    )
    assert op.comment == Body("wiki", "_Logged by Alice Smith on Acme_\n\nFixed the *fan*")
    assert op.hash
    assert "worklog:create:w1" in plan.changes() and "parent" in plan.changes()


def test_a_block_without_the_kinds_plans_none_of_them():
    plan = visual.incoming_rule([block("incoming", [{"field": "summary"}])])(context(FROM_THEM))
    assert (plan.people, plan.parent, plan.links, plan.worklogs) == ((), None, (), ())
    assert plan.create_missing == frozenset()
    assert (plan.fields.components, plan.fields.due_date, plan.fields.resolution) == (
        None,
        None,
        None,
    )


def test_a_replica_without_the_keys_changes_nothing_of_them():
    """Absent = the other side does not sync it: nothing cleared, no worklog deleted."""
    bare = replica_of(issue())
    ctx = replace(
        context(bare, first_sync=False, previous=bare),
        worklog_map={"w1": {"local_id": "9", "hash": "h"}},
    )
    plan = visual.incoming_rule(INCOMING)(ctx)
    assert plan.fields is None
    assert (plan.people, plan.parent, plan.links, plan.worklogs) == ((), None, (), ())


def test_later_only_what_changed_and_empty_values_clear():
    later = wire(
        **{
            **{k: FROM_THEM[k] for k in ALL_KINDS},
            "components": [],
            "due_date": None,
            "environment": None,
            "resolution": None,
            "assignee": None,
            "parent": None,
        }
    )
    plan = visual.incoming_rule(INCOMING)(
        context(later, first_sync=False, previous=FROM_THEM, fmt="adf")
    )
    fields = plan.fields
    assert fields.components == ()
    assert fields.due_date == ""
    assert fields.environment == Body("adf", None)
    assert fields.resolution == ""
    assert (fields.fix_versions, fields.versions) == (None, None)  # unchanged
    assert plan.people == (PersonOp("assignee", None),)  # the reporter did not change
    assert plan.parent == ParentOp(None)  # the parent went away


def test_a_first_sync_without_a_parent_or_resolution_leaves_them():
    plan = visual.incoming_rule(INCOMING)(
        context(wire(parent=None, resolution=None, due_date=None))
    )
    assert plan.parent is None
    assert plan.fields is None  # nothing to write: no resolution, no due date


def test_a_resolution_mapped_to_null_is_left_as_it_is():
    document = [block("incoming", [{"field": "resolution", "values": {"Duplicate": None}}])]
    plan = visual.incoming_rule(document)(
        context(wire(resolution={"name": "Duplicate"}), first_sync=False, previous=FROM_THEM)
    )
    assert plan.fields is None


def test_links_the_other_side_removed_are_removed():
    before = wire(
        links=[
            {"type": "Blocks", "direction": "outward", "key": "ALPHA-7"},
            {"type": "Relates", "direction": "inward", "key": "ALPHA-8"},
            {"type": "Cloners", "direction": "outward", "key": "ALPHA-9"},
        ]
    )
    now = wire(links=[{"type": "Relates", "direction": "inward", "key": "ALPHA-8"}])
    document = [block("incoming", [{"field": "links", "values": {"Blocks": "Depends"}}])]
    plan = visual.incoming_rule(document)(context(now, first_sync=False, previous=before))
    assert plan.links == (
        LinkOp("add", "Relates", "inward", "ALPHA-8"),  # every link, again: added once
        LinkOp("remove", "Depends", "outward", "ALPHA-7"),  # mapped like when it was added
        LinkOp("remove", "Cloners", "outward", "ALPHA-9"),
    )


def test_a_link_type_mapped_to_null_is_not_synced():
    document = [block("incoming", [{"field": "links", "values": {"Blocks": None}}])]
    plan = visual.incoming_rule(document)(context(FROM_THEM))
    assert plan.links == (LinkOp("add", "Relates", "inward", "ALPHA-8"),)


def test_worklogs_are_created_updated_and_deleted_against_the_map():
    document = [block("incoming", [{"field": "worklogs"}])]
    rule = visual.incoming_rule(document)
    [created] = rule(context(FROM_THEM)).worklogs
    unchanged = {"w1": {"local_id": "501", "hash": created.hash}}
    same = replace(context(FROM_THEM, first_sync=False, previous=FROM_THEM), worklog_map=unchanged)
    assert rule(same).worklogs == ()

    edited = wire(worklogs=[{**FROM_THEM["worklogs"][0], "seconds": 7200}])
    ctx = replace(
        context(edited, first_sync=False, previous=FROM_THEM),
        worklog_map={**unchanged, "w0": {"local_id": "500", "hash": "old"}},
    )
    update, delete = rule(ctx).worklogs
    assert (update.action, update.remote_id, update.local_id, update.seconds) == (
        "update",
        "w1",
        "501",
        7200,
    )
    assert update.hash != created.hash
    assert delete == WorklogOp("delete", "w0", local_id="500")


def test_worklog_attribution_in_adf_and_without_a_comment():
    worklog = {**FROM_THEM["worklogs"][0], "comment": None, "author": None}
    document = [block("incoming", [{"field": "worklogs"}])]
    [op] = visual.incoming_rule(document)(context(wire(worklogs=[worklog]), fmt="adf")).worklogs
    assert op.comment.format == "adf"
    assert op.comment.value["content"][0]["content"][0]["text"] == "Logged by someone on Acme"
    [op] = visual.incoming_rule(document)(context(wire(worklogs=[worklog]), fmt="text")).worklogs
    assert op.comment == Body("text", "Logged by someone on Acme")


def test_round_trip_outgoing_to_incoming():
    """What one end's outgoing block sends, the other end's incoming block plans."""
    fields = [{"field": name} for name in ALL_KINDS]
    sent = visual.outgoing_rule([block("outgoing", fields)])(FULL, **KW)
    sent = {**sent, "id": "c1:ALPHA-1:1", "version": 1}
    plan = visual.incoming_rule([block("incoming", fields)])(context(sent))
    assert plan.fields.components == ("UI", "Backend", "Legacy")
    assert plan.fields.versions == ("0.9", "0.8")
    assert plan.parent == ParentOp("ALPHA-0")
    assert [op.remote_id for op in plan.worklogs] == ["w1", "w3"]
    assert len(plan.links) == 3
