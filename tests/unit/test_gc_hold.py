"""Python's cycle collector during a Lambda function's start (chalicelib.gc_hold).

The whole path (a fresh process imports ``app`` with ``AWS_LAMBDA_FUNCTION_NAME`` set, then
serves one first call of each kind) is in tests/functional/test_fresh_process.py; here, what
each step does, and that a user's script never runs with the collector held.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from chalicelib import gc_hold


@pytest.fixture
def collector(monkeypatch) -> Iterator[None]:
    """A clean collector before and after: on, nothing frozen, nothing held."""
    gc_hold.release()
    gc.unfreeze()
    gc.enable()
    yield
    monkeypatch.setattr(gc_hold, "_held", False)
    gc.unfreeze()
    gc.enable()


def test_outside_lambda_the_collector_is_left_alone(collector, monkeypatch):
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)

    assert gc_hold.hold() is False
    assert gc.isenabled() and not gc_hold.held()


def test_in_lambda_it_is_held_then_released_frozen_once(collector, monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "twinsync-prod-ingest")

    assert gc_hold.hold() is True
    assert not gc.isenabled() and gc_hold.held()

    gc_hold.release()
    assert gc.isenabled() and not gc_hold.held()
    assert gc.get_freeze_count() > 0  # the start's objects: never walked again

    gc.unfreeze()
    gc_hold.release()  # a second release does nothing
    assert gc.get_freeze_count() == 0


def test_a_collector_someone_else_turned_off_is_not_theirs_to_turn_on(collector, monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "twinsync-prod-ingest")
    gc.disable()

    assert gc_hold.hold() is False
    gc_hold.release()
    assert not gc.isenabled()


def test_the_first_call_releases_it_even_when_it_fails(collector, monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "twinsync-prod-apply")
    gc_hold.hold()

    def failing(event):
        assert not gc.isenabled()  # the call itself runs with the collector held
        raise RuntimeError("the batch failed")

    with pytest.raises(RuntimeError):
        gc_hold.release_after_call({"Records": []}, failing)
    assert gc.isenabled() and not gc_hold.held()


def test_a_users_script_never_runs_with_the_collector_held(collector, monkeypatch):
    from chalice.test import Client

    from app import app
    from chalicelib.rules.script import lambda_handler

    seen = []
    monkeypatch.setattr(lambda_handler, "handle", lambda event: seen.append(gc.isenabled()))
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "twinsync-prod-script_runner")
    gc_hold.hold()

    with Client(app) as client:
        client.lambda_.invoke("script_runner", {"script": "return issue"})

    assert seen == [True]
    assert gc.isenabled() and not gc_hold.held()
