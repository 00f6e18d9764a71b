"""One retry decision: a retryable tracker error becomes RetryLater with its delay."""

from __future__ import annotations

import pytest

from chalicelib.queues import RetryLater
from chalicelib.trackers.base import (
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    TooLarge,
    TrackerError,
    Unavailable,
)
from chalicelib.trackers.retry import retry_later, retrying_later


@pytest.mark.parametrize(
    ("exc", "delay"),
    [
        (RateLimited("slow down", retry_after=30.0), 30.0),
        (Unavailable("503", status=503, retry_after=12.0), 12.0),
        (Unavailable("timeout"), None),
    ],
)
def test_a_retryable_error_waits_as_long_as_the_tracker_said(
    exc: TrackerError, delay: float | None
) -> None:
    retry = retry_later(exc)
    assert isinstance(retry, RetryLater)
    assert retry.delay == delay
    assert str(retry) == str(exc)


def test_the_context_goes_before_the_message() -> None:
    retry = retry_later(Unavailable("Jira is down"), "trigger check of A-1")
    assert str(retry) == "trigger check of A-1: Jira is down"


def test_an_unavailable_tracker_can_be_left_to_the_queue_backoff() -> None:
    unavailable = Unavailable("503", status=503, retry_after=12.0)
    limited = RateLimited("slow down", retry_after=30.0)
    assert retry_later(unavailable, unavailable_retry_after=False).delay is None
    assert retry_later(limited, unavailable_retry_after=False).delay == 30.0


@pytest.mark.parametrize(
    "exc",
    [NotFound("gone"), PermissionDenied("no"), InvalidRequest("bad"), TooLarge("big")],
)
def test_a_final_error_is_not_turned_into_a_retry(exc: TrackerError) -> None:
    assert not exc.retryable
    with pytest.raises(ValueError):
        retry_later(exc)
    with pytest.raises(type(exc)), retrying_later():
        raise exc


def test_the_block_raises_retry_later_from_the_tracker_error() -> None:
    cause = RateLimited("slow down", retry_after=5.0)
    with pytest.raises(RetryLater) as caught, retrying_later("job j1: the tracker failed"):
        raise cause
    assert caught.value.delay == 5.0
    assert caught.value.__cause__ is cause
    assert str(caught.value) == "job j1: the tracker failed: slow down"


def test_the_block_honours_unavailable_retry_after_unless_told() -> None:
    with pytest.raises(RetryLater) as caught, retrying_later(unavailable_retry_after=False):
        raise Unavailable("503", status=503, retry_after=12.0)
    assert caught.value.delay is None


def test_other_exceptions_and_success_pass_through() -> None:
    with retrying_later():
        pass
    with pytest.raises(KeyError), retrying_later():
        raise KeyError("x")
