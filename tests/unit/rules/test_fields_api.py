"""Issue 18's fields in the script API (``fields_api``): what the outgoing script sees and
how its values become replica form; what the incoming script sets becomes checked
IssueFields and plan parts; a bad value is a ScriptError naming the script attribute."""

from __future__ import annotations

import pytest
from msgspec.structs import replace

from chalicelib.rules.plan import PersonOp
from chalicelib.rules.script import fields_api
from chalicelib.rules.script import rules as script
from chalicelib.rules.script.errors import ScriptError
from chalicelib.trackers.base import Body, User
from tests.factories import BOT, adf, issue
from tests.unit.rules.script_helpers import InProcessRunner, context, replica_of

RUNNER = InProcessRunner()
KW = {"connection_id": "c1", "integration_user_id": BOT.id, "attachment_sha": {}}
ANNA = User("acc-anna", "Anna", "anna@acme.test")
RICH = replace(
    issue(),
    components=("Backend", "API"),
    fix_versions=("2.0",),
    versions=("1.0", "1.1"),
    due_date="2026-12-24",
    environment=Body("adf", adf("Chrome 120")),
    resolution="Won't Do",
    assignee=ANNA,
    reporter=User("acc-bob", "Bob"),
)
COPY_ALL = "".join(
    f"replica.{name} = issue.{name}\n"
    for name in (
        "components",
        "fix_versions",
        "affects_versions",
        "due_date",
        "environment",
        "resolution",
        "assignee",
        "reporter",
    )
)


def outgoing(source, src_issue=RICH):
    replica, _ = script.run_outgoing(RUNNER, source, src_issue, **KW)
    return replica


def incoming(source, ctx):
    plan, _ = script.run_incoming(RUNNER, source, ctx)
    return plan


# --- outgoing -------------------------------------------------------------------------------


def test_the_outgoing_issue_shows_the_fields_in_replica_form():
    view = fields_api.view(RICH, integration_user_id=BOT.id)
    assert view == {
        "components": ["Backend", "API"],
        "fix_versions": ["2.0"],
        "affects_versions": ["1.0", "1.1"],
        "due_date": "2026-12-24",
        "environment": {"format": "adf", "value": adf("Chrome 120")},
        "resolution": {"name": "Won't Do"},
        "assignee": {"id": "acc-anna", "name": "Anna", "email": "anna@acme.test"},
        "reporter": {"id": "acc-bob", "name": "Bob", "email": None},
    }
    empty = fields_api.view(issue(), integration_user_id=BOT.id)
    assert empty["components"] == [] and empty["resolution"] is None
    assert empty["assignee"] is None and empty["due_date"] is None


def test_copying_the_fields_gives_a_valid_replica():
    replica = outgoing(COPY_ALL)
    assert replica["components"] == ["Backend", "API"]
    assert replica["affects_versions"] == ["1.0", "1.1"]
    assert replica["resolution"] == {"name": "Won't Do"}
    assert replica["assignee"] == {"id": "acc-anna", "name": "Anna", "email": "anna@acme.test"}


def test_outgoing_values_are_put_in_replica_form():
    replica = outgoing(
        "replica.components = ['Web', {'name': 'API'}, ' Web ']\n"
        "replica.resolution = 'Done'\n"
        "replica.environment = 'Firefox'\n"
        "replica.due_date = '2026-12-24T10:00:00.000+0000'\n"
        "replica.assignee = {'id': 'acc-x'}\n"
        "replica.fix_versions = None\n"
    )
    assert replica["components"] == ["Web", "API"]
    assert replica["resolution"] == {"name": "Done"}
    assert replica["environment"] == {"format": "text", "value": "Firefox"}
    assert replica["due_date"] == "2026-12-24"
    assert replica["assignee"] == {"id": "acc-x", "name": "acc-x", "email": None}
    assert replica["fix_versions"] == []
    assert outgoing("replica.resolution = ''\nreplica.due_date = ''\n")["resolution"] is None


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ("replica.components = 'Web'", "replica.components"),
        ("replica.fix_versions = [1]", "replica.fix_versions"),
        ("replica.due_date = 'next week'", "replica.due_date"),
        ("replica.resolution = 7", "replica.resolution"),
        ("replica.assignee = 'anna'", "replica.assignee"),
        ("replica.reporter = {'name': 'Bob'}", "replica.reporter"),
    ],
)
def test_a_bad_outgoing_value_names_the_replica_attribute(line, named):
    with pytest.raises(ScriptError) as caught:
        outgoing(line)
    assert caught.value.script == "outgoing_script" and caught.value.kind == "result"
    assert named in caught.value.message


