"""Edits our write replaced, found in the issue's changelog (issue 19; ADR 0004).

Pure (no AWS, no HTTP). Jira has no conditional write, so apply writes some fields
without reading the issue first; an edit a person made here that this end had not read
yet (its webhook late or lost) is then overwritten, but it is still in the changelog: a
person's change of the field made after the issue's ``updated`` as this end last read
it, followed by a change of ours. The next read of the issue finds it here once (the read
moves the last-read point past it) and :func:`chalicelib.rules.merge.recover_local`
decides it against the register our write came from.

Only fields whose changelog text *is* the value are recovered (:data:`RECOVERABLE`):
summary, issue type, and a description in wiki markup (Server; Cloud's changelog gives
an ADF description as plain text). Any other field written keeps the look.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from msgspec.structs import replace

from chalicelib.rules.merge import Register, value_hash
from chalicelib.rules.replica import body_json
from chalicelib.trackers.base import Body, BodyFormat, FieldChange, Issue

# replica field -> the changelog's name of the tracker field it comes from (Basic's
# outgoing rule: summary, description and type are the issue's own)
RECOVERABLE = {"summary": "summary", "type": "issuetype", "description": "description"}


def recoverable_fields(body_format: BodyFormat) -> frozenset[str]:
    """The replica fields whose overwritten edit the changelog gives back exactly."""
    names = set(RECOVERABLE)
    if body_format != "wiki":
        names.discard("description")  # Cloud's changelog: ADF as text, not the value
    return frozenset(names)


def can_write_unseen(names: Iterable[str], body_format: BodyFormat) -> bool:
    """May an apply write these fields without looking at the issue first?"""
    return set(names) <= recoverable_fields(body_format)


def overwritten(
    history: Iterable[FieldChange], *, since: str | None, ours: str
) -> dict[str, FieldChange]:
    """Changelog field -> the last change a person (not ``ours``) made after ``since``
    (UTC; the issue's ``updated`` when this end last read it) when a change of ours
    followed it (the field's latest change is ours): an edit this end never read and then
    overwrote. ``history`` oldest first."""
    after: dict[str, list[FieldChange]] = {}
    for change in history:
        if since is None or change.at > since:
            after.setdefault(change.field, []).append(change)
    found: dict[str, FieldChange] = {}
    for name, changes in after.items():
        if changes[-1].author_id != ours:
            continue  # the field's latest change is a person's: an ordinary edit
        people = [c for c in changes if c.author_id != ours]
        if people:
            found[name] = people[-1]
    return found


def replica_values(
    found: Mapping[str, FieldChange], body_format: BodyFormat
) -> dict[str, tuple[Any, str]]:
    """Replica field -> (the overwritten value in replica form, when it was made), for
    the recoverable fields among ``found``."""
    values: dict[str, tuple[Any, str]] = {}
    for name in sorted(recoverable_fields(body_format)):
        change = found.get(RECOVERABLE[name])
        if change is None:
            continue
        text = change.to_string
        value: Any
        if name == "summary":
            value = text or ""
        elif name == "type":
            if not text:
                continue
            value = {"name": text}
        else:  # description, wiki markup
            value = body_json(Body("wiki", text)) if text else None
        values[name] = (value, change.at)
    return values


def current_values(issue: Issue) -> dict[str, Any]:
    """The recoverable fields as Basic's outgoing rule shows ``issue``."""
    return {
        "summary": issue.summary,
        "type": {"name": issue.issue_type},
        "description": body_json(issue.description),
    }


def shows_edits(state: Mapping[str, Register], issue: Issue) -> bool:
    """Does ``issue`` show, in a recoverable field, another value than the one this end
    last wrote or read (``state``: the registers)? A read of it taken before an apply's
    unseen write could be mistaken for an edit."""
    for name, value in current_values(issue).items():
        register = state.get(name)
        if register is not None and register.local not in (None, value_hash(name, value)):
            return True
    return False


def showing(issue: Issue, values: Mapping[str, Any]) -> Issue:
    """``issue`` with the recoverable replica fields in ``values`` set to those values."""
    changes: dict[str, Any] = {}
    for name, value in values.items():
        if name == "summary":
            changes["summary"] = str(value or "")
        elif name == "type" and isinstance(value, Mapping):
            changes["issue_type"] = str(value.get("name") or "")
        elif name == "description":
            text = value.get("value") if isinstance(value, Mapping) else None
            changes["description"] = Body("wiki", text) if text else None
    return replace(issue, **changes)


__all__ = [
    "RECOVERABLE",
    "can_write_unseen",
    "current_values",
    "overwritten",
    "recoverable_fields",
    "replica_values",
    "showing",
    "shows_edits",
]
