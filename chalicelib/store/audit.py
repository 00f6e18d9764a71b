"""The audit log: an append-only record of configuration changes, who made them and when.

Entries live in the events table under ``pk = "audit"``, with time-ordered sort keys; an
entry is only ever put (conditionally: never over another), never updated or deleted.
Who: ``admin:<fingerprint>`` for the node's admin token (the first characters of the
token's SHA-256, which the stage already holds; never the token), ``node:<id>`` for the
other end of a connection, ``system`` for what the node decides itself.

Recording never breaks the change it records: a failure is logged loudly instead.

Each entry is also one log line (``event`` = the action, ``connection.created`` logged as
``connection.initiated``), so the lifecycle of every connection (initiated, accepted,
activated, deactivated, deleted, scripts changed…) is in the node's logs with its
connection id, beside the sync lines of the same connection.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from chalicelib.config import get_settings
from chalicelib.store.models import ConnectionModel, EventModel, new_id, utcnow
from chalicelib.store.namespaces import AUDIT_PK
from chalicelib.store.pages import ID, KeyShape, Page, query_page

log = logging.getLogger("twinsync.audit")

SYSTEM = "system"
POSITIONS = KeyShape(fixed={"pk": AUDIT_PK}, patterns={"sk": ID})

# An audit action's name in the logs where the operator's word differs.
LOG_EVENTS = {"connection.created": "connection.initiated"}


def admin_actor() -> str:
    """The admin token's identity: a fingerprint of its hash."""
    return f"admin:{get_settings().admin_token_sha256[:12]}"


def node_actor(node_id: str | None) -> str:
    return f"node:{node_id or 'unknown'}"


def record(
    action: str,
    *,
    actor: str | None = None,
    connection_id: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Append one entry; returns it (``None`` if it could not be stored)."""
    try:
        who = actor or admin_actor()
        entry = {
            "id": new_id(),
            "time": utcnow().isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "actor": who,
            "action": action,
            "connection_id": connection_id,
            "details": dict(details or {}),
        }
        EventModel(pk=AUDIT_PK, sk=entry["id"], data=entry).save(
            condition=EventModel.sk.does_not_exist()
        )
    except Exception:
        log.exception("AUDIT ENTRY LOST: %s on %s", action, connection_id)
        return None
    event = LOG_EVENTS.get(action, action)
    log.info(
        "%s%s",
        event,
        f" ({connection_id})" if connection_id else "",
        extra={
            "event": event,
            "actor": who,
            "connection_id": connection_id,
            "details": entry["details"],
        },
    )
    return entry


# --- one-line hooks for the connection lifecycle -------------------------------------------


def connection_event(
    action: str, conn: ConnectionModel, *, actor: str | None = None, **details: Any
) -> None:
    """``connection.<action>`` for ``conn``, with what identifies it (never its key)."""
    base = {"name": conn.name, "mode": conn.mode, "status": conn.status}
    if conn.remote_node_id:
        base["remote_node_id"] = conn.remote_node_id
    record(
        f"connection.{action}",
        actor=actor,
        connection_id=conn.id,
        details={**base, **details},
    )


def peer_event(action: str, conn: ConnectionModel, **details: Any) -> None:
    """A change the other end of ``conn`` made (handshake, its status notices)."""
    connection_event(action, conn, actor=node_actor(conn.remote_node_id), **details)


def _digest(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode()).hexdigest()[:12]


def connection_edited(conn: ConnectionModel, changes: Mapping[str, Any]) -> None:
    """A PATCH: which fields changed; scripts by content hash (their text is in the end)."""
    fields = sorted(changes)
    details: dict[str, Any] = {"fields": fields}
    scripts = [f for f in fields if f.endswith("_script")]
    for name in scripts:
        details[f"{name}_sha256"] = _digest(changes[name])
    if "incoming_guard_jql" in changes:
        details["incoming_guard_jql"] = changes["incoming_guard_jql"]
    action = "scripts_changed" if scripts else "edited"
    connection_event(action, conn, **details)


# --- reading -------------------------------------------------------------------------------


def entries_page(
    *,
    connection_id: str | None = None,
    limit: int,
    after: dict[str, str] | None = None,
    newest_first: bool = True,
) -> Page[dict[str, Any]]:
    """One page of entries (of one connection when ``connection_id`` is given)."""
    start = POSITIONS.check(after) if after is not None else None

    def of_connection(item: EventModel) -> bool:
        return item.data.get("connection_id") == connection_id

    found = query_page(
        EventModel,
        AUDIT_PK,
        forward=not newest_first,
        limit=limit,
        after=start,
        keep=of_connection if connection_id else None,
    )
    return Page([item.data for item in found.items], found.after)


def as_json_lines(items: Iterable[Mapping[str, Any]]) -> str:
    """The export format: one JSON object per line, oldest first."""
    return "".join(json.dumps(dict(i), separators=(",", ":"), sort_keys=True) + "\n" for i in items)
