"""A public-private connection syncs as fully as a public-public one (reference pages 000-002).

Node a is public (Jira Cloud sandbox); node b is private (Jira Server sandbox, "Jira
on-premise"): nobody can call it. The admin of a initiates with "I don't have a URL", the
admin of b accepts the invitation code; from then on b only ever calls out: it pushes its
changes and long-polls a for a's.
"""

from __future__ import annotations

import re
import time
import uuid

import pytest

from chalicelib.trackers.base import Body, IssueFields
from tests.stack.conftest import connect, eventually, tracker_as, twin_key, waiting

pytestmark = pytest.mark.stack


def adf(text: str) -> dict:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


@pytest.fixture(scope="module")
def cid(node_a, node_b):
    """Pages 000/001: initiate on the public side without a URL, accept on the private side."""
    return connect(node_a, node_b, initiator_project="ALPHA", acceptor_project="OPS")


@pytest.fixture(scope="module")
def alice_a(stack_info):
    return tracker_as(stack_info, "a")


@pytest.fixture(scope="module")
def alice_b(stack_info):
    return tracker_as(stack_info, "b")


def test_the_connection_shows_the_private_side_as_having_no_address(node_a, node_b, cid):
    a_end = node_a.get(f"/api/v1/connections/{cid}").json()
    b_end = node_b.get(f"/api/v1/connections/{cid}").json()
    assert a_end["status"] == b_end["status"] == "active"
    assert a_end["remote"]["url"] is None and a_end["remote"]["public"] is False
    assert b_end["remote"]["url"] == node_a.url and b_end["remote"]["public"] is True


def test_first_issue_then_changes_both_ways(local_stack, node_a, node_b, cid, alice_a, alice_b):
    tag = uuid.uuid4().hex[:8]
    ref = alice_a.create_issue(
        "ALPHA",
        IssueFields(
            summary=f"VPN down {tag}", description=Body("adf", adf("No VPN")), issue_type="Story"
        ),
    )
    alice_a.add_comment(ref.key, Body("adf", adf("Since 8am")))
    alice_a.upload_attachment(ref.key, "trace.log", b"timeout after 30s", "text/plain")
    started = time.monotonic()
    assert node_a.post(f"/api/v1/connections/{cid}/sync", {"issue_key": ref.key}).status_code == 202

    remote = eventually(lambda: twin_key(node_a, cid, ref.key))
    twin = alice_b.get_issue(remote)
    assert twin.summary == f"VPN down {tag}"
    assert twin.issue_type == "Task"  # OPS has no Story and its default type is Task
    assert "No VPN" in twin.description.value and twin.description.format == "wiki"
    eventually(lambda: len(alice_b.get_issue(remote).comments) == 1)
    eventually(lambda: len(alice_b.get_issue(remote).attachments) == 1)
    attachment = alice_b.get_issue(remote).attachments[0]
    assert alice_b.download_attachment(attachment.id) == b"timeout after 30s"
    assert time.monotonic() - started < 30

    # the private side changes things: they reach the public side with only outbound calls
    alice_b.update_issue(remote, IssueFields(summary=f"VPN back {tag}"))
    alice_b.add_comment(remote, Body("wiki", "Restarted the *concentrator*"))
    alice_b.upload_attachment(remote, "fix.txt", b"restarted", "text/plain")
    eventually(lambda: alice_a.get_issue(ref.key).summary == f"VPN back {tag}")
    eventually(lambda: len(alice_a.get_issue(ref.key).comments) == 2)
    eventually(lambda: len(alice_a.get_issue(ref.key).attachments) == 2)
    fix = next(a for a in alice_a.get_issue(ref.key).attachments if a.filename == "fix.txt")
    assert alice_a.download_attachment(fix.id) == b"restarted"
    assert "concentrator" in str(alice_a.get_issue(ref.key).comments[-1].body.value)

    # comment edits and deletions follow from the public side too
    first = alice_a.get_issue(ref.key).comments[0]
    alice_a.update_comment(ref.key, first.id, Body("adf", adf("Since 7am")))
    eventually(lambda: any("7am" in str(c.body.value) for c in alice_b.get_issue(remote).comments))
    alice_a.delete_comment(ref.key, first.id)
    eventually(lambda: len(alice_b.get_issue(remote).comments) == 1)


def test_the_public_node_never_calls_the_private_one(local_stack, node_b, cid):
    log = local_stack.nodes["b"].log_path.read_text()
    paths = re.findall(r"access (\w+) (\S+) ", log)
    assert paths, "the access log is empty: nothing to judge by"
    # /node/v1/info is open and this suite asks it itself; a peer's calls are the rest
    assert not [p for _, p in paths if p.startswith("/node/") and p != "/node/v1/info"]


def test_public_side_down_for_a_while_then_private_side_catches_up(
    local_stack, node_a, node_b, cid, alice_a, alice_b
):
    tag = uuid.uuid4().hex[:8]
    ref = alice_a.create_issue("ALPHA", IssueFields(summary=f"Outage {tag}", issue_type="Bug"))
    node_a.post(f"/api/v1/connections/{cid}/sync", {"issue_key": ref.key})
    remote = eventually(lambda: twin_key(node_a, cid, ref.key))
    local_stack.stop_node("a")
    try:
        alice_b.update_issue(remote, IssueFields(summary=f"Changed while a was down {tag}"))
        # b has read the change and holds it for a, which has not acknowledged it
        eventually(lambda: waiting(node_b, cid)["outgoing"]["pending"] >= 1)
    finally:
        local_stack.start_node("a")
    eventually(
        lambda: alice_a.get_issue(ref.key).summary == f"Changed while a was down {tag}", timeout=60
    )


def test_private_side_down_for_a_while_then_it_catches_up(
    local_stack, node_a, node_b, cid, alice_a, alice_b
):
    tag = uuid.uuid4().hex[:8]
    ref = alice_a.create_issue("ALPHA", IssueFields(summary=f"Away {tag}", issue_type="Bug"))
    node_a.post(f"/api/v1/connections/{cid}/sync", {"issue_key": ref.key})
    remote = eventually(lambda: twin_key(node_a, cid, ref.key))
    local_stack.stop_node("b")
    try:
        alice_a.update_issue(ref.key, IssueFields(summary=f"Changed while b was away {tag}"))

        # the public side shows how far behind its private peer is
        def behind():
            lag = node_a.get(f"/api/v1/connections/{cid}").json()["peer_lag"]
            assert lag["pending"] >= 1 and lag["oldest_pending_age_s"] >= 1
            assert lag["last_pull_at"] is not None
            return True

        eventually(behind)
    finally:
        local_stack.start_node("b")
    eventually(
        lambda: alice_b.get_issue(remote).summary == f"Changed while b was away {tag}", timeout=60
    )
