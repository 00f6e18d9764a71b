"""Jira's timestamp format (``2024-01-02T03:04:05.000+0000``) and the sandbox clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], int]  # epoch milliseconds


def system_clock() -> int:
    return int(time.time() * 1000)


def jira_time(ms: int) -> str:
    """Format epoch milliseconds the way Jira's REST API does, in UTC."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}+0000"


def parse_jira_time(text: str) -> int:
    """The inverse of :func:`jira_time` (any offset) as epoch milliseconds."""
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000)


class MonotonicClock:
    """Wraps a clock so that successive readings always increase (``updated`` must move)."""

    def __init__(self, clock: Clock = system_clock) -> None:
        self.clock = clock
        self.last = 0

    def __call__(self) -> int:
        now = self.clock()
        self.last = now if now > self.last else self.last + 1
        return self.last
