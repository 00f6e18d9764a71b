"""Bulk sync and bulk connect jobs: bounded steps, resumable, cancellable, paced."""

from __future__ import annotations

import json

import pytest

from chalicelib.trackers.base import RateLimited, Unavailable


def start(ops, body, path="/bulk-sync"):
    status, answer = ops.api("POST", ops.conn(path), body)
    assert status == 202, answer
    return answer["job_id"]


def job(ops, job_id):
    status, body = ops.api("GET", f"/api/v1/jobs/{job_id}")
    assert status == 200, body
    return body


def sup_issues(ops):
    return sorted(k for k in ops.tracker.issues if k.startswith("SUP-"))


def test_a_bulk_sync_puts_every_matching_issue_under_sync_and_reports_progress(ops):
    for n in range(12):
        ops.tracker.add_issue("OPS", f"issue {n}")
    job_id = start(ops, {"jql": "project = OPS ORDER BY created DESC", "page_size": 10})
    listing = job(ops, job_id)
    assert listing["state"] == "listing" and listing["total_known"] is False
    ops.pump.drain()
    done = job(ops, job_id)
    assert done["state"] == "done", done
    assert (done["total"], done["done"], done["failed"], done["skipped"]) == (12, 12, 0, 0)
    assert done["rate_per_hour"] and done["finished_at"] and done["eta_seconds"] is None
    assert len(sup_issues(ops)) == 12
    assert all(ops.twin(f"OPS-{n}").status == "synced" for n in range(1, 13))
    assert ops.tracker.searches[0] == "(project = OPS) ORDER BY key ASC"
    assert done["steps"] >= 1


def test_issues_already_synced_count_as_done_and_stopped_ones_are_skipped(ops):
    _synced, _ = ops.sync_pair("already synced")
    stopped, _ = ops.sync_pair("stopped earlier")
    ops.api("DELETE", ops.conn(f"/twins/{stopped}"))
    ops.pump.drain()
    ops.tracker.add_issue("OPS", "new one")
    job_id = start(ops, {"jql": "project = OPS"})
    ops.pump.drain()
    body = job(ops, job_id)
    assert (body["state"], body["done"], body["skipped"]) == ("done", 2, 1)
    assert ops.twin(stopped).status == "stopped"
    assert len(sup_issues(ops)) == 3


def test_a_step_that_dies_is_run_again_from_the_saved_state_without_duplicates(ops):
    for n in range(14):
        ops.tracker.add_issue("OPS", f"issue {n}")
    job_id = start(ops, {"jql": "project = OPS", "page_size": 10})
    # the tracker fails on the second page: the step dies (the queue runs it again)
    original = ops.tracker.search
    calls = {"n": 0}

    def flaky(jql, *, cursor=None, limit=50):
        calls["n"] += 1
        if calls["n"] == 2:
            raise Unavailable("503 from the tracker", status=503)
        return original(jql, cursor=cursor, limit=limit)

    ops.tracker.search = flaky
    ops.pump.drain()
    body = job(ops, job_id)
    assert body["state"] == "done" and body["done"] == 14
    assert len(ops.pump.step_errors) == 1 and body["restarted_steps"] == 1
    assert len(sup_issues(ops)) == 14


def test_a_step_killed_while_admitting_leaves_no_duplicate_twins(ops):
    from chalicelib.root import root

    for n in range(8):
        ops.tracker.add_issue("OPS", f"issue {n}")
    job_id = start(ops, {"jql": "project = OPS"})
    deps = root().sync
    real_send = deps.send
    sent = {"ingest": 0}

    def dying_send(url, body, **kw):
        # a job's issues go through the catch-up lane, never the live ingest queue
        assert url != deps.settings.resources.ingest_queue_url or body.get("source") != "job"
        if url == deps.settings.resources.ingest_catchup_queue_url and body.get("source") == "job":
            sent["ingest"] += 1
            if sent["ingest"] == 5:
                raise RuntimeError("the function was killed")
        return real_send(url, body, **kw)

    deps.send = dying_send
    try:
        ops.pump.drain()
    finally:
        deps.send = real_send
    body = job(ops, job_id)
    assert body["state"] == "done" and body["done"] == 8, body
    assert len(ops.pump.step_errors) == 1 and body["restarted_steps"] == 1
    assert len(sup_issues(ops)) == 8


def test_a_duplicate_step_message_does_nothing(ops):
    from chalicelib.ops import job_runner, job_store
    from chalicelib.root import root

    ops.tracker.add_issue("OPS", "one")
    job_id = start(ops, {"jql": "project = OPS"})
    job_runner.enqueue_step(job_id, 0, deps=root().sync)  # deduplicated by the FIFO queue
    ops.pump.drain()
    state, _counter = job_store.load(job_id)
    assert state.state == "done" and state.done == 1
    steps_before = state.steps
    job_runner.enqueue_step(job_id, 0, deps=root().sync)  # a late copy, after the job moved on
    ops.pump.drain()
    assert job_store.load(job_id)[0].steps == steps_before


