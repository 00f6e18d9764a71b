"""The one translation of a tracker failure into "try this message again later".

A :class:`~chalicelib.trackers.base.TrackerError` says itself whether retrying can help
(``retryable``: rate limited, unavailable) and, when the tracker said so, how long to wait
(``retry_after``). Queue handlers turn such an error into
:class:`~chalicelib.queues.RetryLater` here, so the queue retries the record after that
delay (or its own backoff when there is none); every other tracker error passes unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from chalicelib.queues import RetryLater
from chalicelib.trackers.base import RateLimited, TrackerError


def retry_later(
    exc: TrackerError, context: str | None = None, *, unavailable_retry_after: bool = True
) -> RetryLater:
    """The :class:`RetryLater` for the retryable ``exc`` (raise it ``from exc``).

    The message is the error's, after ``context`` when given; the delay is the error's
    ``retry_after``. ``unavailable_retry_after=False`` leaves an unavailable tracker's
    delay to the queue's backoff even when it sent ``Retry-After`` (as the apply and
    ingest stages always have); a rate limit's wait is always kept.
    """
    if not exc.retryable:
        raise ValueError(f"not a retryable tracker error: {exc!r}")
    delay: float | None = getattr(exc, "retry_after", None)
    if not unavailable_retry_after and not isinstance(exc, RateLimited):
        delay = None
    return RetryLater(f"{context}: {exc}" if context else str(exc), delay=delay)


@contextmanager
def retrying_later(
    context: str | None = None, *, unavailable_retry_after: bool = True
) -> Iterator[None]:
    """Within the block, a retryable tracker error becomes :func:`retry_later`'s
    :class:`RetryLater`; any other exception passes unchanged."""
    try:
        yield
    except TrackerError as exc:
        if not exc.retryable:
            raise
        raise retry_later(exc, context, unavailable_retry_after=unavailable_retry_after) from exc
