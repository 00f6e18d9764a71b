"""The script API: the reference product's mapping idioms work, and what a script produces
is checked before the sync uses it. In-process (semantics); the walls are tested through
the real sandbox process in ``test_script_escapes``."""

from __future__ import annotations

import pytest
from msgspec.structs import replace

from chalicelib.rules.script import rules as script
from chalicelib.rules.script.errors import ScriptError, ScriptFailed
from chalicelib.rules.skip import SkipSync
from chalicelib.trackers.base import Attachment
from tests.factories import ALICE, BOT, comment, issue, project
from tests.unit.rules.script_helpers import InProcessRunner, context, replica_of

RUNNER = InProcessRunner()
KW = {"connection_id": "c1", "integration_user_id": BOT.id, "attachment_sha": {}}
SUPPORT = project("SUP", types=("Problem", "Task", "Incident"), default="Incident")
BIG = Attachment(id="8", filename="dump.bin", size=50_000_000, mime_type="x/y", author=ALICE)
SMALL = Attachment(id="7", filename="log.txt", size=12, mime_type="text/plain", author=ALICE)


def outgoing(source, src_issue=None):
    replica, _ = script.run_outgoing(RUNNER, source, src_issue or issue(), **KW)
    return replica


def incoming(source, ctx):
    plan, _ = script.run_incoming(RUNNER, source, ctx)
    return plan


RICH = replace(
    issue(comments=(comment("1", "public note"),), attachments=(SMALL, BIG)),
    labels=("customer", "urgent"),
    priority="High",
    status="Open",
    fields={"customfield_10050": "ACME Corp"},
)


def test_outgoing_idioms_labels_priority_status_and_a_custom_field_by_name():
    replica = outgoing(
        "replica.summary = issue.summary\n"
        "replica.labels = issue.labels\n"
        "replica.labels += ['synced']\n"
        "replica.priority = issue.priority\n"
        "replica.status = issue.status\n"
        "replica.fields['Customer'] = issue.fields['customfield_10050']\n",
        RICH,
    )
    assert replica["labels"] == ["customer", "urgent", "synced"]
    assert replica["priority"] == {"name": "High"} and replica["status"] == {"name": "Open"}
    assert replica["fields"] == {"Customer": "ACME Corp"}


def test_outgoing_skips_attachments_above_a_size():
    replica = outgoing(
        "replica.attachments = [a for a in issue.attachments if a.size < 10_000_000]", RICH
    )
    assert [a["id"] for a in replica["attachments"]] == ["7"]


def test_outgoing_sends_only_public_comments():
    internal = replace(comment("2", "internal"), public=False)
    source = replace(RICH, comments=(comment("1", "public"), internal))
    replica = outgoing("replica.comments = [c for c in issue.comments if c.public]", source)
    assert [c["id"] for c in replica["comments"]] == ["1"]


def test_outgoing_cannot_change_the_issue_identity():
    replica = outgoing("replica.key = 'OTHER-9'\nreplica.connection_id = 'x'\nreplica.url = 'y'")
    assert (replica["key"], replica["connection_id"]) == ("ALPHA-1", "c1")


@pytest.mark.parametrize(
    "source",
    [
        "replica.comments = 'all of them'",
        "replica.labels = [1, 2]",
        "replica.type = 3",
        "replica.description = {'format': 'html', 'value': '<b>'}",
        "replica.fields = []",
    ],
)
def test_outgoing_results_that_break_the_replica_are_refused(source):
    with pytest.raises(ScriptError) as caught:
        outgoing(source)
    assert caught.value.kind == "result"
    assert caught.value.script == "outgoing_script"


def test_a_type_mapping_with_a_fallback():
    source = 'issue.type = {"Bug": "Problem"}.get(replica.type.name, "Task")'
    bug = incoming(source, context(replica_of(issue(issue_type="Bug")), proj=SUPPORT))
    story = incoming(source, context(replica_of(issue(issue_type="Story")), proj=SUPPORT))
    assert bug.fields.issue_type == "Problem"
    assert story.fields.issue_type == "Task"


def test_a_type_the_project_lacks_is_a_clear_error():
    with pytest.raises(ScriptError) as caught:
        incoming("issue.type = 'Epic'", context(replica_of(issue()), proj=SUPPORT))
    assert "Epic" in caught.value.message and "SUP" in caught.value.message