def test_a_job_can_be_cancelled(ops):
    for n in range(5):
        ops.tracker.add_issue("OPS", f"issue {n}")
    job_id = start(ops, {"jql": "project = OPS"})
    status, body = ops.api("POST", f"/api/v1/jobs/{job_id}/cancel")
    assert status == 200 and body["state"] == "cancelling"
    ops.pump.drain()
    body = job(ops, job_id)
    assert body["state"] == "cancelled" and body["done"] == 0
    assert sup_issues(ops) == []
    assert ops.api("POST", f"/api/v1/jobs/{job_id}/cancel")[1]["error"]["code"] == "job_finished"


def test_retry_after_pauses_the_job_and_it_resumes_after(ops):
    from chalicelib.ops import job_store

    for n in range(3):
        ops.tracker.add_issue("OPS", f"issue {n}")
    job_id = start(ops, {"jql": "project = OPS"})
    ops.tracker.fail_next["search"] = [RateLimited("slow down", retry_after=30)]
    ops.pump.run_job_steps(limit=1)
    state, _ = job_store.load(job_id)
    assert state.state == "listing" and state.waiting["reason"] == "retry_after"
    assert state.waiting["until"] >= ops.pump.clock.now
    assert job(ops, job_id)["waiting"]["reason"] == "retry_after"
    ops.pump.clock.now += 31
    ops.pump.drain()
    assert job(ops, job_id)["state"] == "done"


def test_live_usage_above_the_high_water_mark_holds_the_job_back(ops):
    from chalicelib.ops import job_store
    from chalicelib.trackers import budget
    from chalicelib.trackers.pacing import budget_for

    for n in range(3):
        ops.tracker.add_issue("OPS", f"issue {n}")
    job_id = start(ops, {"jql": "project = OPS"})
    plan = budget_for(ops.tracker.kind)
    ops.pump.step_seconds = 1.0
    budget.add_usage(plan.capacity, ops.pump.clock.now, plan)  # live sync is busy
    ops.pump.run_job_steps(limit=2)
    state, _ = job_store.load(job_id)
    assert state.state == "running" and state.done == 0 and not state.in_flight
    assert state.waiting["reason"] == "live_first"
    ops.pump.clock.now += 2 * plan.window_s  # the burst is over
    ops.pump.drain()
    assert job(ops, job_id)["done"] == 3


def test_max_per_hour_caps_one_job(ops):
    from chalicelib.ops import job_store

    for n in range(4):
        ops.tracker.add_issue("OPS", f"issue {n}")
    job_id = start(ops, {"jql": "project = OPS", "max_per_hour": 360})  # one per 10 s
    ops.pump.step_seconds = 4.0
    ops.pump.run_job_steps(limit=3)
    state, _ = job_store.load(job_id)
    assert state.position <= 2
    ops.pump.step_seconds = 60.0
    ops.pump.drain()
    assert job(ops, job_id)["done"] == 4


def test_bulk_sync_of_what_a_trigger_matches(ops):
    for n in range(3):
        ops.tracker.add_issue("OPS", f"vip {n}")
    ops.tracker.add_issue("OPS", "other")
    _, trigger = ops.api("POST", ops.conn("/triggers"), {"jql": 'summary ~ "vip"'})
    job_id = start(ops, {}, path=f"/triggers/{trigger['id']}/bulk-sync")
    ops.pump.drain()
    body = job(ops, job_id)
    assert (body["state"], body["done"], body["trigger_id"]) == ("done", 3, trigger["id"])


def test_bad_requests_start_nothing(ops):
    assert ops.api("POST", ops.conn("/bulk-sync"), {})[0] == 400
    assert ops.api("POST", ops.conn("/bulk-sync"), {"jql": "project = (OPS"})[0] == 400
    assert ops.api("POST", ops.conn("/bulk-sync"), {"jql": "x = 1", "page_size": 5})[0] == 400
    assert ops.api("POST", ops.conn("/bulk-connect"), {"pairs": [["OPS-1", "nope"]]})[0] == 400
    assert ops.api("POST", ops.conn("/bulk-connect"), {"pairs": []})[0] == 400
    assert ops.api("GET", "/api/v1/jobs/job-unknown")[0] == 404


