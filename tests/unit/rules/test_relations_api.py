"""Issue 18, Script mode: issue links and worklogs as the scripts see and set them."""

from __future__ import annotations

import pytest
from msgspec.structs import replace

from chalicelib.rules.plan import LinkOp
from chalicelib.rules.script import rules as script
from chalicelib.rules.script.errors import ScriptError
from chalicelib.rules.worklogs import worklog_hash
from chalicelib.trackers.base import Body, IssueLink, Worklog
from tests.factories import ALICE, BOT, issue
from tests.unit.rules.script_helpers import InProcessRunner, context, replica_of

RUNNER = InProcessRunner()
KW = {"connection_id": "c1", "integration_user_id": BOT.id, "attachment_sha": {}}

THEIRS = Worklog("11", "2026-12-01T09:30:00.000+0000", 3600, ALICE, Body("adf", None), "", "u1")
OURS = Worklog("12", "2026-12-01T11:00:00.000+0000", 60, BOT, None, "", "u2")
LINKED = replace(
    issue(),
    links=(
        IssueLink("1", "Blocks", "outward", "ALPHA-2"),
        IssueLink("2", "Relates", "inward", "ALPHA-3"),
    ),
    worklogs=(THEIRS, OURS),
)
COPY = "replica.links = issue.links\nreplica.worklogs = issue.worklogs\n"


def outgoing(source, src=LINKED):
    replica, _ = script.run_outgoing(RUNNER, source, src, **KW)
    return replica


def incoming(source, ctx):
    plan, _ = script.run_incoming(RUNNER, source, ctx)
    return plan


def test_the_outgoing_issue_shows_links_and_other_peoples_worklogs():
    view = script.issue_view(LINKED, integration_user_id=BOT.id, attachment_sha={})
    assert view["links"] == [
        {"type": "Blocks", "direction": "outward", "key": "ALPHA-2"},
        {"type": "Relates", "direction": "inward", "key": "ALPHA-3"},
    ]
    assert view["worklogs"] == [
        {
            "id": "11",
            "started": "2026-12-01T09:30:00.000+0000",
            "seconds": 3600,
            "comment": {"format": "adf", "value": None},
            "author": {"id": ALICE.id, "name": ALICE.name},
            "updated": "u1",
        }
    ]  # our own copy (the bot's) is not offered
    replica = outgoing(COPY)
    assert replica["links"] == view["links"] and replica["worklogs"] == view["worklogs"]


def test_nothing_copied_means_no_links_or_worklogs_in_the_replica():
    replica = outgoing("replica.summary = issue.summary")
    assert "links" not in replica and "worklogs" not in replica


def test_outgoing_values_are_normalised():
    replica = outgoing(
        "replica.links = [{'type': {'name': 'Blocks'}, 'direction': 'OUTWARD', 'key': 'X-1'}]\n"
        "replica.worklogs = [{'id': 5, 'started': '2026-12-01T09:00:00.000+0000',"
        " 'seconds': 60, 'comment': 'hi', 'author': {'id': 'a', 'name': 'A'}}]\n"
    )
    assert replica["links"] == [{"type": "Blocks", "direction": "outward", "key": "X-1"}]
    (worklog,) = replica["worklogs"]
    assert worklog["id"] == "5" and worklog["comment"] == {"format": "text", "value": "hi"}


@pytest.mark.parametrize(
    ("source", "attribute"),
    [
        ("replica.links = 'X-1'", "replica.links"),
        (
            "replica.links = [{'type': 'Blocks', 'direction': 'up', 'key': 'X-1'}]",
            "replica.links[0]",
        ),
        ("replica.links = [{'direction': 'inward', 'key': 'X-1'}]", "replica.links[0]"),
        ("replica.worklogs = {}", "replica.worklogs"),
        ("replica.worklogs = [{'id': '1', 'started': 'x', 'seconds': 0}]", "replica.worklogs[0]"),
        ("replica.worklogs = [{'id': '1', 'seconds': 5}]", "replica.worklogs[0].started"),
        (
            "replica.worklogs = [{'id': '1', 'started': 's', 'seconds': 5, 'comment': 3}]",
            "replica.worklogs[0].comment",
        ),
    ],
)
def test_bad_outgoing_links_and_worklogs_are_clear_errors(source, attribute):
    with pytest.raises(ScriptError) as caught:
        outgoing(source)
    assert attribute in caught.value.message


