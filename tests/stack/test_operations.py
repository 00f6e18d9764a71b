"""Operations over the local stack: triggers, bulk sync, connect, stop syncing, deletion,
history and audit.

Node a (Jira Cloud sandbox, projects ALPHA/BETA) and node c (Jira Server sandbox, SUP) are
connected public-public; node b (private, OPS) shows that a stop reaches a private peer
through the outbox it pulls. Every test tags its issues so that queries only see its own.
"""

from __future__ import annotations

import json
import uuid

import pytest

from chalicelib.trackers.base import IssueFields
from tests.factories.link_pages import items, walk
from tests.stack.conftest import (
    connect,
    eventually,
    issue_requests,
    reread_by_node,
    tracker_as,
    twin_key,
    waiting,
)

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def cid(node_a, node_c):
    return connect(
        node_a,
        node_c,
        initiator_project="ALPHA",
        acceptor_project="SUP",
        destination_url=node_c.url,
    )


@pytest.fixture(scope="module")
def alice_a(stack_info):
    return tracker_as(stack_info, "a")


@pytest.fixture(scope="module")
def alice_c(stack_info):
    return tracker_as(stack_info, "b")


def tag() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


def twin(node, cid, key):
    response = node.get(f"/api/v1/connections/{cid}/twins/{key}")
    return response.json() if response.status_code == 200 else None


def keys_matching(tracker, jql: str) -> list[str]:
    found, cursor = [], None
    while True:
        page = tracker.search(jql, cursor=cursor, limit=100)
        found += [ref.key for ref in page.issues]
        cursor = page.next_cursor
        if not cursor or not page.issues:
            return found


def create(tracker, project: str, summary: str) -> str:
    return tracker.create_issue(project, IssueFields(summary=summary, issue_type="Task")).key


def test_a_trigger_syncs_a_newly_created_matching_issue_without_any_manual_step(
    node_a, cid, alice_a, alice_c
):
    t = tag()
    refused = node_a.post(f"/api/v1/connections/{cid}/triggers", {"jql": "project = (BETA"})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_jql"
    made = node_a.post(
        f"/api/v1/connections/{cid}/triggers",
        {"jql": f'project = BETA AND summary ~ "{t}"', "note": "escalations"},
    )
    assert made.status_code == 201, made.text
    trigger = made.json()
    try:
        early = create(alice_a, "BETA", f"Existing {t}")
        preview = node_a.post(
            f"/api/v1/connections/{cid}/triggers/preview", {"jql": f'summary ~ "{t}"'}
        ).json()
        assert preview["count"] == 1 and preview["sample_keys"] == [early]

        key = create(alice_a, "BETA", f"Printer on fire {t}")
        remote = eventually(lambda: twin_key(node_a, cid, key), timeout=60)
        assert alice_c.get_issue(remote).summary == f"Printer on fire {t}"
        assert eventually(lambda: twin(node_a, cid, key)["status"] == "synced")
        history = node_a.get(f"/api/v1/connections/{cid}/twins/{key}/history").json()
        assert "put under sync by a trigger" in [h["outcome"] for h in history]
        # once: a later change syncs as usual, nothing is created twice
        alice_a.update_issue(key, IssueFields(summary=f"Printer still on fire {t}"))
        eventually(lambda: alice_c.get_issue(remote).summary == f"Printer still on fire {t}")
        assert len(keys_matching(alice_c, f'project = SUP AND summary ~ "{t}"')) == 2
    finally:
        node_a.delete(f"/api/v1/connections/{cid}/triggers/{trigger['id']}")
    audit = node_a.get(f"/api/v1/audit?connection_id={cid}").json()
    assert {"trigger.created", "trigger.deleted"} <= {e["action"] for e in audit}


