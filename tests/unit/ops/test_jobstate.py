"""The job state machine (pure): listing in chunks, admission, settling, progress."""

from __future__ import annotations

import pytest

from chalicelib.ops.jobstate import CHUNK, JobState, rate_per_hour, view


def new(kind="bulk_sync", state="listing", **kw):
    return JobState(
        id="job-1", kind=kind, connection_id="c1", state=state, created_at=0.0, created_by="a", **kw
    )


def keys(start, count):
    return [f"OPS-{n}" for n in range(start, start + count)]


def test_listing_fills_whole_chunks_and_the_last_page_flushes_the_tail():
    job = new()
    assert job.listed(keys(1, 60), "c1", now=1.0) == []
    full = job.listed(keys(61, 60), "c2", now=2.0)
    assert [len(c) for c in full] == [CHUNK] and full[0][0] == "OPS-1"
    assert (job.chunks, len(job.tail), job.state) == (1, 20, "listing")
    last = job.listed(keys(121, 5), None, now=3.0)
    assert [len(c) for c in last] == [25]
    assert (job.total, job.chunks, job.tail, job.state) == (125, 2, [], "running")
    assert job.started_at == 3.0 and job.cursor is None


def test_an_empty_query_finishes_at_once():
    job = new()
    assert job.listed([], None, now=1.0) == []
    assert job.finish_if_done(now=1.0) and job.state == "done"


def test_admission_outcomes_and_settling():
    job = new(state="running", total=4)
    job.admitted("OPS-1", "in_flight", 10.0)
    job.admitted("OPS-2", "done", 10.0)
    job.admitted("OPS-3", "skipped", 10.0)
    job.admitted("OPS-4", "in_flight", 10.0)
    assert (job.position, job.done, job.skipped, len(job.in_flight)) == (4, 1, 1, 2)
    assert not job.finish_if_done(11.0)
    assert job.observe({"OPS-1": ("queued", None), "OPS-4": ("queued", None)}, 11.0) == 0
    assert job.observe({"OPS-1": ("synced", None), "OPS-4": ("error", "boom")}, 12.0) == 2
    assert (job.done, job.failed, job.failures) == (2, 1, [{"key": "OPS-4", "error": "boom"}])
    assert job.finish_if_done(12.0) and job.state == "done" and job.finished_at == 12.0


def test_silent_items_time_out_and_vanished_twins_fail():
    job = new(state="running", total=2)
    job.admitted("OPS-1", "in_flight", 0.0)
    job.admitted("OPS-2", "in_flight", 0.0)
    job.observe({"OPS-1": ("queued", None)}, 10_000.0, timeout=900)
    assert job.failed == 2
    assert "no answer" in job.failures[0]["error"] and "disappeared" in job.failures[1]["error"]


def test_state_round_trips_through_json_and_ignores_unknown_fields():
    job = new(jql="project = OPS")
    job.admitted("OPS-1", "in_flight", 5.0)
    data = job.to_dict()
    data["from_a_newer_version"] = 1
    again = JobState.from_dict(data)
    assert again == job


def test_view_shows_progress_rate_and_eta():
    job = new(state="running", total=100, started_at=0.0)
    job.sample(0.0)
    for n in range(40):
        job.admitted(f"OPS-{n}", "done", 3600.0)
    shown = view(job, now=3600.0)
    assert shown["rate_per_hour"] == pytest.approx(40.0)
    assert shown["remaining"] == 60 and shown["eta_seconds"] == 5400
    assert shown["total_known"] is True and shown["state"] == "running"
    assert view(new(), now=1.0)["total_known"] is False


def test_the_eta_keeps_to_the_jobs_own_max_per_hour():
    job = new(state="running", total=100, started_at=0.0, max_per_hour=20)
    assert view(job, now=10.0)["eta_seconds"] == 5 * 3600  # nothing measured: the cap
    job.sample(0.0)
    for n in range(10):  # a full bucket lets the first ten go at once
        job.admitted(f"OPS-{n}", "done", 60.0)
    shown = view(job, now=60.0)
    assert shown["rate_per_hour"] == pytest.approx(600.0)  # what was measured, shown as is
    assert shown["eta_seconds"] == 90 * 3600 // 20  # the rest goes at 20 an hour
    uncapped = new(state="running", total=100, started_at=0.0)
    assert view(uncapped, now=10.0)["eta_seconds"] is None  # no cap, nothing measured


def test_rate_uses_recent_samples_when_they_exist():
    job = new(state="running", total=10, started_at=0.0)
    job.sample(0.0)
    job.done = 2
    job.sample(100.0)  # a slow start
    job.done = 8
    job.sample(160.0)
    # the first of the last samples is the slow start: recent samples only span it all
    assert rate_per_hour(job, now=160.0) == pytest.approx(8 / 160 * 3600)


def test_cancel_and_failure_are_final():
    job = new()
    job.cancel_requested = True
    assert view(job, 1.0)["state"] == "cancelling"
    job.cancel(2.0)
    assert job.final and view(job, 3.0)["state"] == "cancelled"
    other = new()
    other.fail_job("the connection was deleted", 5.0)
    assert other.final and view(other, 6.0)["error"] == "the connection was deleted"


def test_completions_adapt_the_window():
    job = new(state="running", total=3)
    for key in ("OPS-1", "OPS-2", "OPS-3"):
        job.admitted(key, "in_flight", 0.0)
    job.observe(
        {"OPS-1": ("synced", None), "OPS-2": ("queued", None), "OPS-3": ("queued", None)}, 1.0
    )
    assert job.base_latency == 1.0 and job.window == 5.0
    job.observe({"OPS-2": ("synced", None), "OPS-3": ("queued", None)}, 60.0)
    assert job.window == 2.5 and view(job, 60.0)["window"] == 2.5
