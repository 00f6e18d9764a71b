"""The paced tracker: counts calls, records Retry-After, keeps per-issue write caps."""

from __future__ import annotations

import pytest

from chalicelib.trackers.base import Body, IssueFields, RateLimited
from chalicelib.trackers.paced import FLUSH_EVERY_S, PacedTracker, paced
from tests.factories import project
from tests.factories.memory_tracker import MemoryTracker


class Time:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def make(kind="jira_cloud"):
    inner = MemoryTracker(kind=kind, projects=[project("SUP")])
    inner.create_issue("SUP", IssueFields(summary="x"))
    time = Time()
    usage, pauses = [], []
    tracker = PacedTracker(
        inner,
        usage=lambda calls, now: usage.append(calls),
        on_pause=lambda seconds, now: pauses.append(seconds),
        clock=time.clock,
        sleep=time.sleep,
    )
    return tracker, inner, time, usage, pauses


def test_calls_are_counted_and_flushed_in_batches():
    tracker, _, time, usage, _ = make()
    for _ in range(24):
        tracker.get_issue("SUP-1")
    assert usage == []
    tracker.get_issue("SUP-1")
    assert usage == [25]
    tracker.get_issue("SUP-1")
    time.now += 1.5  # a second and a half: still counting
    tracker.get_issue("SUP-1")
    assert usage == [25]
    time.now += FLUSH_EVERY_S
    tracker.get_issue("SUP-1")
    assert usage == [25, 3]
    tracker.get_issue("SUP-1")
    tracker.flush()
    assert usage == [25, 3, 1]


def test_a_429_pauses_jobs_and_still_reaches_the_caller():
    tracker, inner, _, _, pauses = make()

    inner.refuse["get_issue"] = RateLimited("slow down", retry_after=7)
    with pytest.raises(RateLimited):
        tracker.get_issue("SUP-1")
    assert pauses == [7]


def test_writes_to_one_issue_stay_under_cloud_caps():
    tracker, _, time, _, _ = make()
    for _ in range(20):
        tracker.add_comment("SUP-1", Body("wiki", "hi"))
    assert time.slept == []
    tracker.add_comment("SUP-1", Body("wiki", "one more"))  # the 21st within 2 s waits
    assert time.slept == [pytest.approx(2.0)]
    for _ in range(79):
        tracker.update_issue("SUP-1", IssueFields(summary="y"))
    with pytest.raises(RateLimited) as caught:  # 100 in 30 s: too long to wait here
        tracker.add_comment("SUP-1", Body("wiki", "too many"))
    assert caught.value.retry_after > 2.5


def test_server_has_no_per_issue_caps_and_wrapping_is_idempotent():
    tracker, _, time, _, _ = make(kind="jira_server")
    for _ in range(50):
        tracker.add_comment("SUP-1", Body("wiki", "hi"))
    assert time.slept == []
    assert paced(tracker) is tracker
    assert tracker.kind == "jira_server" and tracker.body_format == "wiki"


def test_relations_calls_are_counted_and_their_writes_keep_the_per_issue_caps():
    """Issue 18 (ADR 0008): links, worklogs and people writes of one issue count toward the
    node's budget and Jira Cloud's per-issue write cap like the issue's other writes."""
    tracker, inner, time, usage, _ = make()
    inner.create_issue("SUP", IssueFields(summary="y"))
    for n in range(20):  # Cloud's cap: about 20 writes per issue in 2 s
        tracker.add_worklog("SUP-1", started="2026-12-01T09:00:00Z", seconds=60 + n)
    tracker.list_worklogs("SUP-1")
    assert time.slept == []
    tracker.set_assignee("SUP-1", None)  # the 21st write of SUP-1 within 2 s: it waits
    assert time.slept and sum(time.slept) <= 2.0
    tracker.add_issue_link("Blocks", "SUP-2", "SUP-1")  # SUP-2's first write: no wait
    assert len(time.slept) == 1
    tracker.flush()
    assert sum(usage) == 23
    assert [w.seconds for w in inner.list_worklogs("SUP-1")][:2] == [60, 61]