def run_bulk_sync(local_stack, node_a, cid, alice_a, alice_c, count: int) -> dict:
    t = tag()
    keys = [create(alice_a, "BETA", f"Bulk {t} {n}") for n in range(count)]
    sandbox = local_stack.trackers["a"].admin
    sandbox.faults(latency_ms=300, match="/search")  # walking the pages takes a while
    try:
        started = node_a.post(
            f"/api/v1/connections/{cid}/bulk-sync",
            {"jql": f'project = BETA AND summary ~ "{t}"', "page_size": 10},
        )
        assert started.status_code == 202, started.text
        job_id = started.json()["job_id"]
        # the tracker fails while the step walks the pages: the step dies mid-way
        sandbox.faults(fail_next=2, error_status=503)

        def progress():
            return node_a.get(f"/api/v1/jobs/{job_id}").json()

        listed = eventually(lambda: (p := progress())["total_known"] and p, timeout=180)
    finally:
        sandbox.clear_faults()
    assert listed["total"] == count
    seen = eventually(lambda: (p := progress())["done"] > 0 and p, timeout=180)
    assert seen["state"] == "running" and seen["rate_per_hour"] is not None
    # generous bounds: a shared machine under load is slow, and a wait ends at the event
    final = eventually(lambda: (p := progress())["state"] == "done" and p, timeout=90 + 3 * count)
    assert (final["total"], final["done"], final["failed"]) == (count, count, 0), final
    assert final["restarted_steps"] >= 1, final  # it died, and went on from where it was
    twins = [twin(node_a, cid, key) for key in keys]
    assert all(tw and tw["status"] == "synced" and tw["remote"] for tw in twins)
    remote = keys_matching(alice_c, f'project = SUP AND summary ~ "{t}"')
    assert len(remote) == count == len({tw["remote"]["key"] for tw in twins})
    return final


def test_a_bulk_job_over_30_issues_survives_a_killed_step_and_leaves_30_twins(
    local_stack, node_a, cid, alice_a, alice_c
):
    run_bulk_sync(local_stack, node_a, cid, alice_a, alice_c, 30)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_bulk_job_over_300_issues_survives_a_killed_step_and_leaves_300_twins(
    local_stack, node_a, cid, alice_a, alice_c
):
    final = run_bulk_sync(local_stack, node_a, cid, alice_a, alice_c, 300)
    assert final["steps"] >= 2


