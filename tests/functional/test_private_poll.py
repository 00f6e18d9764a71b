"""poll_peers on a private node: long polls for the whole run, or one short pull (quiet)."""

from __future__ import annotations

import pytest

from chalicelib.root import build_sync, root
from chalicelib.sync import private
from tests.factories.connections import saved_connection


@pytest.fixture
def pulls(node, monkeypatch):
    saved_connection("conn-p", remote_public=True, remote_url="https://a.twinsync.test")
    made: list[int] = []

    def pull_once(connection, *, wait, deps):
        made.append(wait)
        return 0

    monkeypatch.setattr(private, "pull_once", pull_once)
    return made


def clock(seconds: float):
    """A remaining-time function for a run that lasts ``seconds`` of pulls."""
    left = [int(seconds * 1000)]

    def remaining() -> int:
        left[0] -= 1000  # each look at the clock costs a second of the run
        return left[0]

    return remaining


def test_default_mode_keeps_pulling_until_the_run_ends(pulls):
    deps = build_sync(root().settings, fetch=lambda *a, **k: None)
    private.poll_connections(remaining_ms=clock(30), deps=deps, rescan_s=0.01)
    assert len(pulls) > 3 and max(pulls) > 0


def test_default_mode_makes_no_pull_that_would_not_wait(pulls):
    """The end of a run: no burst of zero-wait pulls in its last second (issue 19)."""
    deps = build_sync(root().settings, fetch=lambda *a, **k: None)
    private.poll_connections(remaining_ms=clock(30), deps=deps, rescan_s=0.01)
    assert pulls and min(pulls) >= 1


def test_quiet_mode_pulls_once_without_waiting(pulls, monkeypatch):
    monkeypatch.setenv("TWINSYNC_QUIET_POLL", "true")
    from chalicelib.root import reset as root_reset
    from chalicelib.root import root

    root_reset()
    deps = build_sync(root().settings, fetch=lambda *a, **k: None)
    private.poll_connections(remaining_ms=clock(30), deps=deps, rescan_s=0.01)
    assert pulls == [0]
