"""poll_peers on a private node: long polls for the whole run while a connection is hot,
one short pull per run while it is cool or in quiet mode (issue 19)."""

from __future__ import annotations

import time

import pytest

from chalicelib.root import build_sync, root
from chalicelib.sync import private
from chalicelib.sync.private import PollState, Pulled, load_state, save_state
from tests.factories.connections import saved_connection

CID = "conn-p"


class Pulls(list[int]):
    """The waits of the pulls made; ``brings``: what the next pulls bring (then nothing)."""

    def __init__(self) -> None:
        super().__init__()
        self.brings: list[Pulled] = []


@pytest.fixture
def pulls(node, monkeypatch):
    saved_connection(CID, remote_public=True, remote_url="https://a.twinsync.test")
    made = Pulls()

    def pull_once(connection, *, wait, deps, via=None):
        made.append(wait)
        return made.brings.pop(0) if made.brings else Pulled(items=0)

    monkeypatch.setattr(private, "pull_once", pull_once)
    return made


def clock(seconds: float):
    """A remaining-time function for a run that lasts ``seconds`` of pulls."""
    left = [int(seconds * 1000)]

    def remaining() -> int:
        left[0] -= 1000  # each look at the clock costs a second of the run
        return left[0]

    return remaining


def run():
    deps = build_sync(root().settings, fetch=lambda *a, **k: None)
    return private.poll_connections(remaining_ms=clock(30), deps=deps, rescan_s=0.01)


def cool():
    save_state(CID, PollState(active_at=time.time() - 3600))


def test_a_new_connection_is_hot_and_long_polled_until_the_run_ends(pulls):
    run()
    assert len(pulls) > 3 and max(pulls) > 0
    assert load_state(CID).active_at is not None  # remembered from its first run


def test_default_mode_makes_no_pull_that_would_not_wait(pulls):
    """The end of a run: no burst of zero-wait pulls in its last second (issue 19)."""
    run()
    assert pulls and min(pulls) >= 1


def test_a_cool_connection_is_pulled_once_without_waiting(pulls):
    cool()
    run()
    assert pulls == [0]


def test_a_change_makes_a_cool_connection_hot_in_the_same_run(pulls):
    cool()
    pulls.brings.append(Pulled(items=1))
    run()
    assert pulls[0] == 0 and len(pulls) > 2 and max(pulls) > 0
    assert time.time() - load_state(CID).active_at < 60


def test_a_twin_status_notice_counts_as_a_change(pulls):
    """Our own change went the other way: the other end answers on it soon."""
    cool()
    pulls.brings.append(Pulled(items=0, notices=1))
    run()
    assert len(pulls) > 2


def test_the_advertised_url_is_remembered(pulls):
    pulls.brings.append(Pulled(items=0, outbox_url="https://u.lambda-url.test"))
    run()
    assert load_state(CID).url == "https://u.lambda-url.test"


def test_quiet_mode_pulls_once_without_waiting(pulls, monkeypatch):
    monkeypatch.setenv("TWINSYNC_QUIET_POLL", "true")
    from chalicelib.root import reset as root_reset

    root_reset()
    run()
    assert pulls == [0]


def test_an_advertised_url_must_be_http():
    assert private.advertised_url({"outbox_url": "https://u.test/"}) == "https://u.test"
    for bad in ("file:///etc/passwd", "u.test", 7, None, "https://" + "x" * 3000):
        assert private.advertised_url({"outbox_url": bad}) is None
