"""Jira webhooks: check that a request really comes from our tracker, and normalise it.

Pure functions over headers, query parameters and the raw body; no I/O.

- Jira Cloud admin webhooks with a secret sign the raw body:
  ``X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>``.
- Jira Server cannot sign; the webhook URL carries the secret as ``?secret=``.

Both are compared in constant time. A webhook is a hint that an issue changed, never the
truth about it: the worker re-reads the issue (Cloud even sends REST v2 shapes).

Even a validly signed body is read defensively. What is not JSON (nested deeper than
``json_input.MAX_DEPTH``, ``NaN``/``Infinity``/``1e400``, lone surrogates) and a delivery
id that cannot be a key is refused (``BadWebhook``, a 400). A part of an odd shape
(``changelog`` a list, ``comment`` or ``attachment`` a string, an issue key that is an
object or too long for a queue group) is ignored as if absent: the hint that the issue
changed is still worth queueing, and nothing is read from the webhook but the reference.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections.abc import Mapping
from typing import Any

import msgspec

from chalicelib import json_input
from chalicelib.trackers.changes import ChangeEvent, ChangeKind, user_id

SIGNATURE_HEADER = "x-hub-signature"
DELIVERY_HEADER = "x-atlassian-webhook-identifier"
RETRY_HEADER = "x-atlassian-webhook-retry"

_EVENT_KINDS: dict[str, ChangeKind] = {
    "jira:issue_created": "issue_created",
    "jira:issue_updated": "issue_updated",
    "jira:issue_deleted": "issue_deleted",
    "comment_created": "comment_created",
    "comment_updated": "comment_updated",
    "comment_deleted": "comment_deleted",
    "attachment_created": "attachment_created",
    "attachment_deleted": "attachment_deleted",
    # issue 18: a worklog names its issue (``worklog.issueId``), a link both of its issues
    "worklog_created": "worklog_created",
    "worklog_updated": "worklog_updated",
    "worklog_deleted": "worklog_deleted",
    "issuelink_created": "issuelink_created",
    "issuelink_deleted": "issuelink_deleted",
}
# Jira Server reports comment changes as ``jira:issue_updated`` with these type names.
_ISSUE_EVENT_KINDS: dict[str, ChangeKind] = {
    "issue_commented": "comment_created",
    "issue_comment_edited": "comment_updated",
    "issue_comment_deleted": "comment_deleted",
}
_COMMENT_SELF = re.compile(r"/issue/(\d+)/comment/")
# What can become part of a key, a FIFO group or a deduplication id (SQS allows 128
# printable ASCII characters; the prefixes take the rest).
_REF_RE = re.compile(r"^[!-~]{1,100}$")


class BadWebhook(ValueError):
    """The request body is not a Jira webhook (not JSON, or no ``webhookEvent``)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if it is an object, else an empty one (an odd part is ignored)."""
    return value if isinstance(value, Mapping) else {}


def _ref(value: Any) -> str | None:
    """An issue key or id usable as a key and a queue group, else ``None``."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value)
    return text if _REF_RE.match(text) else None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by case-insensitive name (Chalice and API Gateway differ in case)."""
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def is_signed(headers: Mapping[str, str]) -> bool:
    """Whether the request carries a body signature (Jira Cloud), not ``?secret=`` (Server)."""
    return _header(headers, SIGNATURE_HEADER) is not None


def _query_value(query: Mapping[str, Any] | None, name: str) -> str | None:
    if not query:
        return None
    value = query.get(name)
    if isinstance(value, list | tuple):
        return str(value[0]) if len(value) == 1 else None  # two secrets is one too many
    return None if value is None else str(value)


def sign(secret: str, raw_body: bytes) -> str:
    """The ``X-Hub-Signature`` value Jira Cloud sends for ``raw_body``."""
    digest = hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_webhook(
    headers: Mapping[str, str],
    query: Mapping[str, Any] | None,
    raw_body: bytes | str,
    secret: str,
) -> bool:
    """Whether the request carries our secret: a valid signature, or ``?secret=``.

    The signature is checked over the raw bytes as received (re-serialised JSON would
    give a different digest). An empty secret never verifies anything.
    """
    if not secret:
        return False
    body = raw_body.encode() if isinstance(raw_body, str) else bytes(raw_body)
    signature = _header(headers, SIGNATURE_HEADER)
    if signature is not None:
        algorithm, _, given = signature.strip().partition("=")
        if algorithm.lower() != "sha256" or not given:
            return False
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected.encode(), given.strip().lower().encode())
    given_secret = _query_value(query, "secret")
    if given_secret is None:
        return False
    return hmac.compare_digest(secret.encode(), given_secret.encode())


def _kind(payload: Mapping[str, Any]) -> ChangeKind:
    event = str(payload.get("webhookEvent") or "")
    kind = _EVENT_KINDS.get(event, "other")
    if kind == "issue_updated" and "comment" in payload:
        kind = _ISSUE_EVENT_KINDS.get(str(payload.get("issue_event_type_name") or ""), kind)
    return kind


def _author(payload: Mapping[str, Any], kind: ChangeKind) -> str | None:
    author = user_id(payload.get("user"))
    if author:
        return author
    # Comment and attachment events may come without ``user``: the actor is on the object
    # when it made the change. Not for deletions: the comment's author is not who deleted
    # it, and crediting them could hide a real deletion as the integration user's echo.
    comment = _mapping(payload.get("comment"))
    if kind == "comment_updated":
        return user_id(comment.get("updateAuthor"))
    if kind == "comment_created":
        return user_id(comment.get("author"))
    if kind == "attachment_created":
        return user_id(_mapping(payload.get("attachment")).get("author"))
    # a worklog's author wrote it (our own copies are then skipped as our own change);
    # not for deletions, as for comments
    worklog = _mapping(payload.get("worklog"))
    if kind == "worklog_created":
        return user_id(worklog.get("author"))
    if kind == "worklog_updated":
        return user_id(worklog.get("updateAuthor"))
    return None


def _changed_fields(payload: Mapping[str, Any]) -> tuple[str, ...]:
    items = _mapping(payload.get("changelog")).get("items")
    names: list[str] = []
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, Mapping):
            continue
        name = item.get("fieldId") or item.get("field")
        if name and str(name) not in names:
            names.append(str(name))
    return tuple(names)


def _retry(headers: Mapping[str, str]) -> bool:
    value = _header(headers, RETRY_HEADER)
    if value is None:
        return False
    return value.strip() not in ("", "0")


def parse_webhook(headers: Mapping[str, str], raw_body: bytes | str) -> ChangeEvent:
    """Normalise a Jira webhook into a ``ChangeEvent``; ``BadWebhook`` when it is not one.

    ``attachment_*`` events carry no issue: ``issue_key`` and ``issue_id`` are ``None``
    (the ``Attachment`` changelog item of ``jira:issue_updated`` names the issue instead).
    Comment events without an issue (Jira Server) give the issue id from the comment URL.
    """
    try:
        payload = json_input.loads(raw_body)
    except json_input.UnsafeJson as exc:
        raise BadWebhook(f"the webhook body is not JSON ({exc})") from exc
    if not isinstance(payload, Mapping) or not payload.get("webhookEvent"):
        raise BadWebhook("the webhook body has no webhookEvent")
    if not isinstance(payload["webhookEvent"], str):
        raise BadWebhook("the webhook's webhookEvent must be text", field="webhookEvent")
    delivery_id = _header(headers, DELIVERY_HEADER)
    if delivery_id is not None and not _REF_RE.match(delivery_id):
        raise BadWebhook(
            "the delivery identifier must be 1-100 printable ASCII characters",
            field="X-Atlassian-Webhook-Identifier",
        )
    kind = _kind(payload)
    issue = _mapping(
        payload.get("issue") if kind not in ("attachment_created", "attachment_deleted") else None
    )
    issue_key = _ref(issue.get("key"))
    issue_id = _ref(issue.get("id"))
    if issue_id is None and kind.startswith("comment_"):
        match = _COMMENT_SELF.search(str(_mapping(payload.get("comment")).get("self") or ""))
        issue_id = match.group(1) if match else None
    if issue_id is None and kind.startswith("worklog_"):
        issue_id = _ref(_mapping(payload.get("worklog")).get("issueId"))
    if issue_id is None and kind.startswith("issuelink_"):
        issue_id = _ref(_mapping(payload.get("issueLink")).get("sourceIssueId"))
    timestamp = payload.get("timestamp")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
        timestamp = None
    return ChangeEvent(
        kind=kind,
        issue_key=issue_key,
        issue_id=issue_id,
        author_id=_author(payload, kind),
        delivery_id=delivery_id,
        retry=_retry(headers),
        timestamp=int(timestamp) if timestamp is not None and math.isfinite(timestamp) else None,
        changed_fields=_changed_fields(payload),
    )


def parse_webhook_events(headers: Mapping[str, str], raw_body: bytes | str) -> list[ChangeEvent]:
    """:func:`parse_webhook`, one event per issue it names: an ``issuelink_*`` event names
    both of the link's issues (``sourceIssueId`` and ``destinationIssueId``), so both are
    re-read; any other event names one issue (or none)."""
    event = parse_webhook(headers, raw_body)
    events = [event]
    if event.kind in ("issuelink_created", "issuelink_deleted"):
        payload = json_input.loads(raw_body)
        other = _ref(_mapping(_mapping(payload).get("issueLink")).get("destinationIssueId"))
        if other is not None and other != event.issue_id:
            events.append(msgspec.structs.replace(event, issue_key=None, issue_id=other))
    return events
