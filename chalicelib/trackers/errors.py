"""Tracker failures, as every adapter raises them (re-exported by
:mod:`chalicelib.trackers.base`). A module of its own so that code that only catches them
does not import the adapters' value types (issue 19, cold start)."""

from __future__ import annotations

from collections.abc import Mapping


class TrackerError(Exception):
    """Base of every tracker failure; ``status`` is the HTTP status when there was one."""

    retryable = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class NotFound(TrackerError):
    """The thing asked for does not exist (or is invisible to this user)."""


class PermissionDenied(TrackerError):
    """The credentials are wrong (401) or lack a permission (403)."""


class RateLimited(TrackerError):
    """The tracker asked us to slow down; wait ``retry_after`` seconds."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float, status: int | None = 429) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class Unavailable(TrackerError):
    """A 5xx, a timeout or a refused connection: the same call may work later.

    ``retry_after`` is set when the tracker said how long to wait (a 503 with
    ``Retry-After``); ``None`` leaves the delay to the queue's backoff.
    """

    retryable = True

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class InvalidRequest(TrackerError):
    """Jira refused the request as invalid; its messages are kept for the admin."""

    def __init__(
        self,
        message: str,
        *,
        field_errors: Mapping[str, str] | None = None,
        error_messages: tuple[str, ...] = (),
        status: int | None = 400,
    ) -> None:
        super().__init__(message, status=status)
        self.field_errors = dict(field_errors or {})
        self.error_messages = error_messages


class TooLarge(TrackerError):
    """An attachment is over the target's limit."""

    def __init__(self, message: str, *, limit: int | None = None, status: int | None = 413) -> None:
        super().__init__(message, status=status)
        self.limit = limit
