"""Sync your first issue, then keep up: Basic mode between two public nodes over loopback.

Node a (Jira Cloud sandbox, ADF) and node c (Jira Server sandbox, wiki markup) are connected
the way reference page 003 describes (destination URL, no admin access: an invitation
code). Then Alice works in her Jira as usual and the twins follow.
"""

from __future__ import annotations

import uuid

import pytest

from chalicelib.trackers.base import Body, IssueFields
from tests.stack.conftest import eventually, tracker_as

pytestmark = pytest.mark.stack


def adf(text: str) -> dict:
    return {
        "type": "doc",
        "version": 1,
        "content": [
            {
                "type": "paragraph",
                "content": [{"type": "text", "text": text, "marks": [{"type": "strong"}]}],
            }
        ],
    }


@pytest.fixture(scope="module")
def connection(node_a, node_c):
    """Initiate on a with c's URL, accept on c: both ends active."""
    name = f"acme-initech-{uuid.uuid4().hex[:6]}"
    created = node_a.post(
        "/api/v1/connections",
        {
            "destination_url": node_c.url,
            "mode": "basic",
            "local_short_name": "Acme",
            "remote_short_name": "Initech",
            "name": name,
            "description": "Support escalations",
            "incoming_project": "ALPHA",
            "admin_access": False,
        },
    )
    assert created.status_code == 201, created.text
    code = created.json()["invitation_code"]
    accepted = node_c.post(
        "/api/v1/invitations/accept", {"invitation_code": code, "incoming_project": "SUP"}
    )
    assert accepted.status_code == 201, accepted.text
    cid = accepted.json()["connection"]["id"]
    assert node_a.get(f"/api/v1/connections/{cid}").json()["status"] == "active"
    return cid


def find_in(tracker, project: str, summary: str):
    page = tracker.search(f'project = {project} AND summary ~ "{summary}"')
    return tracker.get_issue(page.issues[0].key) if page.issues else None


def test_sync_your_first_issue_and_every_later_change_both_ways(
    stack_info, node_a, node_c, connection
):
    alice_a = tracker_as(stack_info, "a")
    alice_c = tracker_as(stack_info, "b")
    tag = uuid.uuid4().hex[:8]
    ref = alice_a.create_issue(
        "ALPHA",
        IssueFields(
            summary=f"Printer on fire {tag}",
            description=Body("adf", adf("It smokes")),
            issue_type="Bug",
        ),
    )
    alice_a.add_comment(ref.key, Body("adf", adf("First seen at 9am")))
    alice_a.upload_attachment(ref.key, "smoke.txt", b"lots of smoke", "text/plain")

    # "Sync your first issue"
    started = node_a.post(f"/api/v1/connections/{connection}/sync", {"issue_key": ref.key})
    assert started.status_code == 202, started.text
    assert started.json()["local"]["key"] == ref.key

    twin = eventually(lambda: find_in(alice_c, "SUP", tag))
    assert twin.summary == f"Printer on fire {tag}"
    assert twin.issue_type == "Bug"
    assert twin.description.format == "wiki" and "*It smokes*" in twin.description.value
    eventually(lambda: len(alice_c.get_issue(twin.key).comments) == 1)
    eventually(lambda: len(alice_c.get_issue(twin.key).attachments) == 1)
    synced = alice_c.get_issue(twin.key)
    assert "Acme" in synced.comments[0].body.value and "First seen" in synced.comments[0].body.value
    assert alice_c.download_attachment(synced.attachments[0].id) == b"lots of smoke"

    shown = eventually(
        lambda: (
            (t := node_a.get(f"/api/v1/connections/{connection}/twins/{ref.key}").json())
            and t["remote"]
            and t
        )
    )
    assert shown["remote"]["key"] == twin.key and shown["status"] == "synced"

    # a type change follows by name (c's SUP has Bug and Task; a's ALPHA has Story too)
    alice_a.update_issue(ref.key, IssueFields(issue_type="Task"))
    eventually(lambda: alice_c.get_issue(twin.key).issue_type == "Task")
    alice_a.update_issue(ref.key, IssueFields(issue_type="Story"))  # SUP has none: default
    # a later change to the same issue: once it arrives, the Story change was applied too
    # (ingest reads the whole issue, and an issue's changes go through in order)
    alice_a.update_issue(ref.key, IssueFields(summary=f"Printer on fire, typed {tag}"))
    eventually(lambda: alice_c.get_issue(twin.key).summary == f"Printer on fire, typed {tag}")
    assert alice_c.get_issue(twin.key).issue_type == "Task"

    # a change on the other side comes back
    alice_c.update_issue(twin.key, IssueFields(summary=f"Printer fixed {tag}"))
    alice_c.add_comment(twin.key, Body("wiki", "Replaced the _fuser_"))
    eventually(lambda: alice_a.get_issue(ref.key).summary == f"Printer fixed {tag}")
    eventually(lambda: len(alice_a.get_issue(ref.key).comments) == 2)
    back = alice_a.get_issue(ref.key).comments[-1]
    assert back.body.format == "adf"
    assert "Initech" in str(back.body.value) and "fuser" in str(back.body.value)

    # and a later change on the first side too, edits and deletions included
    first_comment = alice_a.get_issue(ref.key).comments[0]
    alice_a.update_comment(ref.key, first_comment.id, Body("adf", adf("First seen at 8am")))
    eventually(lambda: "8am" in str(alice_c.get_issue(twin.key).comments[0].body.value))
    alice_a.delete_comment(ref.key, first_comment.id)
    eventually(lambda: len(alice_c.get_issue(twin.key).comments) == 1)

    # nothing echoed: a has exactly its own comment plus the one from c
    assert len(alice_a.get_issue(ref.key).comments) == 1
    history = node_a.get(f"/api/v1/connections/{connection}/twins/{ref.key}/history").json()
    assert {h["direction"] for h in history} == {"incoming", "outgoing"}