def test_incoming_labels_priority_and_a_custom_field_by_name():
    replica = replica_of(issue())
    replica["labels"] = ["customer"]
    replica["priority"] = {"name": "High"}
    replica["fields"] = {"Customer": "ACME Corp"}
    plan = incoming(
        "issue.labels = replica.labels + ['from-acme']\n"
        "issue.priority = {'High': 'Highest'}.get(replica.priority.name, 'Medium')\n"
        "issue.fields['customfield_10070'] = replica.fields['Customer']\n",
        context(replica),
    )
    assert plan.fields.labels == ("customer", "from-acme")
    assert plan.fields.priority == "Highest"
    assert plan.fields.custom == {"customfield_10070": "ACME Corp"}
    assert plan.fields.summary == "Printer on fire"  # a first sync always has a summary


def test_comment_visibility_internal_or_by_content():
    replica = replica_of(issue(comments=(comment("1", "hello"), comment("2", "#internal note"))))
    internal = incoming("issue.comments = merge_comments(public=False)", context(replica))
    assert [op.public for op in internal.comments] == [False, False]
    chosen = incoming(
        "issue.comments = merge_comments(public=lambda c: '#internal' not in str(c.body.value))",
        context(replica),
    )
    assert [op.public for op in chosen.comments] == [True, False]


def test_the_reference_shorthand_for_comments_and_attachments():
    replica = replica_of(
        issue(comments=(comment("1", "hi"),), attachments=(SMALL,)), sha={"7": "a"}
    )
    plan = incoming(
        "issue.comments = replica.comments\nissue.attachments = replica.attachments",
        context(replica),
    )
    assert [(op.action, op.remote_id) for op in plan.comments] == [("create", "1")]
    assert [op.remote_id for op in plan.attachments] == ["7"]


def test_incoming_skips_attachments_above_a_size():
    replica = replica_of(issue(attachments=(SMALL, BIG)))
    plan = incoming("issue.attachments = merge_attachments(max_size=10_000_000)", context(replica))
    assert [op.remote_id for op in plan.attachments] == ["7"]


def test_changed_and_previous():
    first = replica_of(issue())
    later = replica_of(issue(summary="Printer fixed"), version=2)
    first["fields"], later["fields"] = {"Customer": "A"}, {"Customer": "A"}
    source = (
        "log(changed('summary'), changed('description'), changed('fields.Customer'))\n"
        "if previous and previous.summary != replica.summary:\n"
        "    issue.summary = previous.summary + ' -> ' + replica.summary\n"
    )
    _, lines = script.run_incoming(RUNNER, source, context(later, first_sync=False, previous=first))
    plan = incoming(source, context(later, first_sync=False, previous=first))
    assert lines == ["True False False"]
    assert plan.fields.summary == "Printer on fire -> Printer fixed"


def test_a_script_cannot_touch_comments_it_never_synced():
    replica = replica_of(issue())
    forged = "issue.comments = [{'action': 'delete', 'remote_id': '99', 'local_id': '12345'}]"
    with pytest.raises(ScriptError) as caught:
        incoming(forged, context(replica, first_sync=False, comment_map={}))
    assert "never synced" in caught.value.message


def test_a_script_cannot_copy_attachments_the_replica_does_not_offer():
    forged = "issue.attachments = [{'action': 'copy', 'remote_id': '666', 'filename': 'x'}]"
    with pytest.raises(ScriptError):
        incoming(forged, context(replica_of(issue())))


def test_nothing_set_means_nothing_written():
    plan = incoming("x = 1", context(replica_of(issue()), first_sync=False))
    assert plan.empty


def test_skip_leaves_the_issue_out():
    with pytest.raises(SkipSync, match="not a bug"):
        incoming(
            "if replica.type.name != 'Task':\n    skip('not a bug we want')",
            context(replica_of(issue())),
        )
    with pytest.raises(SkipSync):
        outgoing("skip('private')")


def test_log_and_print_are_kept():
    _, lines = script.run_outgoing(RUNNER, "log('a', 1)\nprint('b')", issue(), **KW)
    assert lines == ["a 1", "b"]


def test_the_worker_rules_raise_a_permanent_failure_naming_issue_and_line():
    rule = script.outgoing_rule("x = 1\ny = issue.nothing.name", runner=RUNNER)
    with pytest.raises(ScriptFailed) as caught:
        rule(issue(), **KW)
    failed = caught.value
    assert (failed.connection_id, failed.issue_key, failed.line) == ("c1", "ALPHA-1", 2)
    assert str(failed).startswith("outgoing_script line 2: AttributeError")
    incoming_rule = script.incoming_rule("issue.type = 'Nope'", connection_id="c1", runner=RUNNER)
    with pytest.raises(ScriptFailed) as caught:
        incoming_rule(context(replica_of(issue())))
    assert caught.value.issue_key == "ALPHA-1" and caught.value.kind == "result"