def remote(**extra):
    return {**replica_of(issue()), **extra}


LINKS = [
    {"type": "Blocks", "direction": "outward", "key": "ALPHA-2"},
    {"type": "Relates", "direction": "inward", "key": "ALPHA-3"},
]


def test_incoming_links_become_add_and_remove_operations():
    plan = incoming("issue.links = replica.links", context(remote(links=LINKS)))
    assert plan.links == (
        LinkOp("add", "Blocks", "outward", "ALPHA-2"),
        LinkOp("add", "Relates", "inward", "ALPHA-3"),
    )
    # the other side removed the Relates link: every link again, and the removal
    previous = remote(links=LINKS)
    ctx = context(remote(links=LINKS[:1]), first_sync=False, previous=previous)
    plan = incoming("issue.links = replica.links", ctx)
    assert plan.links == (
        LinkOp("add", "Blocks", "outward", "ALPHA-2"),
        LinkOp("remove", "Relates", "inward", "ALPHA-3"),
    )


def test_a_mapped_link_type_is_mapped_in_removals_too():
    source = (
        "names = {'Blocks': 'Depends'}\n"
        "issue.links = [dict(l, type=names.get(l['type'], l['type'])) for l in replica.links]\n"
    )
    both = [*LINKS, {"type": "Blocks", "direction": "outward", "key": "ALPHA-9"}]
    ctx = context(remote(links=LINKS), first_sync=False, previous=remote(links=both))
    plan = incoming(source, ctx)
    assert plan.links == (
        LinkOp("add", "Depends", "outward", "ALPHA-2"),
        LinkOp("add", "Relates", "inward", "ALPHA-3"),
        LinkOp("remove", "Depends", "outward", "ALPHA-9"),
    )


def test_links_not_set_are_left_alone_and_bad_ones_refused():
    assert incoming("issue.summary = 'x'", context(remote(links=LINKS))).links == ()
    with pytest.raises(ScriptError) as caught:
        incoming("issue.links = [{'type': 'Blocks'}]", context(remote()))
    assert "issue.links[0]" in caught.value.message


WL = {
    "id": "w1",
    "started": "2026-12-01T09:30:00.000+0000",
    "seconds": 3600,
    "comment": {"format": "text", "value": "printer"},
    "author": {"id": "acc-alice", "name": "Alice Smith"},
    "updated": "u",
}


@pytest.mark.parametrize(
    "source",
    ["issue.worklogs = merge_worklogs()", "issue.worklogs = replica.worklogs"],
)
def test_worklogs_by_helper_or_shorthand(source):
    (op,) = incoming(source, context(remote(worklogs=[WL]))).worklogs
    assert (op.action, op.remote_id, op.seconds) == ("create", "w1", 3600)
    assert op.comment.value == "_Logged by Alice Smith on Acme_\n\nprinter"
    assert op.hash == worklog_hash(WL)


def test_the_shorthand_deletes_the_last_worklog_too():
    ctx = replace(
        context(remote(worklogs=[]), first_sync=False, previous=remote(worklogs=[WL])),
        worklog_map={"w1": {"local_id": "L1", "hash": worklog_hash(WL)}},
    )
    (op,) = incoming("issue.worklogs = replica.worklogs", ctx).worklogs
    assert (op.action, op.remote_id, op.local_id) == ("delete", "w1", "L1")


def test_a_filtered_list_and_bad_operations():
    long_only = "issue.worklogs = merge_worklogs([w for w in replica.worklogs if w.seconds > 60])"
    short = {**WL, "id": "w2", "seconds": 60}
    (op,) = incoming(long_only, context(remote(worklogs=[WL, short]))).worklogs
    assert op.remote_id == "w1"
    with pytest.raises(ScriptError) as caught:
        incoming("issue.worklogs = [{'action': 'create', 'remote_id': 'w1'}]", context(remote()))
    assert "worklog w1" in caught.value.message
    with pytest.raises(ScriptError):
        incoming("issue.worklogs = 'all'", context(remote()))
