"""Issue 18, Script mode: issue links and worklogs (``merge_worklogs``), as the scripts
see and set them.

Pure. :mod:`chalicelib.rules.script.rules` calls :func:`view` (the outgoing ``issue``),
:func:`normalise` (the outgoing script's replica) and :func:`issue_fields` /
:func:`plan_parts` (what the incoming script set on ``issue``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.rules.plan import IncomingContext
from chalicelib.trackers.base import Issue


def view(issue: Issue, *, integration_user_id: str | None) -> dict[str, Any]:
    """Keys added to the outgoing script's ``issue``."""
    return {}


def normalise(replica: dict[str, Any], *, script: str) -> None:
    """The outgoing script's values in replica form (a name for ``{name}``, …), in place."""


def issue_fields(result: Mapping[str, Any], ctx: IncomingContext) -> dict[str, Any]:
    """:class:`~chalicelib.trackers.base.IssueFields` keyword arguments set by the script."""
    return {}


def plan_parts(result: Mapping[str, Any], ctx: IncomingContext) -> dict[str, Any]:
    """:class:`~chalicelib.rules.plan.Plan` keyword arguments (``people``,
    ``create_missing``) set by the script."""
    return {}


def helpers(ctx: IncomingContext) -> dict[str, Any]:
    """Functions offered to the incoming script (run inside the sandbox process)."""
    return {}


def finish(issue: dict[str, Any], ctx: IncomingContext) -> None:
    """After the incoming script ran (inside the sandbox process): shorthands such as
    ``issue.worklogs = replica.worklogs`` made into operations, in place."""
