"""Fault injection and the request log: how tests make the sandbox misbehave and count calls.

Faults apply to the Jira REST API only (never to ``/_sandbox/``): added latency, a random
5xx rate, the next N requests failing with a 5xx, the next N answered 429 with
``Retry-After``, and the attachment size limit. A fault may be narrowed to requests whose
path contains ``match`` (and to one ``method``).
"""

from __future__ import annotations

import math
import random
import re
import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import asdict, dataclass
from typing import Any

from .errors import JiraError

DEFAULT_LIMITS = {"server": 10 * 1024 * 1024, "cloud": 2 * 1024 * 1024 * 1024}
# Jira Cloud's per-issue write limits (writes per window, seconds), when switched on
ISSUE_WRITE_CAPS = ((20, 2.0), (100, 30.0))
_ISSUE_WRITE = re.compile(r"/rest/api/\d+/issue/([A-Za-z][A-Za-z0-9_]*-\d+)(?:/|$)")


@dataclass
class FaultSettings:
    latency_ms: int = 0
    error_rate: float = 0.0
    error_status: int = 503
    fail_next: int = 0
    rate_limit_next: int = 0
    retry_after: int = 1
    match: str | None = None
    method: str | None = None
    attachment_limit: int | None = None  # None: the flavour's default
    issue_write_caps: bool = False  # Cloud's per-issue write limits: 429 jira-per-issue-on-write


class Faults:
    """The current fault settings; ``check`` raises the injected error for one request."""

    FIELDS = set(FaultSettings.__dataclass_fields__)

    def __init__(self, flavour: str, seed: int | None = None) -> None:
        self.flavour = flavour
        self.lock = threading.Lock()
        self.random = random.Random(seed)
        self.settings = FaultSettings()
        self._issue_writes: dict[str, deque[float]] = defaultdict(deque)

    def update(self, values: dict[str, Any]) -> FaultSettings:
        unknown = set(values) - self.FIELDS
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        with self.lock:
            for name, value in values.items():
                setattr(self.settings, name, value)
            return self.settings

    def reset(self) -> None:
        with self.lock:
            self.settings = FaultSettings()

    def as_dict(self) -> dict[str, Any]:
        with self.lock:
            data = asdict(self.settings)
        data["attachment_limit"] = self.attachment_limit()
        return data

    def attachment_limit(self) -> int:
        limit = self.settings.attachment_limit
        return DEFAULT_LIMITS[self.flavour] if limit is None else int(limit)

    def applies(self, method: str, path: str) -> bool:
        s = self.settings
        return (s.match is None or s.match in path) and (s.method is None or s.method == method)

    def check(self, method: str, path: str) -> float:
        """Seconds of latency to add; raises the injected :class:`JiraError` if one is due."""
        with self.lock:
            s = self.settings
            if not self.applies(method, path):
                return 0.0
            latency = s.latency_ms / 1000
            if s.rate_limit_next > 0:
                s.rate_limit_next -= 1
                raise JiraError(
                    429,
                    ["Rate limit exceeded."],
                    headers={
                        "Retry-After": str(s.retry_after),
                        "RateLimit-Reason": "jira-burst-based",
                        "X-RateLimit-Limit": "100",
                        "X-RateLimit-Remaining": "0",
                    },
                )
            if s.fail_next > 0:
                s.fail_next -= 1
                raise unavailable(s.error_status)
            if s.error_rate and self.random.random() < s.error_rate:
                raise unavailable(s.error_status)
            if s.issue_write_caps and method in ("POST", "PUT", "DELETE"):
                self._count_issue_write(path)
            return latency

    def _count_issue_write(self, path: str) -> None:
        """Jira Cloud caps writes to one issue; over a cap the write is answered 429."""
        match = _ISSUE_WRITE.search(path)
        if not match:
            return
        now = time.monotonic()
        writes = self._issue_writes[match.group(1).upper()]
        while writes and writes[0] <= now - ISSUE_WRITE_CAPS[-1][1]:
            writes.popleft()
        for count, seconds in ISSUE_WRITE_CAPS:
            recent = [t for t in writes if t > now - seconds]
            if len(recent) >= count:
                wait = recent[len(recent) - count] + seconds - now
                raise JiraError(
                    429,
                    ["Rate limit exceeded."],
                    headers={
                        "Retry-After": str(max(1, math.ceil(wait))),
                        "RateLimit-Reason": "jira-per-issue-on-write",
                    },
                )
        writes.append(now)


def unavailable(status: int) -> JiraError:
    return JiraError(status, ["The service is temporarily unavailable (sandbox fault)."])


class RequestLog:
    """Every REST request: who made it, which route, what status; counted per user."""

    def __init__(self, size: int = 5000) -> None:
        self.lock = threading.Lock()
        self.entries: deque[dict[str, Any]] = deque(maxlen=size)
        self.counts: defaultdict[str, Counter[str]] = defaultdict(Counter)

    def record(self, user: str | None, method: str, route: str, path: str, status: int) -> None:
        who = user or "anonymous"
        with self.lock:
            self.entries.append(
                {"user": who, "method": method, "route": route, "path": path, "status": status}
            )
            self.counts[who][f"{method} {route}"] += 1
            self.counts[who]["total"] += 1

    def summary(self) -> dict[str, Any]:
        with self.lock:
            return {
                "counts": {user: dict(c) for user, c in self.counts.items()},
                "requests": list(self.entries),
            }

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.counts.clear()
