"""Per-project workflows: which statuses a project has and which transitions move between them.

Jira changes an issue's status only through a workflow transition. A sandbox workflow is
plain data kept on the project::

    {"statuses": [{"name": "To Do", "category": "new"}, ...],
     "transitions": [{"id": "11", "name": "Start Progress", "from": ["To Do"],
                      "to": "In Progress"}, ...]}

A transition with an empty ``from`` is global (Jira's "all statuses can move here"); an
issue is created in the first status. When a project names no workflow it gets
:data:`DEFAULT_WORKFLOW`: To Do → In Progress → Done, and back one step at a time. A config
that lists ``statuses`` without ``transitions`` gets that same chain over its statuses.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

CATEGORIES = {  # key -> (id, key, colour, name), as Jira's status categories
    "new": (2, "new", "blue-gray", "To Do"),
    "indeterminate": (4, "indeterminate", "yellow", "In Progress"),
    "done": (3, "done", "green", "Done"),
}
KNOWN_CATEGORIES = {"To Do": "new", "In Progress": "indeterminate", "Done": "done"}

DEFAULT_WORKFLOW: dict[str, Any] = {
    "statuses": [
        {"name": "To Do", "category": "new"},
        {"name": "In Progress", "category": "indeterminate"},
        {"name": "Done", "category": "done"},
    ],
    "transitions": [
        {"id": "11", "name": "Start Progress", "from": ["To Do"], "to": "In Progress"},
        {"id": "21", "name": "Done", "from": ["In Progress"], "to": "Done"},
        {"id": "31", "name": "Stop Progress", "from": ["In Progress"], "to": "To Do"},
        {"id": "41", "name": "Reopen", "from": ["Done"], "to": "In Progress"},
    ],
}


class WorkflowError(ValueError):
    """A workflow definition the sandbox cannot use."""


def default_workflow() -> dict[str, Any]:
    return copy.deepcopy(DEFAULT_WORKFLOW)


def _category(name: str, index: int, count: int) -> str:
    if name in KNOWN_CATEGORIES:
        return KNOWN_CATEGORIES[name]
    if index == 0:
        return "new"
    return "done" if index == count - 1 else "indeterminate"


def _statuses(raw: Any) -> list[dict[str, str]]:
    if not isinstance(raw, list) or not raw:
        raise WorkflowError("workflow.statuses must be a non-empty list")
    out: list[dict[str, str]] = []
    for i, item in enumerate(raw):
        spec = {"name": item} if isinstance(item, str) else item
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise WorkflowError(f"workflow.statuses[{i}] must be a name or {{name, category}}")
        name = spec["name"].strip()
        category = spec.get("category") or _category(name, i, len(raw))
        if not name or category not in CATEGORIES:
            raise WorkflowError(
                f"workflow.statuses[{i}]: a name, and a category among {list(CATEGORIES)}"
            )
        if any(s["name"].lower() == name.lower() for s in out):
            raise WorkflowError(f"workflow.statuses: {name} is listed twice")
        out.append({"name": name, "category": category})
    return out


def chain(names: list[str]) -> list[dict[str, Any]]:
    """Forward one step and back one step between consecutive statuses."""
    pairs = list(itertools.pairwise(names))
    forward = [{"name": f"Move to {b}", "from": [a], "to": b} for a, b in pairs]
    back = [{"name": f"Back to {a}", "from": [b], "to": a} for a, b in pairs]
    items = forward + back
    for i, item in enumerate(items):
        item["id"] = str(11 + 10 * i)
    return items


def _transitions(raw: Any, names: list[str]) -> list[dict[str, Any]]:
    if raw is None:
        return chain(names)
    if not isinstance(raw, list):
        raise WorkflowError("workflow.transitions must be a list")
    out: list[dict[str, Any]] = []
    for i, item in enumerate(raw):
        where = f"workflow.transitions[{i}]"
        if not isinstance(item, dict) or item.get("to") not in names:
            raise WorkflowError(f"{where}.to must be one of the workflow's statuses {names}")
        sources = item.get("from") or []
        if isinstance(sources, str):
            sources = [sources]
        if not isinstance(sources, list) or any(s not in names for s in sources):
            raise WorkflowError(f"{where}.from must list statuses of the workflow (or be empty)")
        entry: dict[str, Any] = {
            "id": str(item.get("id") or 11 + 10 * i),
            "name": str(item.get("name") or item["to"]),
            "from": list(sources),
            "to": item["to"],
        }
        entry.update(_transition_screen(item, where))
        out.append(entry)
    ids = [t["id"] for t in out]
    if len(set(ids)) != len(ids):
        raise WorkflowError("workflow.transitions: ids must be unique")
    return out


def _transition_screen(item: dict[str, Any], where: str) -> dict[str, Any]:
    """A transition's ``screen`` (fields it may set), ``required`` fields and the
    ``resolution`` its post function sets (see ``screens.py``)."""
    out: dict[str, Any] = {}
    for name in ("screen", "required"):
        value = item.get(name)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise WorkflowError(f"{where}.{name} must be a list of field ids or names")
        out[name] = list(value)
    if any(f not in out.get("screen", []) for f in out.get("required", [])):
        raise WorkflowError(f"{where}.required must list fields of its screen")
    if item.get("resolution") is not None:
        out["resolution"] = str(item["resolution"])
    return out


def parse_workflow(raw: Any) -> dict[str, Any]:
    """A checked workflow from a project's ``workflow`` setting (``None``: the default)."""
    if raw is None:
        return default_workflow()
    if not isinstance(raw, dict):
        raise WorkflowError("workflow must be an object with statuses (and transitions)")
    statuses = _statuses(raw.get("statuses"))
    names = [s["name"] for s in statuses]
    return {"statuses": statuses, "transitions": _transitions(raw.get("transitions"), names)}


def status_names(workflow: dict[str, Any]) -> list[str]:
    return [s["name"] for s in workflow["statuses"]]


def initial_status(workflow: dict[str, Any]) -> str:
    return str(workflow["statuses"][0]["name"])


def available(workflow: dict[str, Any], current: str) -> list[dict[str, Any]]:
    """Transitions an issue in ``current`` can take (a global one never loops to itself)."""
    return [
        t
        for t in workflow["transitions"]
        if (current in t["from"]) or (not t["from"] and t["to"] != current)
    ]
