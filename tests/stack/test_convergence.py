"""Twins converge: edits on both trackers at once end the same on both sides, none lost.

Node a (Jira Cloud sandbox) and node c (Jira Server sandbox), connected public-public.
Each test pauses the connection so that both sides' changes meet on activation: the
order in which they then arrive is the one the merge must not depend on.
"""

from __future__ import annotations

import uuid

import pytest

from chalicelib.trackers.base import Body, IssueFields
from tests.stack.conftest import connect, eventually, synced_issue, tracker_as, twin_key

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def cid(node_a, node_c):
    return connect(
        node_a, node_c, initiator_project="BETA", acceptor_project="SUP", destination_url=node_c.url
    )


@pytest.fixture(scope="module")
def alice_a(stack_info):
    return tracker_as(stack_info, "a")


@pytest.fixture(scope="module")
def bob_c(stack_info):
    return tracker_as(stack_info, "b")


def queued_changes(node, cid: str, key: str) -> list[str]:
    """Names of the fields this node has queued for the other side, newest transaction first."""
    history = node.get(f"/api/v1/connections/{cid}/twins/{key}/history").json()
    return [c for h in history if h["direction"] == "outgoing" for c in h["changes"]]


def pause(node_a, node_c, cid: str) -> None:
    assert node_c.post(f"/api/v1/connections/{cid}/deactivate").status_code == 200
    eventually(lambda: node_a.get(f"/api/v1/connections/{cid}").json()["status"] == "deactivated")


def resume(node_a, node_c, cid: str) -> None:
    assert node_c.post(f"/api/v1/connections/{cid}/activate").status_code == 200
    eventually(lambda: node_a.get(f"/api/v1/connections/{cid}").json()["status"] == "active")


def outgoing_count(node, cid: str, key: str) -> int:
    history = node.get(f"/api/v1/connections/{cid}/twins/{key}/history").json()
    return len([h for h in history if h["direction"] == "outgoing"])


def test_the_same_summary_edited_on_both_sides_ends_as_the_later_edit_on_both(
    node_a, node_c, cid, alice_a, bob_c
):
    tag = uuid.uuid4().hex[:8]
    key, remote = synced_issue(node_a, cid, alice_a, f"Both {tag}")
    eventually(lambda: bob_c.get_issue(remote).summary == f"Both {tag}")
    sent_a, sent_c = outgoing_count(node_a, cid, key), outgoing_count(node_c, cid, remote)
    pause(node_a, node_c, cid)

    alice_a.update_issue(key, IssueFields(summary=f"Alice's title {tag}"))
    eventually(lambda: outgoing_count(node_a, cid, key) > sent_a)  # a has queued its edit
    bob_c.update_issue(remote, IssueFields(summary=f"Bob's later title {tag}"))
    eventually(lambda: outgoing_count(node_c, cid, remote) > sent_c)  # and c its own
    resume(node_a, node_c, cid)

    later = f"Bob's later title {tag}"
    eventually(
        lambda: alice_a.get_issue(key).summary == later and bob_c.get_issue(remote).summary == later
    )
    # both ends recorded the same conflict, decided the same way
    twin_a = eventually(lambda: _with_conflict(node_a, cid, key))
    twin_c = eventually(lambda: _with_conflict(node_c, cid, remote))
    (conflict_a,) = twin_a["conflicts"]
    (conflict_c,) = twin_c["conflicts"]
    assert conflict_a["field"] == conflict_c["field"] == "summary"
    assert conflict_a["winner"] == "remote" and conflict_a["remote_value"] == later
    assert conflict_c["winner"] == "local" and conflict_c["local_value"] == later
    history = node_a.get(f"/api/v1/connections/{cid}/twins/{key}/history").json()
    assert any(h.get("conflicts") for h in history)


def _with_conflict(node, cid: str, key: str):
    twin = node.get(f"/api/v1/connections/{cid}/twins/{key}").json()
    return twin if twin.get("conflicts") else None


