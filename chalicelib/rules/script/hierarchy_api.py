"""Issue 18, Script mode: an issue's parent (sub-tasks, epics), as the scripts see and set it.

Pure. :mod:`chalicelib.rules.script.rules` calls :func:`view` (the outgoing ``issue``),
:func:`normalise` (the outgoing script's replica) and :func:`issue_fields` /
:func:`plan_parts` (what the incoming script set on ``issue``).

- outgoing: ``issue.parent`` is ``{key}`` (this side's key of the parent: a sub-task's
  parent, an epic) or ``None``; ``replica.parent = issue.parent`` (or a key text) sends it;
- incoming: ``issue.parent = replica.parent`` (``{key}`` or a key text, the other side's
  key; ``None`` removes the parent) becomes a :class:`~chalicelib.rules.plan.ParentOp`:
  the node maps that key to its twin here (and waits while it has none). Not set: the
  parent is left as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.rules.plan import IncomingContext, ParentOp
from chalicelib.rules.script.errors import ScriptError
from chalicelib.rules.script.op_lists import INCOMING
from chalicelib.trackers.base import Issue


def view(issue: Issue, *, integration_user_id: str | None) -> dict[str, Any]:
    """Keys added to the outgoing script's ``issue``."""
    return {"parent": {"key": issue.parent} if issue.parent else None}


def parent_key(value: Any, what: str, *, script: str) -> str | None:
    """``"ABC-1"`` or ``{"key": "ABC-1"}`` → ``"ABC-1"``; ``None``/``""`` → ``None``."""
    if value is None or value == "":
        return None
    if isinstance(value, Mapping):
        value = value.get("key")
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise ScriptError(f"{what} must be an issue key or {{key}}", kind="result", script=script)


def normalise(replica: dict[str, Any], *, script: str) -> None:
    """The outgoing script's values in replica form (a name for ``{name}``, …), in place."""
    if "parent" not in replica:
        return
    key = parent_key(replica["parent"], "replica.parent", script=script)
    replica["parent"] = {"key": key} if key else None


def issue_fields(result: Mapping[str, Any], ctx: IncomingContext) -> dict[str, Any]:
    """:class:`~chalicelib.trackers.base.IssueFields` keyword arguments set by the script.

    None: ``IssueFields.parent`` is this tracker's key, which only the sync worker knows
    (:func:`chalicelib.sync.hierarchy.resolve_parent` sets it from the plan's parent)."""
    return {}


def plan_parts(result: Mapping[str, Any], ctx: IncomingContext) -> dict[str, Any]:
    """:class:`~chalicelib.rules.plan.Plan` keyword arguments (``parent``) set by the
    script: ``issue.parent`` set (to a key, ``{key}`` or ``None``) → a ``ParentOp``."""
    if "parent" not in result:
        return {}
    return {"parent": ParentOp(parent_key(result["parent"], "issue.parent", script=INCOMING))}
