"""The lanes' rules, no I/O: which queue catch-up work takes, what marks a replica."""

from __future__ import annotations

import pytest

from chalicelib.config import ResourceNames
from chalicelib.sync import lanes

NAMES = ResourceNames(
    connections_table="c",
    invitations_table="i",
    twins_table="t",
    entries_table="e",
    events_table="ev",
    keys_table="k",
    ingest_queue_url="q/ingest.fifo",
    deliver_queue_url="q/deliver.fifo",
    apply_queue_url="q/apply.fifo",
    jobs_queue_url="q/jobs.fifo",
    ingest_catchup_queue_url="q/ingest-catchup.fifo",
    deliver_catchup_queue_url="q/deliver-catchup.fifo",
    apply_catchup_queue_url="q/apply-catchup.fifo",
    blob_bucket="b",
    kms_key_arn="arn:aws:kms:x",
)


def test_live_work_keeps_every_queue() -> None:
    assert lanes.current() == lanes.LIVE
    for url in ("q/ingest.fifo", "q/deliver.fifo", "q/apply.fifo", "q/jobs.fifo"):
        assert lanes.route(url, NAMES) == url


def test_catch_up_work_takes_each_stage_s_catch_up_queue_and_nothing_else() -> None:
    with lanes.working(lanes.CATCH_UP):
        assert lanes.route("q/ingest.fifo", NAMES) == "q/ingest-catchup.fifo"
        assert lanes.route("q/deliver.fifo", NAMES) == "q/deliver-catchup.fifo"
        assert lanes.route("q/apply.fifo", NAMES) == "q/apply-catchup.fifo"
        assert lanes.route("q/jobs.fifo", NAMES) == "q/jobs.fifo"  # a job's own steps
        assert lanes.route("q/apply.fifo", NAMES, lanes.LIVE) == "q/apply.fifo"
        with lanes.working(lanes.LIVE):  # a live replica received inside catch-up work
            assert lanes.route("q/apply.fifo", NAMES) == "q/apply.fifo"
    assert lanes.current() == lanes.LIVE


def test_an_unknown_lane_is_live() -> None:
    with lanes.working("express"):
        assert lanes.current() == lanes.LIVE


def test_stage_urls_name_both_lanes() -> None:
    assert sorted(lanes.stage_urls(NAMES)) == sorted(
        f"q/{s}{lane}.fifo" for s in ("ingest", "deliver", "apply") for lane in ("", "-catchup")
    )


def test_only_catch_up_work_marks_its_replicas() -> None:
    assert lanes.mark({"id": "r", "lane": "catch_up"}) == {"id": "r"}
    with lanes.working(lanes.CATCH_UP):
        assert lanes.mark({"id": "r"}) == {"id": "r", "lane": "catch_up"}


@pytest.mark.parametrize(
    ("wire", "lane"),
    [
        ({"lane": "catch_up"}, lanes.CATCH_UP),
        ({}, lanes.LIVE),  # a peer from before lanes
        ({"lane": "express"}, lanes.LIVE),
        ({"lane": None}, lanes.LIVE),
    ],
)
def test_a_received_replica_is_catch_up_only_when_it_says_so(wire, lane) -> None:
    assert lanes.of(wire) == lane


@pytest.mark.parametrize(
    ("read", "seen", "older"),
    [
        ("2026-12-03T10:00:00.000+0000", "2026-12-03T10:00:01.000+0000", True),
        ("2026-12-03T10:00:01.000+0000", "2026-12-03T10:00:01.000+0000", False),
        ("2026-12-03T11:00:00.500+0100", "2026-12-03T10:00:00.400+0000", False),  # offsets
        ("2026-12-03T11:00:00.300+0100", "2026-12-03T10:00:00.400+0000", True),
        ("2026-12-03T10:00:00.000+0000", None, False),
        (None, "2026-12-03T10:00:00.000+0000", False),
        ("not a time", "2026-12-03T10:00:00.000+0000", False),
    ],
)
def test_a_read_is_older_only_when_both_times_say_so(read, seen, older) -> None:
    assert lanes.older_read(read, seen) is older
