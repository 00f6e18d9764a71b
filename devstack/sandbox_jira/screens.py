"""Screens: which fields a create, an edit or a workflow transition may set, and which it must.

Jira sets a field through REST only when the field is on the screen of that operation (the
project's create screen, its edit screen, the transition's screen); anything else, and any
``customfield_`` id the site does not know, refuses the whole write with
``Field 'x' cannot be set. It is not on the appropriate screen, or unknown.``. A project's
screens are plain data kept on the project::

    {"create": ["summary", "description", "Customer"],   # ids or custom field names
     "edit": ["summary", "description", "labels"],
     "required": ["Customer"]}                            # on create, besides summary

``create``/``edit`` left out (the default) put every field the sandbox knows on the screen,
except ``resolution``, which only a transition screen carries, as in Jira's default
screens. A transition may name a ``screen`` (fields) and ``required`` fields; a transition
without a screen sets no field at all. Resolutions are Jira Cloud's defaults.
"""

from __future__ import annotations

from typing import Any

# id, name, description: Jira Cloud's default resolutions
RESOLUTIONS = [
    ("10000", "Done", "Work has been completed on this issue."),
    ("10001", "Won't Do", "This issue won't be actioned."),
    ("10002", "Duplicate", "The problem is a duplicate of an existing issue."),
    ("10003", "Cannot Reproduce", "All attempts at reproducing this issue failed."),
]
DEFAULT_RESOLUTION = "Done"
SYSTEM_NAMES = {
    "summary": "Summary",
    "description": "Description",
    "environment": "Environment",
    "issuetype": "Issue Type",
    "labels": "Labels",
    "priority": "Priority",
    "reporter": "Reporter",
    "assignee": "Assignee",
    "resolution": "Resolution",
    "parent": "Parent",
    # issue 18
    "components": "Component/s",
    "fixVersions": "Fix Version/s",
    "versions": "Affects Version/s",
    "duedate": "Due Date",
}
NOT_ON_DEFAULT_SCREENS = {"resolution"}
SCREEN_KINDS = ("create", "edit", "required")


class ScreenError(ValueError):
    """A screens definition the sandbox cannot use."""


def parse_screens(raw: Any) -> dict[str, list[str] | None] | None:
    """A checked ``screens`` setting (``None``: the default screens, everything settable)."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) - set(SCREEN_KINDS):
        raise ScreenError(f"screens must be an object with keys among {list(SCREEN_KINDS)}")
    out: dict[str, list[str] | None] = {}
    for kind in SCREEN_KINDS:
        value = raw.get(kind)
        if value is None:
            out[kind] = [] if kind == "required" else None
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ScreenError(f"screens.{kind} must be a list of field ids or names")
        out[kind] = list(value)
    return out


def resolution_id(name: str | None) -> str | None:
    return next((rid for rid, rname, _ in RESOLUTIONS if rname == name), None)


def find_resolution(ref: Any) -> str | None:
    """A resolution name from ``{"name": ...}`` or ``{"id": ...}`` (``None``: no such one)."""
    if not isinstance(ref, dict):
        return None
    for rid, name, _ in RESOLUTIONS:
        if str(ref.get("id", "")) == rid or str(ref.get("name", "")).lower() == name.lower():
            return name
    return None


def resolution_after(
    transition: dict[str, Any], done: bool, current: str | None, chosen: str | None
) -> str | None:
    """The resolution an issue has after a transition (``chosen``: set on its screen).

    Into a done status, a transition without ``resolution`` on its screen sets one (Jira's
    default workflows have that post function: ``Done`` unless the transition names
    another); one with it on its screen keeps what the user chose, which may be nothing
    (Jira's "Done but unresolved"). Out of a done status the resolution is cleared.
    """
    if not done:
        return None
    if "resolution" in transition.get("screen", []):
        return chosen if chosen is not None else current
    return current or str(transition.get("resolution") or DEFAULT_RESOLUTION)