# --- incoming -------------------------------------------------------------------------------


def remote():
    return {**replica_of(issue()), **fields_api.view(RICH, integration_user_id=BOT.id)}


def test_incoming_sets_the_fields_in_this_trackers_form():
    plan = incoming(
        "issue.components = replica.components\n"
        "issue.fix_versions = replica.fix_versions\n"
        "issue.affects_versions = replica.affects_versions\n"
        "issue.due_date = replica.due_date\n"
        "issue.environment = replica.environment\n"
        "issue.resolution = replica.resolution\n",
        context(remote(), fmt="wiki"),
    )
    fields = plan.fields
    assert (fields.components, fields.fix_versions, fields.versions) == (
        ("Backend", "API"),
        ("2.0",),
        ("1.0", "1.1"),
    )
    assert fields.due_date == "2026-12-24" and fields.resolution == "Won't Do"
    assert fields.environment == Body("wiki", "Chrome 120")  # converted like a description
    assert plan.people == () and plan.create_missing == frozenset()


def test_what_the_script_does_not_set_is_left_as_it_is():
    plan = incoming("issue.summary = 'x'\n", context(remote(), first_sync=False))
    fields = plan.fields
    assert fields.components is None and fields.due_date is None
    assert fields.environment is None and fields.resolution is None


def test_none_clears_on_an_update_and_says_nothing_on_a_first_sync():
    source = (
        "issue.components = []\nissue.due_date = None\n"
        "issue.environment = None\nissue.resolution = None\n"
    )
    later = incoming(source, context(remote(), first_sync=False, fmt="adf")).fields
    assert later.components == () and later.due_date == "" and later.resolution == ""
    assert later.environment == Body("adf", None)
    first = incoming(source, context(remote(), first_sync=True)).fields
    assert first.components == () and first.due_date is None and first.resolution is None
    assert first.environment is None


def test_people_and_create_missing_become_plan_parts():
    plan = incoming(
        "issue.assignee = replica.assignee\n"
        "issue.reporter = None\n"
        "issue.create_missing = ['fix_versions', 'components']\n",
        context(remote()),
    )
    assert plan.people == (
        PersonOp("assignee", {"id": "acc-anna", "name": "Anna", "email": "anna@acme.test"}),
        PersonOp("reporter", None),
    )
    assert plan.create_missing == frozenset({"fix_versions", "components"})
    assert "assignee" in plan.changes() and not plan.empty


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ("issue.components = 'Web'", "issue.components"),
        ("issue.affects_versions = [None]", "issue.affects_versions"),
        ("issue.due_date = 20261224", "issue.due_date"),
        ("issue.environment = {'value': 'x'}", "issue.environment"),
        ("issue.resolution = ['Done']", "issue.resolution"),
        ("issue.assignee = 'anna'", "issue.assignee"),
        ("issue.create_missing = ['labels']", "issue.create_missing"),
        ("issue.create_missing = 3", "issue.create_missing"),
    ],
)
def test_a_bad_incoming_value_names_the_issue_attribute(line, named):
    with pytest.raises(ScriptError) as caught:
        incoming(line + "\n", context(remote()))
    assert caught.value.script == "incoming_script" and caught.value.kind == "result"
    assert named in caught.value.message