def test_connect_links_two_existing_issues_and_syncs_later_changes_without_a_third(
    node_a, node_c, cid, alice_a, alice_c
):
    t = tag()
    mine = create(alice_a, "ALPHA", f"Ours {t}")
    theirs = create(alice_c, "SUP", f"Theirs {t}")
    answer = node_a.post(
        f"/api/v1/connections/{cid}/connect", {"local_key": mine, "remote_key": theirs}
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["remote"]["key"] == theirs
    eventually(lambda: twin(node_a, cid, mine)["status"] == "synced", timeout=60)
    assert twin(node_c, cid, theirs)["remote"]["key"] == mine
    alice_a.update_issue(mine, IssueFields(summary=f"Ours, changed {t}"))
    eventually(lambda: alice_c.get_issue(theirs).summary == f"Ours, changed {t}")
    alice_c.update_issue(theirs, IssueFields(summary=f"Theirs, changed {t}"))
    eventually(lambda: alice_a.get_issue(mine).summary == f"Theirs, changed {t}")
    assert keys_matching(alice_c, f'summary ~ "{t}"') == [theirs]
    assert keys_matching(alice_a, f'summary ~ "{t}"') == [mine]
    history = node_a.get(f"/api/v1/connections/{cid}/twins/{mine}/history").json()
    assert f"connect requested with {theirs}" in [h["outcome"] for h in history]


def test_stopping_sync_keeps_both_issues_and_later_changes_no_longer_flow(
    node_a, node_c, cid, alice_a, alice_c, local_stack, stack_info
):
    t = tag()
    key = create(alice_a, "ALPHA", f"Stop me {t}")
    assert node_a.post(f"/api/v1/connections/{cid}/sync", {"issue_key": key}).ok
    remote = eventually(lambda: twin_key(node_a, cid, key), timeout=60)
    eventually(lambda: twin(node_a, cid, key)["status"] == "synced")
    assert node_a.delete(f"/api/v1/connections/{cid}/twins/{key}").status_code == 204
    eventually(lambda: twin(node_c, cid, remote)["status"] == "stopped", timeout=60)
    assert twin(node_a, cid, key)["status"] == "stopped"

    here, there = alice_a.get_issue(key), alice_c.get_issue(remote)
    reads = {
        "a": len(issue_requests(local_stack, "a", here, method="GET")),
        "b": len(issue_requests(local_stack, "b", there, method="GET")),
    }
    alice_a.update_issue(key, IssueFields(summary=f"Changed here {t}"))
    alice_c.update_issue(remote, IssueFields(summary=f"Changed there {t}"))
    # each node's ingest heard of its change and re-read the issue; nothing was queued
    eventually(lambda: reread_by_node(local_stack, stack_info, "a", here, after=reads["a"]))
    eventually(lambda: reread_by_node(local_stack, stack_info, "b", there, after=reads["b"]))
    for node in (node_a, node_c):
        eventually(lambda node=node: waiting(node, cid)["outgoing"]["pending"] == 0)
        eventually(lambda node=node: waiting(node, cid)["incoming"]["pending"] == 0)
    assert alice_c.get_issue(remote).summary == f"Changed there {t}"
    assert alice_a.get_issue(key).summary == f"Changed here {t}"
    history = node_c.get(f"/api/v1/connections/{cid}/twins/{remote}/history").json()
    assert "stopped: stopped" in [h["outcome"] for h in history]
    audit = node_a.get(f"/api/v1/audit?connection_id={cid}").json()
    assert any(
        e["action"] == "twin.sync_stopped" and e["details"]["local_key"] == key for e in audit
    )


def test_a_stop_reaches_a_private_peer_through_its_outbox(node_a, node_b, stack_info, alice_a):
    private = connect(node_a, node_b, initiator_project="ALPHA", acceptor_project="OPS")
    try:
        alice_b = tracker_as(stack_info, "b")
        t = tag()
        key = create(alice_a, "ALPHA", f"Private stop {t}")
        assert node_a.post(f"/api/v1/connections/{private}/sync", {"issue_key": key}).ok
        remote = eventually(lambda: twin_key(node_a, private, key), timeout=60)
        node_a.delete(f"/api/v1/connections/{private}/twins/{key}")
        eventually(lambda: twin(node_b, private, remote)["status"] == "stopped", timeout=60)
        assert alice_b.get_issue(remote).summary == f"Private stop {t}"
    finally:
        # the private side long-polls each connection it knows; end this one for the next
        node_a.delete(f"/api/v1/connections/{private}")


def test_deleting_a_synced_issue_marks_the_twin_and_comments_on_the_other_side(
    node_a, node_c, cid, alice_a, alice_c
):
    t = tag()
    key = create(alice_a, "ALPHA", f"Delete me {t}")
    assert node_a.post(f"/api/v1/connections/{cid}/sync", {"issue_key": key}).ok
    remote = eventually(lambda: twin_key(node_a, cid, key), timeout=60)
    eventually(lambda: twin(node_a, cid, key)["status"] == "synced")
    alice_a.delete_issue(key)
    eventually(lambda: twin(node_c, cid, remote)["status"] == "stopped", timeout=60)
    notes = [str(c.body.value) for c in alice_c.get_issue(remote).comments]
    assert any(key in n and "deleted" in n for n in notes)
    assert twin(node_a, cid, key)["status"] == "stopped"


def test_the_queue_view_and_the_audit_export(node_a, cid):
    t = tag()
    started = node_a.post(f"/api/v1/connections/{cid}/bulk-sync", {"jql": f'summary ~ "{t}"'})
    assert started.status_code == 202
    job_id = started.json()["job_id"]
    queue = node_a.get(f"/api/v1/connections/{cid}/queue")
    assert queue.status_code == 200
    body = queue.json()
    assert set(body) >= {"outgoing", "incoming", "peer", "jobs", "open_errors"}
    eventually(lambda: node_a.get(f"/api/v1/jobs/{job_id}").json()["state"] == "done")
    export = node_a.get("/api/v1/audit?format=jsonl")
    assert export.status_code == 200
    assert export.headers["Content-Type"].startswith("application/x-ndjson")
    entries = [json.loads(line) for line in export.text.splitlines()]
    assert any(e["action"] == "connection.created" for e in entries)
    assert any(e["action"] == "job.started" and e["details"]["job_id"] == job_id for e in entries)
    assert entries == sorted(entries, key=lambda e: e["id"])  # oldest first

    # the lists page over real HTTP too: each Link leads to the next page until none
    def fetch(path):
        answer = node_a.get(path)
        return answer.status_code, answer.json(), answer.headers

    pages = walk(fetch, f"/api/v1/audit?connection_id={cid}&limit=1")
    assert len(pages) >= 2 and pages[0].link.startswith("http")
    walked = [e["id"] for e in items(pages)]
    assert len(walked) == len(set(walked))
    assert set(walked) <= {e["id"] for e in entries if e["connection_id"] == cid} | {
        e["id"] for e in node_a.get(f"/api/v1/audit?connection_id={cid}&limit=500").json()
    }
    assert job_id in {j["id"] for j in items(walk(fetch, "/api/v1/jobs?limit=2"))}
