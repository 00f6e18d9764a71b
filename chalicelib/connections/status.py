"""A connection end's effective status, from its own switch and what the other end told.

``pending`` until the handshake; then ``error`` if the other end was deleted,
``deactivated`` if either admin deactivated their end, else ``active``.
"""

from __future__ import annotations

from chalicelib.store.models import ConnectionModel


def effective_status(conn: ConnectionModel) -> tuple[str, str | None]:
    """``(status, reason)`` from this end's switch and what the other end told us."""
    other = conn.remote_name or conn.remote_short_name or "the other side"
    told = f": {conn.remote_reason}" if conn.remote_reason else ""
    if conn.remote_state == "deleted":
        return (
            "error",
            f"{other} deleted its end of this connection{told}. Nothing syncs any more; "
            "delete this connection, or initiate a new one.",
        )
    if conn.status == "pending":
        return "pending", None
    if conn.local_state == "deactivated":
        return "deactivated", "Deactivated on this node; activate it to resume syncing."
    if conn.remote_state == "deactivated":
        return (
            "deactivated",
            f"{other} deactivated its end of this connection{told}. "
            "Syncing resumes when it is activated there.",
        )
    return "active", None


def refresh_status(conn: ConnectionModel) -> None:
    """Store the effective status and reason on ``conn`` (not saved)."""
    conn.status, conn.status_reason = effective_status(conn)
