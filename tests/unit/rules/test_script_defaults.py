"""The default scripts equal Basic mode: the same scenarios through both, compared field
by field (replicas as dicts, plans as their frozen dataclasses)."""

from __future__ import annotations

import pytest
from msgspec.structs import replace

from chalicelib.rules import basic
from chalicelib.rules.script import DEFAULT_INCOMING, DEFAULT_OUTGOING
from chalicelib.rules.script import rules as script
from chalicelib.trackers.base import Attachment
from tests.factories import ALICE, BOT, comment, issue, project
from tests.unit.rules.script_helpers import InProcessRunner, context, replica_of

RUNNER = InProcessRunner()
ATT = Attachment(id="7", filename="smoke.txt", size=12, mime_type="text/plain", author=ALICE)
MIRROR = Attachment(id="8", filename="theirs.txt", size=3, mime_type="text/plain", author=BOT)

ISSUES = {
    "plain": issue(),
    "no description": issue(description=None),
    "empty summary": issue(summary=""),
    "comments and mirrors": issue(
        comments=(comment("1", "mine"), comment("2", "theirs", author=BOT), comment("3", "x"))
    ),
    "attachments and mirrors": issue(attachments=(ATT, MIRROR)),
    "with labels, priority, status, custom fields": replace(
        issue(),
        labels=("customer",),
        priority="High",
        status="Open",
        fields={"customfield_10050": "ACME"},
    ),
    "unknown type": issue(issue_type="Epic"),
}


@pytest.mark.parametrize("name", sorted(ISSUES))
def test_default_outgoing_script_sends_what_basic_sends(name):
    source = ISSUES[name]
    kwargs = {"connection_id": "c1", "integration_user_id": BOT.id, "attachment_sha": {"7": "ab"}}
    expected = basic.outgoing(source, **kwargs)
    actual, _ = script.run_outgoing(RUNNER, DEFAULT_OUTGOING, source, **kwargs)
    assert actual == expected


def _scenarios():
    first = replica_of(
        issue(comments=(comment("1", "hello"),), attachments=(ATT,)), sha={"7": "ab"}
    )
    edited = replica_of(
        issue(summary="Printer fixed", comments=(comment("1", "hello again"), comment("4", "new"))),
        version=2,
    )
    synced_comments = {"1": {"local_id": "l1", "hash": "old"}, "2": {"local_id": "l2", "hash": "x"}}
    yield "first sync, wiki", context(first, fmt="wiki")
    yield "first sync, adf", context(first, fmt="adf")
    yield "first sync, text", context(first, fmt="text")
    yield "first sync, empty summary", context(replica_of(issue(summary="")))
    yield "first sync, no description", context(replica_of(issue(description=None)))
    yield "first sync, unknown type falls back", context(replica_of(issue(issue_type="Epic")))
    yield (
        "first sync, no default type",
        context(replica_of(issue(issue_type="Epic")), proj=project(default=None)),
    )
    yield (
        "update: summary and comments changed",
        context(edited, first_sync=False, previous=first, comment_map=synced_comments),
    )
    yield (
        "update: nothing changed",
        context(first, first_sync=False, previous=first, attachment_map={"7": "l7"}),
    )
    yield (
        "update: description removed",
        context(
            replica_of(issue(description=None), version=3),
            first_sync=False,
            previous=first,
            fmt="adf",
        ),
    )
    yield (
        "update: description removed (wiki)",
        context(replica_of(issue(description=None), version=3), first_sync=False, previous=first),
    )
    yield (
        "update: type changed",
        context(replica_of(issue(issue_type="Task"), version=3), first_sync=False, previous=first),
    )
    yield "link replica: a baseline", context(first, first_sync=False, link=True)
    yield "update without any previous hashes", context(edited, first_sync=False)


SCENARIOS = dict(_scenarios())


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_default_incoming_script_plans_what_basic_plans(name):
    ctx = SCENARIOS[name]
    expected = basic.incoming(ctx)
    actual, _ = script.run_incoming(RUNNER, DEFAULT_INCOMING, ctx)
    assert actual.fields == expected.fields
    assert actual.comments == expected.comments
    assert actual.attachments == expected.attachments
    assert actual == expected
