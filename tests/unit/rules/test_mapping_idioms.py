"""Status by transition, custom fields by name and the Visual sync methods, in the rules
(pure: plans and decisions, no tracker)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from msgspec.structs import replace

from chalicelib.rules import mapping_document, visual
from chalicelib.rules.plan import Plan
from chalicelib.rules.script import rules as script
from chalicelib.rules.script.errors import ScriptError
from chalicelib.rules.skip import SkipSync
from chalicelib.trackers.base import IssueFields
from tests.factories import BOT, issue
from tests.unit.rules.script_helpers import InProcessRunner, context, replica_of

RUNNER = InProcessRunner()
KW = {"connection_id": "c1", "integration_user_id": BOT.id, "attachment_sha": {}}


def replica(status: str | None = "In Progress", **fields):
    source = replace(issue(), status=status, fields=fields)
    data = replica_of(source)
    data["status"] = {"name": status} if status else None
    data["fields"] = dict(fields)
    return data


def incoming(source: str, ctx):
    plan, _ = script.run_incoming(RUNNER, source, ctx)
    return plan


# --- the plan -------------------------------------------------------------------------------


def test_a_status_alone_is_a_change_of_the_plan():
    plan = Plan(status="Done")
    assert not plan.empty and plan.changes() == ["status"]
    assert Plan().empty
    assert "status" not in IssueFields.__struct_fields__  # status is no field


# --- script ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('issue.status = "Done"', "Done"),
        ("issue.status = replica.status", "In Progress"),
        ('issue.status = {"In Progress": "Doing"}.get(replica.status.name, "To Do")', "Doing"),
        ("issue.status = None", None),
        ("pass", None),
    ],
)
def test_an_incoming_script_sets_the_status_to_reach(line, expected):
    plan = incoming(line + "\n", context(replica()))
    assert plan.status == expected
    assert plan.fields is None  # the status is not written as a field


def test_status_follows_changed_like_any_field():
    source = 'if changed("status"):\n    issue.status = replica.status\n'
    first = replica("In Progress")
    same = incoming(source, context(replica("In Progress"), first_sync=False, previous=first))
    moved = incoming(source, context(replica("Done"), first_sync=False, previous=first))
    assert (same.status, moved.status) == (None, "Done")


def test_a_status_that_is_not_a_name_is_refused():
    with pytest.raises(ScriptError, match=r"issue\.status must be a name"):
        incoming("issue.status = 3\n", context(replica()))


def test_custom_fields_by_name_both_ways():
    source = replace(issue(), fields={"customfield_10050": "ACME", "Customer": "ACME"})
    sent, _ = script.run_outgoing(
        RUNNER, 'replica.fields["Customer"] = issue.fields["Customer"]\n', source, **KW
    )
    assert sent["fields"] == {"Customer": "ACME"}
    plan = incoming(
        'issue.fields["Customer"] = replica.fields["Customer"]\n', context(replica(Customer="X"))
    )
    assert plan.fields.custom == {"Customer": "X"}


# --- visual: status -------------------------------------------------------------------------

STATUS = [
    {
        "side": "local",
        "direction": "incoming",
        "fields": [{"field": "status", "values": {"Closed": "Done"}}],
    }
]


def test_visual_maps_the_incoming_status_to_a_transition_target():
    rule = visual.incoming_rule(STATUS)
    assert rule(context(replica("Closed"))).status == "Done"
    assert rule(context(replica("In Progress"))).status == "In Progress"
    assert rule(context(replica(None))).status is None
    unchanged = rule(context(replica("Closed"), first_sync=False, previous=replica("Closed")))
    assert unchanged.status is None and unchanged.empty


def test_visual_without_a_status_mapping_leaves_the_status_alone():
    plan = visual.incoming_rule([{"side": "local", "direction": "incoming"}])(context(replica()))
    assert plan.status is None


def test_visual_custom_fields_by_name_both_ways():
    document = [
        {
            "side": "local",
            "direction": "outgoing",
            "fields": [{"field": "custom", "local": "Customer", "remote": "Client"}],
        },
        {
            "side": "local",
            "direction": "incoming",
            "fields": [{"field": "custom", "local": "Customer", "remote": "Client"}],
        },
    ]
    source = replace(issue(), fields={"customfield_10050": "ACME", "Customer": "ACME"})
    assert visual.outgoing_rule(document)(source, **KW)["fields"] == {"Client": "ACME"}
    plan = visual.incoming_rule(document)(context(replica(Client="Initech")))
    assert plan.fields.custom == {"Customer": "Initech"}


# --- visual: sync methods -------------------------------------------------------------------


def end(mode: str, method: str | None = None, direction: str = "outgoing"):
    mappings = None
    if method is not None:
        mappings = [{"side": "local", "direction": direction, "sync": method}]
    return SimpleNamespace(mode=mode, mappings=mappings)


@pytest.mark.parametrize(
    ("connection", "direction", "allowed"),
    [
        (end("basic"), "outgoing", True),
        (end("script"), "outgoing", True),
        (end("visual"), "outgoing", True),  # no block: Basic's behaviour, automatic
        (end("visual", "automatic"), "outgoing", True),
        (end("visual", "manual"), "outgoing", False),
        (end("visual", "disabled"), "outgoing", False),
        (end("visual", "manual"), "incoming", True),  # that block is for outgoing
        (end("visual", "manual", "incoming"), "incoming", False),
    ],
)
def test_only_automatic_lets_issues_under_sync_on_their_own(connection, direction, allowed):
    assert mapping_document.allows_automatic(connection, direction) is allowed


def test_a_manual_direction_syncs_what_is_under_sync_and_disabled_nothing():
    manual = [{"side": "local", "direction": "outgoing", "sync": "manual"}]
    assert visual.outgoing_rule(manual)(issue(), **KW)["summary"] == issue().summary
    manual_in = [{"side": "local", "direction": "incoming", "sync": "manual"}]
    assert visual.incoming_rule(manual_in)(context(replica())).fields.summary
    disabled = [{"side": "local", "direction": "incoming", "sync": "disabled"}]
    with pytest.raises(SkipSync, match="disabled"):
        visual.incoming_rule(disabled)(context(replica()))
