"""What making a connection shares: the wire protocol's version, node ids and base URLs
compared, the mode and project checks, and a new end's defaults.

Used by :mod:`chalicelib.ops.initiate` (node A), :mod:`chalicelib.ops.accept` (node B) and
:mod:`chalicelib.ops.handshake` (B calls A); see the first for the whole flow.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from chalicelib.config import Settings
from chalicelib.connections.status import refresh_status
from chalicelib.errors import BadGateway, TwinsyncError, Unprocessable
from chalicelib.rules.defaults import default_scripts
from chalicelib.store.models import ConnectionModel
from chalicelib.trackers import errors as tracker_errors

if TYPE_CHECKING:
    from chalicelib.trackers import base as trackers

PROTOCOL = 1
NODE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,62}$")


def same_url(a: str | None, b: str | None) -> bool:
    """True when two base URLs name the same node (scheme, host, port, path)."""
    if not a or not b:
        return False
    return _url_identity(a) == _url_identity(b)


def _url_identity(url: str) -> tuple[str, str, int | None, str]:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").rstrip("."), port, parts.path.rstrip("/")


# --- shared checks ------------------------------------------------------------------------


def require_mode_offered(settings: Settings, mode: str) -> None:
    if mode not in settings.modes:
        raise Unprocessable(
            f"This node does not offer {mode} mode; it offers {', '.join(settings.modes)}.",
            code="mode_not_available",
            field="mode",
        )


def require_project(tracker: trackers.Tracker, key: str, field: str) -> trackers.Project:
    """The project ``key`` of this node's tracker, or ``422 unknown_project`` naming it."""
    try:
        return tracker.get_project(key)
    except tracker_errors.NotFound as exc:
        raise Unprocessable(
            f"The project {key!r} does not exist in this node's tracker (or the integration "
            "user cannot see it). GET /api/v1/projects lists the projects you can choose.",
            code="unknown_project",
            field=field,
        ) from exc
    except tracker_errors.TrackerError as exc:
        raise tracker_unavailable(exc) from exc


def tracker_unavailable(exc: tracker_errors.TrackerError) -> TwinsyncError:
    return BadGateway(
        f"This node's tracker did not answer as expected ({type(exc).__name__}); "
        "nothing was changed, try again.",
        code="tracker_unavailable",
    )


def new_end(**values: Any) -> ConnectionModel:
    end = ConnectionModel(**values)
    if end.mode == "script":
        end.outgoing_script, end.incoming_script = default_scripts()
    if end.mode == "visual":
        end.mappings = []
    refresh_status(end)
    return end
