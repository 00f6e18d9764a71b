"""A webhook's change, normalised, its author's id, and Jira's times as sortable UTC text
(re-exported by :mod:`chalicelib.trackers.base` and :mod:`chalicelib.trackers.jira_common`).
A module of its own so that webhook intake and the lanes import neither the adapters' value
types and protocol nor their HTTP client (issue 19, cold start)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

ChangeKind = Literal[
    "issue_created",
    "issue_updated",
    "issue_deleted",
    "comment_created",
    "comment_updated",
    "comment_deleted",
    "attachment_created",
    "attachment_deleted",
    "other",
    # issue 18: hints that the issue (or, for a link, both issues) changed
    "worklog_created",
    "worklog_updated",
    "worklog_deleted",
    "issuelink_created",
    "issuelink_deleted",
]


class ChangeEvent(msgspec.Struct, frozen=True):
    """A webhook normalised: a hint that an issue changed, never the truth about it."""

    kind: ChangeKind
    issue_key: str | None
    issue_id: str | None
    author_id: str | None
    delivery_id: str | None
    retry: bool = False
    timestamp: int | None = None
    changed_fields: tuple[str, ...] = ()


def utc_time(text: str) -> str | None:
    """A Jira time (``2026-12-02T17:05:01.123+0100``, any offset) as sortable UTC text with
    milliseconds (``2026-12-02T16:05:01.123Z``); ``None`` when it is not a time."""
    value = text.strip().replace("Z", "+00:00")
    if len(value) > 5 and value[-5] in "+-" and value[-3] != ":":
        value = value[:-2] + ":" + value[-2:]  # Jira's +0100
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def user_id(data: Mapping[str, Any] | None) -> str | None:
    """The stable id of a Jira user: ``accountId`` (Cloud), else ``key``, else ``name``."""
    if not isinstance(data, Mapping):
        return None
    for attr in ("accountId", "key", "name"):
        value = data.get(attr)
        if value:
            return str(value)
    return None
