"""Issue 18, Script mode: components, fix and affects versions, due date, environment,
resolution, assignee and reporter, as the scripts see and set them.

Pure. :mod:`chalicelib.rules.script.rules` calls :func:`view` (the outgoing ``issue``),
:func:`normalise` (the outgoing script's replica) and :func:`issue_fields` /
:func:`plan_parts` (what the incoming script set on ``issue``).

Outgoing ``issue`` (replica form): ``components``, ``fix_versions``, ``affects_versions``
(lists of names), ``due_date`` ("YYYY-MM-DD" or ``None``), ``environment`` (a body or
``None``), ``resolution`` (``{name}`` or ``None``), ``assignee`` and ``reporter``
(``{id, name, email}`` or ``None``; ``email`` ``None`` where the tracker hides it).

Incoming ``issue`` (what the script does not set is left as it is): the three name lists
(``[]`` clears) and ``create_missing`` (which of them may create names this project
lacks), ``due_date`` / ``environment`` / ``resolution`` (``None`` clears), ``assignee`` /
``reporter`` (a person of the other side, mapped by the node; ``None``: unassigned).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from chalicelib.rules import basic
from chalicelib.rules.plan import IncomingContext, PersonOp
from chalicelib.rules.replica import InvalidReplica, body_from_json, body_json, person_json
from chalicelib.rules.script.errors import ScriptError
from chalicelib.rules.script.op_lists import INCOMING
from chalicelib.trackers.base import Body, Issue

# replica / script name -> IssueFields attribute
NAME_LISTS = {
    "components": "components",
    "fix_versions": "fix_versions",
    "affects_versions": "versions",
}
PEOPLE = ("assignee", "reporter")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _refuse(message: str, script: str = INCOMING) -> ScriptError:
    return ScriptError(message, kind="result", script=script)


# --- outgoing -------------------------------------------------------------------------------


def view(issue: Issue, *, integration_user_id: str | None) -> dict[str, Any]:
    """Keys added to the outgoing script's ``issue``."""
    return {
        "components": list(issue.components),
        "fix_versions": list(issue.fix_versions),
        "affects_versions": list(issue.versions),
        "due_date": issue.due_date,
        "environment": body_json(issue.environment),
        "resolution": {"name": issue.resolution} if issue.resolution else None,
        "assignee": person_json(issue.assignee),
        "reporter": person_json(issue.reporter),
    }


def normalise(replica: dict[str, Any], *, script: str) -> None:
    """The outgoing script's values in replica form (a name for ``{name}``, …), in place."""
    for name in NAME_LISTS:
        if name in replica:
            replica[name] = _names(replica[name], f"replica.{name}", script)
    if "due_date" in replica:
        replica["due_date"] = _date(replica["due_date"], "replica.due_date", script)
    if isinstance(replica.get("environment"), str):
        replica["environment"] = {"format": "text", "value": replica["environment"]}
    if "resolution" in replica:
        replica["resolution"] = _resolution(replica["resolution"], "replica.resolution", script)
    for name in PEOPLE:
        if name in replica:
            replica[name] = _person(replica[name], f"replica.{name}", script)


def _names(value: Any, what: str, script: str) -> list[str]:
    """A list of names (``{name}`` items taken by their name), trimmed, each once;
    ``None`` is the empty list."""
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise _refuse(f"{what} must be a list of names", script)
    out: list[str] = []
    for item in value:
        if isinstance(item, Mapping):
            item = item.get("name")
        if not isinstance(item, str):
            raise _refuse(f"{what} must be a list of names (text, or {{name}})", script)
        name = item.strip()
        if name and name not in out:
            out.append(name)
    return out


def _date(value: Any, what: str, script: str) -> str | None:
    """``"2026-12-24"`` (a longer ISO time is cut to its date); ``None``/``""``: none."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _DATE.match(value.strip()):
        raise _refuse(f"{what} must be a date as YYYY-MM-DD, or None", script)
    return value.strip()[:10]


def _resolution(value: Any, what: str, script: str) -> dict[str, str] | None:
    if value is None or value == "":
        return None
    if isinstance(value, Mapping):
        value = value.get("name")
        if value is None or value == "":
            return None
    if not isinstance(value, str):
        raise _refuse(f"{what} must be a name or {{name}}, or None", script)
    return {"name": value.strip()} if value.strip() else None


def _person(value: Any, what: str, script: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not isinstance(value.get("id"), str) or not value["id"]:
        role = what.rsplit(".", 1)[-1]
        raise _refuse(
            f"{what} must be a person ({{id, name, email}}, e.g. issue.{role}) or None", script
        )
    name, email, username = value.get("name"), value.get("email"), value.get("username")
    person = {
        "id": value["id"],
        "name": name if isinstance(name, str) and name else value["id"],
        "email": email if isinstance(email, str) and email else None,
    }
    if isinstance(username, str) and username:
        person["username"] = username
    return person


# --- incoming -------------------------------------------------------------------------------


def issue_fields(result: Mapping[str, Any], ctx: IncomingContext) -> dict[str, Any]:
    """:class:`~chalicelib.trackers.base.IssueFields` keyword arguments set by the script."""
    out: dict[str, Any] = {}
    for name, attr in NAME_LISTS.items():
        if name in result:
            out[attr] = tuple(_names(result[name], f"issue.{name}", INCOMING))
    if "due_date" in result:
        due = _date(result["due_date"], "issue.due_date", INCOMING)
        out["due_date"] = due if due is not None else (None if ctx.first_sync else "")
    if "environment" in result:
        out["environment"] = incoming_body(result["environment"], ctx, "issue.environment")
    if "resolution" in result:
        named = _resolution(result["resolution"], "issue.resolution", INCOMING)
        if named is not None:
            out["resolution"] = named["name"]
        else:
            out["resolution"] = None if ctx.first_sync else ""
    return out


def incoming_body(value: Any, ctx: IncomingContext, what: str) -> Body | None:
    """A body an incoming script set (description, environment): text or ``{format,
    value}``, in this tracker's format; ``None`` clears (nothing to clear on a first sync)."""
    if value is None:
        if ctx.first_sync:
            return None
        return Body(ctx.body_format, "" if ctx.body_format != "adf" else None)
    if isinstance(value, str):
        value = {"format": "text", "value": value}
    try:
        body = body_from_json(value)
    except InvalidReplica:
        raise _refuse(f"{what} must be text or {{format, value}}, or None", INCOMING) from None
    return basic.convert_body(body, ctx.body_format)


def plan_parts(result: Mapping[str, Any], ctx: IncomingContext) -> dict[str, Any]:
    """:class:`~chalicelib.rules.plan.Plan` keyword arguments (``people``,
    ``create_missing``) set by the script."""
    parts: dict[str, Any] = {}
    people = [
        PersonOp(role, _person(result[role], f"issue.{role}", INCOMING))  # type: ignore[arg-type]
        for role in PEOPLE
        if role in result
    ]
    if people:
        parts["people"] = tuple(people)
    if "create_missing" in result:
        parts["create_missing"] = _create_missing(result["create_missing"])
    return parts


def _create_missing(value: Any) -> frozenset[str]:
    if value is None or value is False:
        return frozenset()
    if value is True:
        return frozenset(NAME_LISTS)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(x, str) for x in value):
        raise _refuse(f"issue.create_missing must be a list among {', '.join(NAME_LISTS)}")
    unknown = [x for x in value if x not in NAME_LISTS]
    if unknown:
        raise _refuse(f"issue.create_missing: {unknown[0]!r} is not one of {', '.join(NAME_LISTS)}")
    return frozenset(value)
