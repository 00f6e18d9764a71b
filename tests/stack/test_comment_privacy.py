"""Restricted comments stay restricted, over the local stack (issue 14): node a (Jira Cloud
sandbox "a") and node c (public, Jira Server sandbox "b"), script mode, real processes.

- a comment Alice restricts to a role on a does not leave a when the outgoing script sends
  only public comments (Cloud marks every platform comment ``jsdPublic: true``; its
  ``visibility`` is what restricts it);
- a comment written on c as internal (``merge_comments(public=False)``) is restricted to the
  connection's role on Jira Server: a user outside the role does not see it, and what the
  role is can be set per connection.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from chalicelib.trackers.base import Body, IssueFields
from devstack.sandbox_jira.admin import SandboxAdmin
from tests.stack.conftest import eventually, tracker_as

pytestmark = pytest.mark.stack

OUTGOING = """\
replica.summary = issue.summary
replica.type = issue.type
replica.comments = [c for c in issue.comments if c.public]
"""

INCOMING = """\
if changed("summary"):
    issue.summary = replica.summary
if first_sync:
    issue.type = get_issue_type(replica.type)
issue.comments = merge_comments(replica.comments, public=False)
"""


def adf(text: str) -> dict[str, Any]:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


@pytest.fixture(scope="module")
def private(stack_info, node_a, node_c) -> str:
    created = node_a.post(
        "/api/v1/connections",
        {
            "destination_url": node_c.url,
            "mode": "script",
            "local_short_name": "Acme",
            "remote_short_name": "Initech",
            "name": f"privacy-{uuid.uuid4().hex[:6]}",
            "incoming_project": "ALPHA",
        },
    )
    assert created.status_code == 201, created.text
    accepted = node_c.post(
        "/api/v1/invitations/accept",
        {"invitation_code": created.json()["invitation_code"], "incoming_project": "SUP"},
    )
    assert accepted.status_code == 201, accepted.text
    cid = accepted.json()["connection"]["id"]
    for node in (node_a, node_c):
        changed = node.patch(
            f"/api/v1/connections/{cid}", {"outgoing_script": OUTGOING, "incoming_script": INCOMING}
        )
        assert changed.status_code == 200, changed.text
    return cid


def rest(stack_info, tracker: str, who: dict[str, str]) -> requests.Session:
    """A plain REST session on sandbox ``tracker`` as ``who`` ({user, token}), as a browser
    user of Jira would be."""
    session = requests.Session()
    if stack_info["trackers"][tracker]["kind"] == "jira_cloud":
        session.auth = (who["user"], who["token"])
    else:
        session.headers["Authorization"] = f"Bearer {who['token']}"
    return session


def twin_on_c(node_a, cid: str, key: str) -> str:
    def remote_key():
        twin = node_a.get(f"/api/v1/connections/{cid}/twins/{key}")
        return twin.status_code == 200 and (twin.json()["remote"] or {}).get("key")

    return eventually(remote_key)


def test_a_comment_restricted_on_cloud_does_not_reach_the_partner(stack_info, node_a, private):
    alice_a, alice_c = tracker_as(stack_info, "a"), tracker_as(stack_info, "b")
    ref = alice_a.create_issue(
        "ALPHA", IssueFields(summary=f"Private {uuid.uuid4().hex[:6]}", issue_type="Task")
    )
    # Alice restricts a comment to the Administrators role, as Jira's comment box lets her
    a_url = stack_info["trackers"]["a"]["url"]
    session = rest(stack_info, "a", stack_info["trackers"]["a"]["user"])
    restricted = session.post(
        f"{a_url}/rest/api/3/issue/{ref.key}/comment",
        json={
            "body": adf("Admins only: the customer's card number"),
            "visibility": {"type": "role", "value": "Administrators"},
        },
    )
    assert restricted.status_code == 201, restricted.text
    assert restricted.json()["jsdPublic"] is True  # as Jira Cloud says of every comment
    alice_a.add_comment(ref.key, Body("adf", adf("Everyone may read this")))

    answer = node_a.post(f"/api/v1/connections/{private}/sync", {"issue_key": ref.key})
    assert answer.status_code == 202, answer.text
    twin = twin_on_c(node_a, private, ref.key)

    # both comments were on the issue when it was read: the public one arriving shows the
    # restricted one was left out, not late (merge_comments writes them in order)
    def texts() -> list[str]:
        return [str(c.body.value) for c in alice_c.get_issue(twin).comments]

    arrived = eventually(lambda: any("Everyone may read this" in t for t in texts()) and texts())
    assert not any("card number" in t for t in arrived)
    assert len(arrived) == 1


def server_user(stack_info, groups: list[str]) -> dict[str, str]:
    """A new user of sandbox b who is in ``groups`` only: {user, token}."""
    name = f"olive{uuid.uuid4().hex[:6]}"
    created = SandboxAdmin(stack_info["trackers"]["b"]["url"]).create_user(
        display_name="Olive", name=name, token=f"{name}-pat", groups=groups
    )
    return {"user": name, "token": created["token"]}


def internal_on_c(stack_info, node_a, cid: str, text: str) -> tuple[str, dict[str, Any]]:
    """Alice comments on a new issue on a; it syncs to c as an internal comment: (the twin's
    key on c, the comment as Alice, a member of every group on c, reads it)."""
    alice_a = tracker_as(stack_info, "a")
    ref = alice_a.create_issue(
        "ALPHA", IssueFields(summary=f"Internal {uuid.uuid4().hex[:6]}", issue_type="Task")
    )
    alice_a.add_comment(ref.key, Body("adf", adf(text)))
    node_a.post(f"/api/v1/connections/{cid}/sync", {"issue_key": ref.key})
    twin = twin_on_c(node_a, cid, ref.key)
    (written,) = eventually(
        lambda: comments_on_b(stack_info, stack_info["trackers"]["b"]["user"], twin)
    )
    assert text in written["body"]
    return twin, written


def comments_on_b(stack_info, who: dict[str, str], key: str) -> list[dict[str, Any]]:
    b_url = stack_info["trackers"]["b"]["url"]
    page = rest(stack_info, "b", who).get(f"{b_url}/rest/api/2/issue/{key}/comment")
    assert page.status_code == 200, page.text
    return list(page.json()["comments"])


def test_an_internal_comment_on_server_is_restricted_to_the_role(
    stack_info, node_a, node_c, private
):
    twin, written = internal_on_c(stack_info, node_a, private, "Written on a, internal on c")
    assert written["visibility"] == {"type": "role", "value": "Administrators"}
    assert tracker_as(stack_info, "b").get_issue(twin).comments[0].public is False
    # a user of c outside the Administrators role does not see it
    olive = server_user(stack_info, ["jira-users"])
    assert comments_on_b(stack_info, olive, twin) == []

    # per connection: c's end restricts its internal comments to a group instead
    group = {"type": "group", "value": "jira-developers"}
    changed = node_c.patch(f"/api/v1/connections/{private}", {"private_comment_visibility": group})
    assert changed.status_code == 200, changed.text
    twin, written = internal_on_c(stack_info, node_a, private, "For the developers of c")
    assert written["visibility"] == group
    developer = server_user(stack_info, ["jira-developers"])
    assert [c["id"] for c in comments_on_b(stack_info, developer, twin)] == [written["id"]]
    assert comments_on_b(stack_info, olive, twin) == []