@pytest.mark.parametrize("shape", ["pairs", "objects", "csv"])
def test_bulk_connect_links_existing_pairs_without_creating_issues(ops, shape):
    pairs = []
    for n in range(4):
        a = ops.tracker.add_issue("OPS", f"ops {n}")
        b = ops.tracker.add_issue("SUP", f"sup {n}")
        pairs.append([a.key, b.key])
    pairs.append(["OPS-1", "SUP-99"])  # a duplicate local key is refused up front
    bodies = {
        "pairs": {"pairs": [*pairs[:4], ["OPS-77", "SUP-3"]]},
        "objects": {
            "pairs": [{"local_key": a, "remote_key": b} for a, b in pairs[:4]]
            + [{"local_key": "OPS-77", "remote_key": "SUP-3"}]
        },
        "csv": {
            "csv": "local_key,remote_key\n"
            + "\n".join(f"{a},{b}" for a, b in pairs[:4])
            + "\nOPS-77,SUP-3\n"
        },
    }
    assert ops.api("POST", ops.conn("/bulk-connect"), {"pairs": pairs})[0] == 400
    job_id = start(ops, bodies[shape], path="/bulk-connect")
    ops.pump.drain()
    body = job(ops, job_id)
    assert (body["state"], body["total"], body["done"], body["failed"]) == ("done", 5, 4, 1)
    assert body["failures"][0]["key"] == "OPS-77"
    assert len(ops.tracker.issues) == 8  # nothing created
    for a, b in pairs[:4]:
        assert ops.twin(a).remote_key == b and ops.twin(b, ops.other_id).remote_key == a


def test_bulk_connect_asks_the_other_end_first_and_fails_a_pair_it_refuses(ops):
    """Like a single connect: a remote issue that does not exist, or is synced already,
    fails its pair at once with the other end's words; nothing is recorded for it."""
    a = ops.tracker.add_issue("OPS", "ops a")
    b = ops.tracker.add_issue("OPS", "ops b")
    c = ops.tracker.add_issue("OPS", "ops c")
    s1 = ops.tracker.add_issue("SUP", "sup 1")
    s2 = ops.tracker.add_issue("SUP", "sup 2")
    pairs = [[a.key, s1.key], [b.key, "SUP-404"], [c.key, s1.key]]
    job_id = start(ops, {"pairs": pairs}, path="/bulk-connect")
    ops.pump.drain()
    body = job(ops, job_id)
    assert (body["state"], body["done"], body["failed"]) == ("done", 1, 2)
    why = {f["key"]: f["error"] for f in body["failures"]}
    assert "does not exist in the other instance" in why[b.key]
    assert f"{s1.key} is already" in why[c.key] and a.key in why[c.key]
    assert ops.twin(b.key) is None and ops.twin(c.key) is None
    assert ops.twin(a.key).remote_key == s1.key
    assert s2.key  # untouched


def test_job_progress_in_the_audit_log_and_the_queue_view(ops):
    ops.tracker.add_issue("OPS", "one")
    job_id = start(ops, {"jql": "project = OPS"})
    status, queue = ops.api("GET", ops.conn("/queue"))
    assert status == 200 and [j["id"] for j in queue["jobs"]] == [job_id]
    ops.pump.drain()
    _, entries = ops.api("GET", f"/api/v1/audit?connection_id={ops.connection_id}")
    started = [e for e in entries if e["action"] == "job.started"]
    assert started and started[0]["details"]["job_id"] == job_id
    assert json.loads(json.dumps(started[0]))["details"]["jql"] == "project = OPS"


def test_a_bulk_job_counts_the_issues_it_finished_in_its_metrics(ops):
    from chalicelib.observability import metrics

    for n in range(3):
        ops.tracker.add_issue("OPS", f"counted {n}")
    start(ops, {"jql": "project = OPS"})
    with metrics.collecting() as buffer:
        ops.pump.drain()
    assert buffer[metrics.BULK_JOB_ITEMS] == [3.0]
    assert buffer[metrics.CHANGES_SYNCED] == [3.0]  # the first syncs, applied on the SUP end


def test_live_calls_are_counted_only_while_a_job_is_under_way(ops):
    """Jobs are the usage counter's only reader: with none under way, live sync's calls
    cost no write (issue 19); a job's creation and each of its steps turn the count on,
    for JOBS_ON_FOR after the last."""
    from datetime import UTC, datetime

    from chalicelib.store.keys import get_key
    from chalicelib.store.namespaces import budget_usage_key
    from chalicelib.trackers import budget
    from chalicelib.trackers.pacing import budget_for, window_of

    plan = budget_for(ops.tracker.kind)
    now = ops.pump.clock.now

    def counted() -> int:
        item = get_key(budget_usage_key(window_of(now, plan.window_s)))
        return int(item.counter or 0) if item is not None else 0

    budget.add_usage(5, now, plan)
    assert counted() == 0 and not budget.jobs_on()

    ops.tracker.add_issue("OPS", "one")
    start(ops, {"jql": "project = OPS"})
    assert budget.jobs_on()
    budget.add_usage(5, now, plan)
    assert counted() == 5

    old = datetime.fromtimestamp(now, UTC) - budget.JOBS_ON_FOR - budget.JOBS_ON_FOR
    budget.note_jobs_on(old.timestamp())  # the last step long ago: the count is off again
    assert not budget.jobs_on()
