"""Issue 18, the script API's parent: what the outgoing script sees and sends, what the
incoming script's ``issue.parent`` plans, and sub-task types resolved per project."""

from __future__ import annotations

import pytest
from msgspec.structs import replace

from chalicelib.rules import basic
from chalicelib.rules.plan import ParentOp
from chalicelib.rules.script import hierarchy_api
from chalicelib.rules.script import rules as script
from chalicelib.rules.script.errors import ScriptError
from chalicelib.trackers.base import Project
from tests.factories import BOT, issue
from tests.unit.rules.script_helpers import InProcessRunner, context, replica_of

RUNNER = InProcessRunner()
KW = {"connection_id": "c1", "integration_user_id": BOT.id, "attachment_sha": {}}
CLOUD = Project(
    key="SUP",
    name="Support",
    issue_types=("Task", "Story", "Epic"),
    default_issue_type="Task",
    subtask_types=("Subtask",),
)


def outgoing(source, src_issue=None):
    replica, _ = script.run_outgoing(RUNNER, source, src_issue or issue(), **KW)
    return replica


def incoming(source, ctx):
    plan, _ = script.run_incoming(RUNNER, source, ctx)
    return plan


def child_replica(type_name="Sub-task", parent="OPS-1"):
    replica = replica_of(replace(issue(), issue_type=type_name))
    return {**replica, "parent": {"key": parent} if parent else None}


# --- outgoing -------------------------------------------------------------------------------


def test_the_outgoing_issue_shows_its_parent_and_the_replica_carries_it():
    child = replace(issue(), parent="OPS-1")
    assert hierarchy_api.view(child, integration_user_id=None) == {"parent": {"key": "OPS-1"}}
    assert hierarchy_api.view(issue(), integration_user_id=None) == {"parent": None}
    assert outgoing("replica.parent = issue.parent", child)["parent"] == {"key": "OPS-1"}
    assert outgoing("replica.parent = issue.parent.key", child)["parent"] == {"key": "OPS-1"}
    assert outgoing("replica.parent = issue.parent", issue())["parent"] is None
    assert "parent" not in outgoing("replica.summary = issue.summary", child)


@pytest.mark.parametrize("value", ["42", "{'name': 'OPS-1'}", "['OPS-1']"])
def test_an_outgoing_parent_that_is_no_key_names_replica_parent(value):
    with pytest.raises(ScriptError) as failed:
        outgoing(f"replica.parent = {value}", replace(issue(), parent="OPS-1"))
    assert "replica.parent" in failed.value.message


# --- incoming -------------------------------------------------------------------------------


def test_issue_parent_plans_a_parent_op_of_the_other_sides_key():
    ctx = context(child_replica(), proj=CLOUD)
    assert incoming("issue.parent = replica.parent", ctx).parent == ParentOp("OPS-1")
    assert incoming("issue.parent = 'OPS-7'", ctx).parent == ParentOp("OPS-7")
    assert incoming("issue.parent = None", ctx).parent == ParentOp(None)  # removes it
    assert incoming("issue.summary = replica.summary", ctx).parent is None  # left as it is


def test_an_incoming_parent_that_is_no_key_is_refused_naming_issue_parent():
    ctx = context(child_replica(), proj=CLOUD)
    with pytest.raises(ScriptError) as failed:
        incoming("issue.parent = 12", ctx)
    assert "issue.parent" in failed.value.message
    with pytest.raises(ScriptError):
        hierarchy_api.plan_parts({"parent": {"id": "1"}}, ctx)


def test_get_issue_type_gives_a_sub_task_this_projects_sub_task_type():
    source = "issue.type = get_issue_type(replica.type)"
    # Server's "Sub-task" is Cloud's "Subtask"
    plan = incoming(source, context(child_replica("Sub-task"), proj=CLOUD))
    assert plan.fields is not None and plan.fields.issue_type == "Subtask"
    # a sub-task type this project lacks, said to be one: the first sub-task type
    flagged = child_replica("Technical task")
    flagged["type"] = {"name": "Technical task", "subtask": True}
    plan = incoming(source, context(flagged, proj=CLOUD))
    assert plan.fields is not None and plan.fields.issue_type == "Subtask"
    # without a parent (or where the project has no sub-task types): a standard type
    plan = incoming(source, context(child_replica("Sub-task", parent=None), proj=CLOUD))
    assert plan.fields is not None and plan.fields.issue_type == "Task"
    plan = incoming(source, context(child_replica("Story"), proj=CLOUD))
    assert plan.fields is not None and plan.fields.issue_type == "Story"


def test_a_sub_task_type_may_be_set_by_name_and_basic_is_unchanged():
    plan = incoming("issue.type = 'subtask'", context(child_replica(), proj=CLOUD))
    assert plan.fields is not None and plan.fields.issue_type == "Subtask"
    assert basic.resolve_issue_type("Subtask", CLOUD) == "Task"  # Basic: no sub-tasks
    assert basic.resolve_issue_type("Sub-task", CLOUD, subtask=True) == "Subtask"
    request = script.incoming_request("pass", context(child_replica(), proj=CLOUD))
    assert request["inputs"]["project"]["subtask_types"] == ["Subtask"]
