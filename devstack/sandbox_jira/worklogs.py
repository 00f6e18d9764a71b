"""Jira's time durations (``timeSpent``) and the checks of a worklog request.

Jira reads ``"1w 2d 3h 30m"`` with its default time tracking settings: a day is 8 hours, a
week 5 days, a bare number is minutes; it writes durations back the same way, largest unit
first (``5400`` seconds is ``"1h 30m"``). Errors are Jira's: 400 ``{"errors":
{"timeLogged": ...}}``. Unconfirmed wording: the ``started`` parse error and the
"not both" refusal; Cloud's document says ``started`` is required on create, the sandbox
takes now instead.
"""

from __future__ import annotations

import re
from typing import Any

from . import adf
from .errors import field_errors
from .timefmt import parse_jira_time

UNITS = (("w", 5 * 8 * 3600), ("d", 8 * 3600), ("h", 3600), ("m", 60))
_PART = re.compile(r"^(\d+(?:\.\d+)?)([wdhm]?)$")
NO_TIME = "You must indicate the time spent working."
BAD_TIME = "Invalid time duration entered."


def parse_duration(text: str) -> int | None:
    """Seconds of a Jira duration, ``None`` when it is not one."""
    parts = text.lower().split()
    if not parts:
        return None
    total = 0.0
    for part in parts:
        found = _PART.match(part)
        if not found:
            return None
        unit = dict(UNITS)[found.group(2) or "m"]
        total += float(found.group(1)) * unit
    return int(total)


def format_duration(seconds: int) -> str:
    out = []
    left = seconds
    for unit, size in UNITS:
        if left >= size:
            out.append(f"{left // size}{unit}")
            left %= size
    return " ".join(out) or "0m"


def read_worklog(
    body: Any, *, version: int, cloud: bool, now: int, creating: bool
) -> dict[str, Any]:
    """What a worklog request sets: ``seconds``, ``started`` (ms), ``comment`` (stored as
    the site keeps bodies), ``visibility``; absent keys are left as they are."""
    if not isinstance(body, dict):
        raise field_errors({"worklog": "Can not deserialize instance of worklog."})
    out: dict[str, Any] = {}
    seconds = _seconds(body.get("timeSpent"), body.get("timeSpentSeconds"))
    if seconds is not None:
        out["seconds"] = seconds
    elif creating:
        raise field_errors({"timeLogged": NO_TIME})
    if body.get("started") is not None:
        try:
            out["started"] = parse_jira_time(str(body["started"]))
        except ValueError:
            raise field_errors({"started": "Could not parse the started date."}) from None
    elif creating:
        out["started"] = now
    if "comment" in body:
        out["comment"] = _comment(body["comment"], version=version, cloud=cloud)
    if "visibility" in body:
        out["visibility"] = body["visibility"]
    return out


def _seconds(spent: Any, seconds: Any) -> int | None:
    """Seconds from ``timeSpent`` or ``timeSpentSeconds`` (not both); ``None``: neither."""
    if spent is not None and seconds is not None:
        raise field_errors(
            {"timeLogged": "Provide either timeSpent or timeSpentSeconds, not both."}
        )
    if spent is not None:
        parsed = parse_duration(spent) if isinstance(spent, str) else None
        if not parsed:
            raise field_errors({"timeLogged": BAD_TIME})
        return parsed
    if seconds is not None:
        if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds <= 0:
            raise field_errors({"timeLogged": BAD_TIME})
        return seconds
    return None


def _comment(value: Any, *, version: int, cloud: bool) -> Any:
    if value is None or value == "":
        return None
    if version == 3:
        if not adf.is_doc(value):
            raise field_errors({"comment": "Comment body is not a valid Atlassian Document."})
        return value
    if not isinstance(value, str):
        raise field_errors({"comment": "Comment body must be a string."})
    return adf.from_text(value) if cloud else value