def test_an_echo_of_an_older_title_never_overwrites_a_newer_edit(
    node_a, node_c, cid, alice_a, bob_c
):
    tag = uuid.uuid4().hex[:8]
    key, remote = synced_issue(node_a, cid, alice_a, f"Echo {tag}")
    bob_c.update_issue(remote, IssueFields(summary=f"Renamed by Bob {tag}"))
    eventually(lambda: alice_a.get_issue(key).summary == f"Renamed by Bob {tag}")
    sent_a, sent_c = outgoing_count(node_a, cid, key), outgoing_count(node_c, cid, remote)
    pause(node_a, node_c, cid)

    # Alice only comments: a's next replica carries Bob's first title as a has it
    alice_a.add_comment(key, Body("adf", _paragraph(f"Looks good {tag}")))
    eventually(lambda: outgoing_count(node_a, cid, key) > sent_a)
    # meanwhile Bob renamed again, not yet sent to a
    bob_c.update_issue(remote, IssueFields(summary=f"Renamed again by Bob {tag}"))
    eventually(lambda: outgoing_count(node_c, cid, remote) > sent_c)
    resume(node_a, node_c, cid)

    newest = f"Renamed again by Bob {tag}"
    eventually(
        lambda: any(f"Looks good {tag}" in str(c.body.value) for c in _comments(bob_c, remote))
    )
    eventually(lambda: alice_a.get_issue(key).summary == newest)
    assert bob_c.get_issue(remote).summary == newest
    twin_c = node_c.get(f"/api/v1/connections/{cid}/twins/{remote}").json()
    assert twin_c["conflicts"] == []  # an echo is no conflict


def test_an_edit_on_one_side_and_a_different_field_on_the_other_both_survive(
    node_a, node_c, cid, alice_a, bob_c
):
    tag = uuid.uuid4().hex[:8]
    key, remote = synced_issue(node_a, cid, alice_a, f"Fields {tag}")
    sent_a, sent_c = outgoing_count(node_a, cid, key), outgoing_count(node_c, cid, remote)
    pause(node_a, node_c, cid)

    alice_a.update_issue(key, IssueFields(summary=f"Alice renamed {tag}"))
    eventually(lambda: outgoing_count(node_a, cid, key) > sent_a)
    bob_c.update_issue(remote, IssueFields(description=Body("wiki", f"Bob described {tag}")))
    eventually(lambda: outgoing_count(node_c, cid, remote) > sent_c)
    resume(node_a, node_c, cid)

    def converged() -> bool:
        a, c = alice_a.get_issue(key), bob_c.get_issue(remote)
        return (
            a.summary == c.summary == f"Alice renamed {tag}"
            and f"Bob described {tag}" in str(a.description.value if a.description else "")
            and f"Bob described {tag}" in str(c.description.value if c.description else "")
        )

    eventually(converged)
    twin_a = node_a.get(f"/api/v1/connections/{cid}/twins/{key}").json()
    assert twin_a["conflicts"] == []


def _paragraph(text: str) -> dict:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


def _comments(tracker, key: str):
    return tracker.get_issue(key).comments


OUTGOING = """\
replica.summary = issue.summary
replica.type = issue.type
replica.labels = issue.labels
"""

INCOMING = """\
if changed("summary"):
    issue.summary = replica.summary
if first_sync:
    issue.type = get_issue_type(replica.type)
if changed("labels"):
    issue.labels = replica.labels
"""


def script_connection(node_a, node_c) -> str:
    """A Script-mode connection a (ALPHA) ↔ c (SUP) syncing summary and labels both ways."""
    cid = connect(
        node_a,
        node_c,
        initiator_project="ALPHA",
        acceptor_project="SUP",
        destination_url=node_c.url,
        mode="script",
    )
    for node in (node_a, node_c):
        changed = node.patch(
            f"/api/v1/connections/{cid}", {"outgoing_script": OUTGOING, "incoming_script": INCOMING}
        )
        assert changed.status_code == 200, changed.text
    return cid


@pytest.fixture(scope="module")
def scripted(node_a, node_c):
    return script_connection(node_a, node_c)


def test_labels_changed_on_both_sides_keep_every_add_and_remove(
    node_a, node_c, scripted, alice_a, bob_c
):
    tag = uuid.uuid4().hex[:8]
    ref = alice_a.create_issue(
        "ALPHA",
        IssueFields(summary=f"Labels {tag}", issue_type="Task", labels=("backend", "customer")),
    )
    assert node_a.post(f"/api/v1/connections/{scripted}/sync", {"issue_key": ref.key}).ok
    remote = eventually(lambda: twin_key(node_a, scripted, ref.key))
    eventually(lambda: set(bob_c.get_issue(remote).labels) == {"backend", "customer"})
    sent_a = outgoing_count(node_a, scripted, ref.key)
    sent_c = outgoing_count(node_c, scripted, remote)
    pause(node_a, node_c, scripted)

    alice_a.update_issue(ref.key, IssueFields(labels=("backend", "urgent")))  # - customer + urgent
    eventually(lambda: outgoing_count(node_a, scripted, ref.key) > sent_a)
    bob_c.update_issue(remote, IssueFields(labels=("backend", "customer", "ios")))  # + ios
    eventually(lambda: outgoing_count(node_c, scripted, remote) > sent_c)
    resume(node_a, node_c, scripted)

    both = {"backend", "ios", "urgent"}
    eventually(
        lambda: (
            set(alice_a.get_issue(ref.key).labels) == both
            and set(bob_c.get_issue(remote).labels) == both
        )
    )
    for node, key in ((node_a, ref.key), (node_c, remote)):
        twin = eventually(lambda node=node, key=key: _with_conflict(node, scripted, key))
        (conflict,) = twin["conflicts"]
        assert conflict["field"] == "labels" and conflict["winner"] == "both"
        assert conflict["value"] == '["backend","ios","urgent"]'


