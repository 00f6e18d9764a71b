"""Issue 19: apply writes a summary without looking first; an edit made on the receiving
side that it overwrote, before that side read it, is found in the changelog by the next
read of the issue (its late webhook, or the sweep when the webhook is lost) and decided
as a conflict by time on both ends: nothing is lost.

One node with a local connection (OPS ↔ SUP on one memory tracker, a Jira Server site),
through the real queues (``tests/functional/ops``). Alice edits on OPS, Bob on SUP; the
tracker's clock moves one second per write, so the order of their edits is the order of
the calls.
"""

from __future__ import annotations

import uuid

import pytest

from chalicelib.root import root
from chalicelib.sync.ingest import enqueue_ingest
from chalicelib.sync.messages import IngestMessage
from chalicelib.trackers.base import User
from tests.functional.ops.conftest import ops  # noqa: F401 - the harness fixture

BOB = User(id="acc-bob", name="Bob")


def bob_read(env, key: str, how: str) -> None:
    """SUP reads ``key`` again: Bob's late webhook, or the sweep (the webhook was lost)."""
    if how == "webhook":
        env.webhook(key, author=BOB.id)
    else:
        message = IngestMessage(key, source="reconcile")
        enqueue_ingest(message, deps=root().sync, dedup=f"sweep#{uuid.uuid4().hex}")
    env.pump.drain()


def conflicts(env, ops_key: str, sup_key: str) -> tuple[list, list]:
    return (
        list(env.twin(ops_key).conflicts or []),
        list(env.twin(sup_key, env.other_id).conflicts or []),
    )


@pytest.mark.parametrize("how", ["webhook", "sweep"])
def test_bobs_later_edit_overwritten_unseen_comes_back_on_both_sides(ops, how):  # noqa: F811
    a, b = ops.sync_pair("Printer on fire")
    ops.tracker.edit(a, summary="Alice's title")  # on OPS, first
    ops.tracker.edit(b, by=BOB, summary="Bob's title")  # on SUP, later; its webhook held back
    ops.tracker.calls.clear()
    ops.webhook(a)
    ops.pump.drain()
    # Alice's change reached SUP and was written there without a look: Bob's is gone...
    assert ops.tracker.calls == ["get_issue", "update_issue"]
    assert ops.tracker.issues[b].summary == "Alice's title"
    # ...until SUP reads the issue again: it is in the changelog
    bob_read(ops, b, how)
    assert ops.tracker.issues[b].summary == "Bob's title"
    assert ops.tracker.issues[a].summary == "Bob's title"
    (on_ops,), (on_sup,) = conflicts(ops, a, b)
    assert (on_ops["winner"], on_ops["value"]) == ("remote", "Bob's title")
    assert (on_sup["winner"], on_sup["value"]) == ("local", "Bob's title")
    assert on_ops["local_value"] == on_sup["remote_value"] == "Alice's title"
    # found once: more reads change nothing, record nothing, send nothing
    sent = len([h for h in ops.history(b, ops.other_id) if h["direction"] == "outgoing"])
    bob_read(ops, b, "sweep")
    bob_read(ops, a, "sweep")
    assert ops.tracker.issues[a].summary == ops.tracker.issues[b].summary == "Bob's title"
    assert tuple(map(len, conflicts(ops, a, b))) == (1, 1)
    assert sent == len([h for h in ops.history(b, ops.other_id) if h["direction"] == "outgoing"])


def test_bobs_earlier_edit_overwritten_unseen_loses_to_the_later_one_on_both_sides(ops):  # noqa: F811
    a, b = ops.sync_pair("Printer on fire")
    ops.tracker.edit(b, by=BOB, summary="Bob's title")  # on SUP, first; webhook held back
    ops.tracker.edit(a, summary="Alice's title")  # on OPS, later
    ops.webhook(a)
    ops.pump.drain()
    assert ops.tracker.issues[b].summary == "Alice's title"
    writes = ops.tracker.calls.count("update_issue")
    bob_read(ops, b, "webhook")
    # Alice's is the later edit: it stays, and Bob's is recorded on both ends, not lost
    assert ops.tracker.issues[a].summary == ops.tracker.issues[b].summary == "Alice's title"
    assert ops.tracker.calls.count("update_issue") == writes  # nothing written again
    (on_ops,), (on_sup,) = conflicts(ops, a, b)
    assert (on_ops["winner"], on_ops["remote_value"]) == ("local", "Bob's title")
    assert (on_sup["winner"], on_sup["local_value"]) == ("remote", "Bob's title")
    assert on_ops["value"] == on_sup["value"] == "Alice's title"


def test_an_edit_read_before_our_write_is_not_found_again(ops):  # noqa: F811
    a, b = ops.sync_pair("Printer on fire")
    ops.tracker.edit(b, by=BOB, summary="Bob's title")  # on SUP, read and sent at once
    ops.webhook(b, author=BOB.id)
    ops.tracker.edit(a, summary="Alice's title")  # on OPS, made before Bob's arrived
    ops.webhook(a)
    ops.pump.drain()
    # decided once by the merge (Alice's is later) on each end, as before issue 19
    assert ops.tracker.issues[a].summary == ops.tracker.issues[b].summary == "Alice's title"
    before = conflicts(ops, a, b)
    assert tuple(map(len, before)) == (1, 1)
    bob_read(ops, b, "sweep")  # our write over Bob's edit is in the changelog: seen already
    bob_read(ops, b, "webhook")
    assert conflicts(ops, a, b) == before
    assert ops.tracker.issues[a].summary == ops.tracker.issues[b].summary == "Alice's title"
