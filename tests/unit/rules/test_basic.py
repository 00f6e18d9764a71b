"""Basic mode, as the reference pages describe it: summary, description, comments,
attachments and issue types; types mirrored with a fallback; comments public and attributed."""

from __future__ import annotations

import pytest

from chalicelib.rules import basic
from chalicelib.rules.replica import (
    InvalidReplica,
    content_hash,
    validate,
)
from chalicelib.trackers.base import Attachment, Body
from tests.factories import ALICE, BOT, comment, issue, project
from tests.unit.rules.script_helpers import context as ctx
from tests.unit.rules.script_helpers import replica_of


def test_outgoing_sends_the_five_basic_fields_and_nothing_else():
    source = issue(comments=(comment("1", "hello"),))
    replica = replica_of(source)
    assert replica["summary"] == "Printer on fire"
    assert replica["description"]["format"] == "adf"
    assert replica["type"] == {"name": "Bug"}
    assert [c["id"] for c in replica["comments"]] == ["1"]
    assert replica["labels"] == [] and replica["priority"] is None and replica["status"] is None
    assert validate(replica) == replica


def test_outgoing_never_sends_back_what_the_integration_user_wrote():
    mirrored = comment("2", "from the other side", author=BOT)
    att = Attachment(id="9", filename="log.txt", size=3, mime_type="text/plain", author=BOT)
    replica = replica_of(issue(comments=(comment("1", "mine"), mirrored), attachments=(att,)))
    assert [c["id"] for c in replica["comments"]] == ["1"]
    assert replica["attachments"] == []


def test_content_hash_ignores_version_and_time_but_not_content():
    a = replica_of(issue(), version=1)
    b = replica_of(issue(), version=7)
    assert content_hash(a) == content_hash(b)
    assert content_hash(a) != content_hash(replica_of(issue(summary="Other")))


def test_first_sync_creates_with_mirrored_type_and_converted_description():
    plan = basic.incoming(ctx(replica_of(issue(issue_type="Bug")), fmt="wiki"))
    assert plan.fields.summary == "Printer on fire"
    assert plan.fields.issue_type == "Bug"
    assert plan.fields.description.format == "wiki"
    assert "It smokes." in plan.fields.description.value


@pytest.mark.parametrize(
    ("incoming_type", "types", "default", "expected"),
    [
        ("Bug", ("Task", "Bug"), "Task", "Bug"),
        ("bug", ("Task", "Bug"), "Task", "Bug"),
        ("Epic", ("Task", "Improvement"), "Improvement", "Improvement"),
        ("Epic", ("Story", "Improvement"), None, "Story"),
        ("Epic", ("Story", "Improvement"), "Sub-task", "Story"),  # a default one cannot create
        ("Epic", (), None, "Task"),  # nothing known about the project: the last resort
    ],
)
def test_issue_types_fall_back_to_a_type_the_project_has(incoming_type, types, default, expected):
    assert (
        basic.resolve_issue_type(incoming_type, project(types=types, default=default)) == expected
    )


def test_a_server_project_without_task_gets_one_of_its_own_types():
    # Jira Server reports no default type; a Service Management project has no Task
    desk = project("DESK", types=("Service Request", "Incident"), default=None)
    plan = basic.incoming(ctx(replica_of(issue(issue_type="Bug")), fmt="wiki", proj=desk))
    assert plan.fields.issue_type == "Service Request"


def test_comments_are_public_and_carry_who_when_and_where():
    plan = basic.incoming(ctx(replica_of(issue(comments=(comment("1", "hello"),)))))
    (op,) = plan.comments
    assert op.action == "create" and op.public
    assert op.body.value.startswith("_Alice Smith wrote on 2026-01-02 10:00 UTC in Acme:_")
    assert "hello" in op.body.value


def test_comment_attribution_in_adf_leads_the_document():
    plan = basic.incoming(ctx(replica_of(issue(comments=(comment("1", "hi"),))), fmt="adf"))
    doc = plan.comments[0].body.value
    assert doc["type"] == "doc"
    assert doc["content"][0]["content"][0]["text"].startswith("Alice Smith wrote")


def test_later_syncs_write_only_what_changed():
    before = replica_of(issue(), version=1)
    after = replica_of(issue(summary="Printer still on fire"), version=2)
    plan = basic.incoming(ctx(after, first_sync=False, previous=before))
    assert plan.fields.summary == "Printer still on fire"
    assert plan.fields.description is None and plan.fields.issue_type is None


def test_nothing_changed_means_an_empty_plan():
    before = replica_of(issue(), version=1)
    plan = basic.incoming(ctx(replica_of(issue(), version=2), first_sync=False, previous=before))
    assert plan.empty


def test_comments_are_created_once_edited_in_place_and_removed_when_removed():
    c1, c2 = comment("1", "one"), comment("2", "two")
    synced = replica_of(issue(comments=(c1, c2)))
    first = basic.incoming(ctx(synced))
    known = {
        op.remote_id: {"local_id": f"L{op.remote_id}", "hash": op.body_hash}
        for op in first.comments
    }
    edited = replica_of(issue(comments=(comment("1", "one, edited"),)), version=2)
    plan = basic.incoming(ctx(edited, first_sync=False, previous=synced, comment_map=known))
    actions = {(op.action, op.remote_id, op.local_id) for op in plan.comments}
    assert actions == {("update", "1", "L1"), ("delete", "2", "L2")}


def test_attachments_are_copied_once_each():
    att = Attachment(id="7", filename="a.png", size=10, mime_type="image/png", author=ALICE)
    replica = replica_of(issue(attachments=(att,)), sha={"7": "ab" * 32})
    assert [op.remote_id for op in basic.incoming(ctx(replica)).attachments] == ["7"]
    again = basic.incoming(ctx(replica, first_sync=False, attachment_map={"7": "L7"}))
    assert again.attachments == ()


@pytest.mark.parametrize(
    "mutate",
    [
        lambda r: r.pop("id"),
        lambda r: r.update(version=0),
        lambda r: r.update(version="3"),
        lambda r: r.update(description={"format": "html", "value": "<b>"}),
        lambda r: r.update(comments=[{"body": None}]),
        lambda r: r.update(type="Bug"),
        lambda r: r.update(entity="epic"),
    ],
)
def test_malformed_replicas_are_refused_with_the_field(mutate):
    replica = replica_of(issue())
    mutate(replica)
    with pytest.raises(InvalidReplica):
        validate(replica)


def test_a_missing_description_on_the_source_clears_it_on_update():
    before = replica_of(issue(), version=1)
    after = replica_of(issue(description=None), version=2)
    plan = basic.incoming(ctx(after, first_sync=False, previous=before, fmt="wiki"))
    assert plan.fields.description == Body("wiki", "")