KEEP_A = [
    {
        "side": "local",
        "direction": "incoming",
        "fields": [
            {"field": "summary", "on_conflict": "keep"},
            {"field": "description"},
            {"field": "issue_type"},
            {"field": "comments"},
        ],
    }
]


def test_a_visual_rule_keeps_one_sides_summary_on_a_conflict(node_a, node_c, alice_a, bob_c):
    cid = connect(
        node_a,
        node_c,
        initiator_project="BETA",
        acceptor_project="SUP",
        destination_url=node_c.url,
        mode="visual",
    )
    saved = node_a.patch(f"/api/v1/connections/{cid}", {"mappings": KEEP_A})
    assert saved.status_code == 200, saved.text
    tag = uuid.uuid4().hex[:8]
    key, remote = synced_issue(node_a, cid, alice_a, f"Rule {tag}")
    eventually(lambda: bob_c.get_issue(remote).summary == f"Rule {tag}")
    sent_a, sent_c = outgoing_count(node_a, cid, key), outgoing_count(node_c, cid, remote)
    pause(node_a, node_c, cid)

    alice_a.update_issue(key, IssueFields(summary=f"Acme's title {tag}"))  # earlier, kept
    eventually(lambda: outgoing_count(node_a, cid, key) > sent_a)
    bob_c.update_issue(remote, IssueFields(summary=f"Initech's later title {tag}"))
    eventually(lambda: outgoing_count(node_c, cid, remote) > sent_c)
    resume(node_a, node_c, cid)

    kept = f"Acme's title {tag}"
    eventually(
        lambda: alice_a.get_issue(key).summary == kept and bob_c.get_issue(remote).summary == kept
    )
    for node, issue_key in ((node_a, key), (node_c, remote)):
        twin = eventually(lambda node=node, k=issue_key: _with_conflict(node, cid, k))
        (conflict,) = twin["conflicts"]
        assert conflict["field"] == "summary" and conflict["value"] == kept


def test_a_script_end_that_keeps_its_summary_wins_the_conflict_on_both_sides(
    node_a, node_c, alice_a, bob_c
):
    cid = script_connection(node_a, node_c)
    # only c's admin says so: c's summary is kept when both sides changed it
    kept_rule = node_c.patch(f"/api/v1/connections/{cid}", {"conflict_rules": {"summary": "keep"}})
    assert kept_rule.status_code == 200, kept_rule.text
    tag = uuid.uuid4().hex[:8]
    ref = alice_a.create_issue("ALPHA", IssueFields(summary=f"Kept {tag}", issue_type="Task"))
    assert node_a.post(f"/api/v1/connections/{cid}/sync", {"issue_key": ref.key}).ok
    remote = eventually(lambda: twin_key(node_a, cid, ref.key))
    eventually(lambda: bob_c.get_issue(remote).summary == f"Kept {tag}")
    sent_a, sent_c = outgoing_count(node_a, cid, ref.key), outgoing_count(node_c, cid, remote)
    pause(node_a, node_c, cid)

    bob_c.update_issue(remote, IssueFields(summary=f"Initech's title {tag}"))  # earlier, kept
    eventually(lambda: outgoing_count(node_c, cid, remote) > sent_c)
    alice_a.update_issue(ref.key, IssueFields(summary=f"Acme's later title {tag}"))
    eventually(lambda: outgoing_count(node_a, cid, ref.key) > sent_a)
    resume(node_a, node_c, cid)

    kept = f"Initech's title {tag}"
    eventually(
        lambda: (
            alice_a.get_issue(ref.key).summary == kept and bob_c.get_issue(remote).summary == kept
        )
    )
