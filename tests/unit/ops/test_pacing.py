"""Pacing decisions (pure): live sync first, Retry-After, windows, caps."""

from __future__ import annotations

import pytest

from chalicelib.trackers.pacing import Budget, IssueWriteCaps, TokenBucket, admit, window_of

PLAN = Budget(window_s=10, capacity=100, high_water=0.7, jobs_per_window=10, in_flight=5)


def decide(**kw):
    values = dict(
        want=50, in_flight=0, usage=0, jobs_taken=0, paused_until=None, now=1000.0, budget=PLAN
    )
    values.update(kw)
    return admit(**values)


def test_admits_up_to_the_window_the_rate_and_what_is_wanted():
    assert decide().count == 5  # in-flight window
    assert decide(in_flight=2).count == 3
    assert decide(jobs_taken=8).count == 2  # the jobs' share of this window
    assert decide(want=1).count == 1
    assert decide(want=0).count == 0


def test_retry_after_pauses_every_job_until_it_has_passed():
    held = decide(paused_until=1030.0)
    assert (held.count, held.waiting, held.until) == (0, "retry_after", 1030.0)
    assert decide(paused_until=999.0).count == 5


def test_live_usage_over_the_high_water_mark_comes_first():
    held = decide(usage=70)
    assert (held.count, held.waiting) == (0, "live_first")
    assert held.until == 1010.0  # the next window
    assert decide(usage=69).count == 5


def test_full_window_and_spent_rate_say_why():
    assert decide(in_flight=5).waiting == "window_full"
    assert decide(jobs_taken=10).waiting == "rate"


def test_a_job_cap_takes_whole_tokens_only():
    assert decide(job_tokens=2.7).count == 2
    assert decide(job_tokens=0.4).waiting == "job_rate"


def test_token_bucket_refills_at_its_rate_up_to_its_capacity():
    bucket = TokenBucket.per_hour(3600, now=0.0)  # one a second, ten seconds' worth at most
    assert (bucket.tokens, bucket.capacity) == (1.0, 10.0)
    spent = bucket.take(1)
    assert spent.seconds_until() == pytest.approx(1.0)
    assert spent.refill(2.5).tokens == pytest.approx(2.5)
    assert spent.refill(10_000.0).tokens == 10.0
    assert TokenBucket.per_hour(360, now=0.0).capacity == 1.0  # slow caps save no burst


def test_windows_are_numbered_by_time():
    assert window_of(1009.9, 10) == 100 and window_of(1010.0, 10) == 101


def test_per_issue_write_caps_follow_jira_clouds_limits():
    caps = IssueWriteCaps()
    for i in range(20):
        assert caps.wait_for("SUP-1", 100.0 + i * 0.05) == 0.0
        caps.record("SUP-1", 100.0 + i * 0.05)
    assert caps.wait_for("SUP-1", 101.0) == pytest.approx(1.0)  # the first leaves at 102.0
    assert caps.wait_for("SUP-2", 101.0) == 0.0  # another issue is not affected
    slow = IssueWriteCaps()
    for i in range(100):  # 100 writes spread over 29.7 s: under 20 per 2 s, at 100 per 30 s
        slow.record("SUP-1", 200.0 + i * 0.3)
    assert slow.wait_for("SUP-1", 230.0) == pytest.approx(0.0, abs=0.01)
    assert slow.wait_for("SUP-1", 229.8) == pytest.approx(0.2)


def test_the_window_grows_while_issues_complete_quickly():
    from chalicelib.trackers.pacing import next_window

    window, cut = next_window(4.0, 1.0, base=1.0, now=10.0, last_cut=None, ceiling=20)
    assert (window, cut) == (5.0, None)  # well under target: one more per completion
    window, _ = next_window(10.0, 10.0, base=1.0, now=10.0, last_cut=None, ceiling=20)
    assert window == pytest.approx(10.1)  # near target: about one more per window's worth
    assert next_window(20.0, 1.0, base=1.0, now=10.0, last_cut=None, ceiling=20)[0] == 20.0


def test_the_window_halves_once_per_interval_when_issues_queue():
    from chalicelib.trackers.pacing import latency_target, next_window

    assert latency_target(None) == 15.0 and latency_target(3.0) == 15.0
    assert latency_target(6.0) == 18.0
    window, cut = next_window(16.0, 30.0, base=1.0, now=100.0, last_cut=None, ceiling=20)
    assert (window, cut) == (8.0, 100.0)
    # more slow completions right after the cut: the same backlog, no second cut
    assert next_window(8.0, 30.0, base=1.0, now=101.0, last_cut=100.0, ceiling=20) == (8.0, 100.0)
    assert next_window(8.0, 30.0, base=1.0, now=116.0, last_cut=100.0, ceiling=20)[0] == 4.0
    assert next_window(1.0, 30.0, base=1.0, now=200.0, last_cut=100.0, ceiling=20)[0] == 1.0


def test_admission_follows_the_jobs_window():
    assert decide(window=2.0).count == 2
    assert decide(window=2.0, in_flight=2).waiting == "window_full"
    assert decide(window=0.5).count == 1  # never below one: the job always moves
