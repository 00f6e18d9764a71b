"""Who may read the comments a connection's end writes as internal (issue 14).

Jira restricts a comment by its ``visibility``: a project role or a group. Each connection
end may name its own (``private_comment_visibility``); without one it is the Administrators
project role, which Jira Server/Data Center and Cloud both have.
"""

from __future__ import annotations

from chalicelib.store.models import ConnectionModel
from chalicelib.trackers.visibility import DEFAULT_PRIVATE_VISIBILITY, CommentVisibility


def private_visibility(conn: ConnectionModel) -> CommentVisibility:
    """The role or group this end's internal comments are restricted to."""
    stored = conn.private_comment_visibility
    if isinstance(stored, dict) and stored.get("value"):
        if stored.get("type") == "role":
            return CommentVisibility("role", str(stored["value"]))
        if stored.get("type") == "group":
            return CommentVisibility("group", str(stored["value"]))
    return DEFAULT_PRIVATE_VISIBILITY
