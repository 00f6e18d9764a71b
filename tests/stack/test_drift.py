"""Drift scan over the local stack: two public nodes (a on the Cloud sandbox, c on the
Server sandbox). A tracker that loses a value silently and a mirror comment deleted by
the integration user (never synced back) are drift; the scan names exactly those twins
and the repair makes both trackers equal again."""

from __future__ import annotations

import uuid

import pytest

from chalicelib.trackers.base import Body, IssueFields
from tests.stack.conftest import connect, eventually, tracker_as, twin_key

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


def finished_job(node, job_id):
    def done():
        job = node.get(f"/api/v1/jobs/{job_id}").json()
        return job if job["state"] in ("done", "failed", "cancelled") else None

    job = eventually(done, timeout=60)
    assert job["state"] == "done", job
    return job


def scan(node, cid):
    started = node.post(f"/api/v1/connections/{cid}/drift-scan", {})
    assert started.status_code == 202, started.text
    return finished_job(node, started.json()["job_id"])


def scan_until(node, cid, expected):
    """Scan again until the result is ``expected`` (in-flight changes settle first)."""

    def matches():
        job = scan(node, cid)
        assert expected(job["result"]), job["result"]
        return job

    return eventually(matches, timeout=90, interval=1.0)


def test_drift_is_found_per_twin_and_field_and_repaired(local_stack, stack_info, node_a, cid):
    alice_a = tracker_as(stack_info, "a")
    alice_c = tracker_as(stack_info, "b")
    bot_c = tracker_as(stack_info, "b", who="integration_user")
    tag = uuid.uuid4().hex[:8]
    keys = []
    for n in range(3):
        ref = alice_a.create_issue(
            "ALPHA", IssueFields(summary=f"Drift {n} {tag}", issue_type="Task")
        )
        assert node_a.post(f"/api/v1/connections/{cid}/sync", {"issue_key": ref.key}).ok
        keys.append((ref.key, eventually(lambda ref=ref: twin_key(node_a, cid, ref.key))))
    (lost_key, lost_remote), (talk_key, talk_remote), _ = keys
    alice_a.add_comment(talk_key, Body("adf", _adf("it smokes")))
    mirror = eventually(lambda: alice_c.get_issue(talk_remote).comments)[0]
    sent = alice_a.get_issue(talk_key).comments[0].id

    # a healthy connection: nothing drifted once everything in flight has landed
    scan_until(node_a, cid, lambda r: r["scanned"] == 3 and r["drifted"] == r["pending"] == 0)

    # the Server tracker loses a value without any event (a restore, a DB edit) ...
    store = local_stack.trackers["b"].server.store
    with store.lock:
        store.issue(lost_remote).summary = f"Lost {tag}"
    # ... and the integration user deletes a mirrored comment (its changes never sync)
    bot_c.delete_comment(talk_remote, mirror.id)

    found = scan_until(node_a, cid, lambda r: r["drifted"] == 2)
    twins = {t["local_key"]: t for t in found["result"]["twins"]}
    assert set(twins) == {lost_key, talk_key}
    assert twins[lost_key]["remote_key"] == lost_remote and twins[lost_key]["fields"] == ["summary"]
    assert twins[talk_key]["fields"] == []
    assert twins[talk_key]["comments"] == {"missing_here": [], "missing_there": [sent]}

    repair = node_a.post(f"/api/v1/connections/{cid}/drift-scan/{found['id']}/repair", {})
    assert repair.status_code == 202, repair.text
    assert finished_job(node_a, repair.json()["job_id"])["result"]["repaired"] == 2

    eventually(lambda: alice_c.get_issue(lost_remote).summary == f"Drift 0 {tag}")
    assert alice_a.get_issue(lost_key).summary == f"Drift 0 {tag}"
    back = eventually(lambda: alice_c.get_issue(talk_remote).comments)
    assert len(back) == 1 and "it smokes" in str(back[0].body.value)
    scan_until(node_a, cid, lambda r: r["drifted"] == 0 and r["scanned"] == 3)


def _adf(text):
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }
