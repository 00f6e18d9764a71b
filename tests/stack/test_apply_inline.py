"""Issue 19 over the local stack: a change pushed by node a is applied by node c in the
request that brings it (no inbox entry, no apply message). Replays, fallbacks and the
token's body claim are tested over the node API in tests/functional/test_apply_inline.py.

Node a (Jira Cloud sandbox) and node c (Jira Server sandbox) are connected public-public;
the push is the real one (a's ingest, HTTP, c's node API). How a change was applied is
read from c's JSON log: a transaction line of the API's request carries ``request_id``, a
worker's carries the queue message's ``message_id``.
"""

from __future__ import annotations

import uuid

import pytest

from chalicelib.trackers.base import IssueFields
from tests.stack.conftest import connect, eventually, synced_issue, tracker_as, waiting
from tests.stack.test_logs import events

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def cid(node_a, node_c):
    return connect(
        node_a,
        node_c,
        initiator_project="ALPHA",
        acceptor_project="OPS",
        destination_url=node_c.url,
    )


def applied_lines(local_stack, cid, remote):
    return events(
        local_stack,
        "c",
        "twin.transaction",
        connection_id=cid,
        issue_key=remote,
        direction="incoming",
    )


def test_a_change_is_applied_in_the_push_and_a_push_again_changes_nothing(
    local_stack, stack_info, node_a, node_c, cid
):
    alice_a, alice_c = tracker_as(stack_info, "a"), tracker_as(stack_info, "b")
    key, remote = synced_issue(node_a, cid, alice_a, f"inline {uuid.uuid4().hex[:6]}")
    eventually(lambda: applied_lines(local_stack, cid, remote))  # the first sync, queued

    alice_a.update_issue(key, IssueFields(summary="edited once"))
    eventually(lambda: alice_c.get_issue(remote).summary == "edited once")

    def edit_line():
        found = [
            line
            for line in applied_lines(local_stack, cid, remote)
            if line.get("outcome") == "applied" and line.get("changes")
        ]
        return found[-1] if len(found) >= 2 else None

    line = eventually(edit_line)
    assert line.get("request_id") and not line.get("message_id"), line  # in the push
    shown = waiting(node_c, cid)["incoming"]
    assert shown["pending"] == 0 and shown["oldest_age_s"] is None  # nothing in the inbox
    twin = node_c.get(f"/api/v1/connections/{cid}/twins/{remote}").json()
    assert twin["status"] == "synced"
