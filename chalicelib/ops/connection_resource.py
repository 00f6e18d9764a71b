"""The ``connection`` resource of the admin API, and how its status is worked out.

Shape (wire contract v1): ``{id, name, description, mode, status, role, local_short_name,
remote_short_name, remote: {node_id|null, url|null, public}|null, incoming_project,
created_at, updated_at}``; in script mode also ``outgoing_script`` and ``incoming_script``;
in visual mode ``mappings``. Added by issue 4: ``status_reason`` (``null`` or a sentence
saying why the status is what it is, e.g. that the other side deactivated or deleted its
end). Added by issue 14: ``private_comment_visibility`` (``{type: role|group, value}``, who
may read the comments this end writes as internal; the Administrators role by default).
Added by issue 17: ``incoming_guard_jql`` in script and visual mode (``null`` when unset).
Added by issue 18, in every mode: ``user_map`` (``[{remote, local}]``, ``[]`` when unset),
``user_fallback`` (``{user}`` or ``"unassigned"``, the default) and ``hierarchy``
(``"parent_first"``, the default, or ``"wait"``).
Secrets (the connection key) are never part of it.

Its status is worked out in :mod:`chalicelib.connections.status`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib.store.models import ConnectionModel
from chalicelib.sync.privacy import private_visibility


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_resource(conn: ConnectionModel) -> dict[str, Any]:
    """The admin API's view of one end of a connection."""
    remote = None
    if conn.remote_node_id is not None or conn.remote_url is not None:
        remote = {
            "node_id": conn.remote_node_id,
            "url": conn.remote_url,
            "public": bool(conn.remote_public),
        }
    resource: dict[str, Any] = {
        "id": conn.id,
        "name": conn.name,
        "description": conn.description or "",
        "mode": conn.mode,
        "status": conn.status,
        "status_reason": conn.status_reason,
        "role": conn.role,
        "local_short_name": conn.local_short_name,
        "remote_short_name": conn.remote_short_name,
        "remote": remote,
        "incoming_project": conn.incoming_project,
        "private_comment_visibility": private_visibility(conn).as_json(),
        "user_map": list(conn.user_map or []),
        "user_fallback": conn.user_fallback or "unassigned",
        "hierarchy": conn.hierarchy or "parent_first",
        "created_at": iso(conn.created_at),
        "updated_at": iso(conn.updated_at),
    }
    if conn.mode in ("script", "visual"):
        resource["incoming_guard_jql"] = conn.incoming_guard_jql or None
    if conn.mode == "script":
        resource["outgoing_script"] = conn.outgoing_script or ""
        resource["incoming_script"] = conn.incoming_script or ""
        resource["conflict_rules"] = dict(conn.conflict_rules or {})
    if conn.mode == "visual":
        resource["mappings"] = conn.mappings or []
    if remote is not None and not conn.remote_public and not conn.local_peer_id:
        # the other end is private: it pulls, so show how far behind it is
        from chalicelib.sync.outbox_api import lag

        resource["peer_lag"] = lag(conn)
    return resource
