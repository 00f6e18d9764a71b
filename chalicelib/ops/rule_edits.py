"""Saving sync rules: scripts compiled on save, mappings checked and shared, versions kept.

Called by the connection lifecycle (``PATCH /api/v1/connections/{id}``) in two steps:
:func:`check` before anything is stored (a syntax or policy error is a 400 naming the
script, the line and the reason, so the previous version stays active), then
:func:`apply` right before the end is saved (history, and for Visual mode the other end
told through the node API: if it cannot be told, nothing changes here either).

Visual mappings are one document for both sides
(:mod:`chalicelib.rules.mapping_document`): this end runs its ``local`` blocks and sends
the whole document to the other end, which runs its own part and records who changed it
(:func:`receive_mappings`). A private other end
cannot be reached, so its side cannot be configured from here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from chalicelib.config import Settings
from chalicelib.errors import BadGateway, BadRequest, Conflict
from chalicelib.net.peer import PeerClient
from chalicelib.rules import mapping_document
from chalicelib.rules.script.errors import ScriptError
from chalicelib.store.models import ConnectionModel
from chalicelib.store.pages import KeyShape, Position

log = logging.getLogger("twinsync.rules")

SCRIPTS = ("outgoing_script", "incoming_script")
VERSIONS_KEPT = 10


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# --- check (nothing stored yet) -----------------------------------------------------------


def check_script(name: str, text: str) -> None:
    """400 ``script_invalid`` with the line and the reason when ``text`` does not compile."""
    from chalicelib.rules.script.policy import compile_script

    try:
        compile_script(text, name)
    except ScriptError as exc:
        where = f"line {exc.line}: " if exc.line else ""
        raise BadRequest(
            f"{name} {where}{exc.message} The script was not saved; the previous version "
            "stays active.",
            code="script_invalid",
            field=name,
        ) from exc


def check_mappings(document: Any) -> list[dict[str, Any]]:
    """The mappings in stored form, or 400 ``mappings_invalid`` naming the path."""
    try:
        return mapping_document.normalize(document)
    except mapping_document.MappingError as exc:
        raise BadRequest(
            f"{exc.path}: {exc.message}.", code="mappings_invalid", field=exc.path
        ) from exc


def check(conn: ConnectionModel, changes: Mapping[str, Any]) -> dict[str, Any]:
    """``changes`` with scripts compiled and mappings normalised (or a 400)."""
    checked = dict(changes)
    for name in SCRIPTS:
        if name in checked:
            check_script(name, checked[name])
    if "mappings" in checked:
        checked["mappings"] = check_mappings(checked["mappings"])
    return checked


# --- apply (right before the end is saved) -------------------------------------------------


def record_script(conn: ConnectionModel, name: str, text: str, *, by: str, at: str) -> None:
    """Set ``name`` to ``text`` and keep it as a new version (the last few per script)."""
    history = [h for h in conn.script_history or [] if isinstance(h, dict) and "script" in h]
    mine = [h for h in history if h["script"] == name]
    if not mine and getattr(conn, name):  # the starting version, before any edit
        created = conn.created_at.isoformat() if conn.created_at else None
        mine = [
            {
                "script": name,
                "version": 1,
                "text": getattr(conn, name),
                "by": "default",
                "at": created,
            }
        ]
    version = (mine[-1]["version"] if mine else 0) + 1
    mine.append({"script": name, "version": version, "text": text, "by": by, "at": at})
    others = [h for h in history if h["script"] != name]
    conn.script_history = others + mine[-VERSIONS_KEPT:]
    setattr(conn, name, text)


def record_mappings(
    conn: ConnectionModel, document: list[dict[str, Any]], *, by: str, node: str, at: str, via: str
) -> None:
    history = list(conn.mappings_history or [])
    version = (history[-1].get("version", 0) if history else 0) + 1
    history.append(
        {"version": version, "mappings": document, "by": by, "node": node, "at": at, "via": via}
    )
    conn.mappings_history = history[-VERSIONS_KEPT:]
    conn.mappings = document


def apply(
    conn: ConnectionModel,
    changes: Mapping[str, Any],
    *,
    by: str = "admin",
    settings: Settings,
    peer: PeerClient,
) -> None:
    """Store checked script and mapping changes on ``conn`` (not saved), with history."""
    at = _now()
    for name in SCRIPTS:
        if name in changes and changes[name] != getattr(conn, name):
            record_script(conn, name, changes[name], by=by, at=at)
    if "mappings" in changes:
        share_mappings(conn, changes["mappings"], by=by, at=at, peer=peer)
        record_mappings(
            conn, changes["mappings"], by=by, node=settings.node_name, at=at, via="admin_api"
        )


# --- sharing mappings with the other end ---------------------------------------------------


def share_mappings(
    conn: ConnectionModel, document: list[dict[str, Any]], *, by: str, at: str, peer: PeerClient
) -> None:
    """Give the other end the document (it keeps its own view); raise if it cannot be told
    and the document configures its side."""
    configures_remote = mapping_document.has_side(document, "remote")
    if conn.local_peer_id:
        _share_locally(conn, document, by=by, at=at)
        return
    reachable = bool(conn.remote_public and conn.remote_url and conn.remote_node_id and conn.key)
    if conn.status == "pending" or not reachable:
        if configures_remote:
            why = (
                "the partner has not accepted the invitation yet"
                if conn.status == "pending"
                else "the other side is private, so it cannot be reached from here"
            )
            raise Conflict(
                f"The other side's mappings cannot be set from here: {why}. Send only "
                "'local' blocks; the other side's admin configures theirs.",
                code="visual_other_side_unreachable",
                field="mappings",
            )
        return
    _share_with_peer(conn, document, by=by, at=at, peer=peer)


def _share_locally(
    conn: ConnectionModel, document: list[dict[str, Any]], *, by: str, at: str
) -> None:
    from chalicelib.connections import store

    other = store.find_connection(str(conn.local_peer_id))
    if other is None:
        return
    record_mappings(
        other, mapping_document.mirror(document), by=by, node="this node", at=at, via="local"
    )
    other.save()


def _share_with_peer(
    conn: ConnectionModel, document: list[dict[str, Any]], *, by: str, at: str, peer: PeerClient
) -> None:
    from chalicelib.net.errors import OutboundError, PeerRefused
    from chalicelib.ops.manage import peer_end

    end = peer_end(conn)
    if end is None:
        return
    path = f"/node/v1/connections/{quote(conn.id, safe='')}/mappings"
    try:
        peer.call(end, "PUT", path, {"mappings": document, "changed_by": by, "changed_at": at})
    except PeerRefused as exc:
        raise Conflict(
            f"The other side refused the mappings ({exc.code}): {exc.message} Nothing changed.",
            code="visual_refused_by_other_side",
            field="mappings",
        ) from exc
    except OutboundError as exc:
        raise BadGateway(
            f"The other side could not be told the new mappings ({exc.message}); nothing "
            "changed. Try again when it is reachable.",
            code="other_side_unreachable",
        ) from exc


def receive_mappings(conn: ConnectionModel, body: Mapping[str, Any]) -> dict[str, Any]:
    """``PUT /node/v1/connections/{cid}/mappings``: the other end's admin changed them."""
    if conn.mode != "visual":
        raise Conflict(
            f"This end of the connection is in {conn.mode} mode, not visual.",
            code="rules_not_in_this_mode",
            field="mappings",
        )
    sent = check_mappings(body.get("mappings"))
    by = body.get("changed_by")
    at = body.get("changed_at")
    node = conn.remote_name or conn.remote_node_id or "the other side"
    record_mappings(
        conn,
        mapping_document.mirror(sent),
        by=str(by)[:100] if isinstance(by, str) else "admin",
        node=str(node),
        at=str(at)[:40] if isinstance(at, str) else _now(),
        via="node_api",
    )
    conn.updated_at = datetime.now(UTC)
    conn.save()
    log.info("mappings of %s changed by the admin of %s", conn.id, node)
    return {"connection_id": conn.id, "mappings": conn.mappings}


HISTORY_POSITIONS = KeyShape(
    fixed={},
    patterns={
        "script": r"(|incoming_script|outgoing_script)",
        "script_version": r"[0-9]{0,9}",
        "mappings_version": r"[0-9]{0,9}",
    },
)


def history(
    conn: ConnectionModel, *, limit: int = 1000, after: dict[str, str] | None = None
) -> tuple[dict[str, Any], Position | None]:
    """A page of the kept versions of this end's scripts and mappings, oldest first:
    ``{scripts, mappings}`` (scripts by name, then version) with up to ``limit`` of each,
    and where the next page starts (``None``: none left)."""
    start = HISTORY_POSITIONS.check(after) if after is not None else None
    scripts = sorted(
        (h for h in conn.script_history or [] if isinstance(h, dict) and "script" in h),
        key=lambda h: (str(h["script"]), int(h.get("version") or 0)),
    )
    mappings = sorted(
        (h for h in conn.mappings_history or [] if isinstance(h, dict)),
        key=lambda h: int(h.get("version") or 0),
    )
    if start is not None:
        script_from = (start["script"], int(start["script_version"] or 0))
        scripts = [
            h for h in scripts if (str(h["script"]), int(h.get("version") or 0)) > script_from
        ]
        mappings_from = int(start["mappings_version"] or 0)
        mappings = [h for h in mappings if int(h.get("version") or 0) > mappings_from]
    body = {"scripts": scripts[:limit], "mappings": mappings[:limit]}
    if len(scripts) <= limit and len(mappings) <= limit:
        return body, None
    last_script = body["scripts"][-1] if body["scripts"] else None
    last_mappings = body["mappings"][-1] if body["mappings"] else None
    position = {
        "script": str(last_script["script"]) if last_script else (start or {}).get("script", ""),
        "script_version": str(last_script.get("version") or 0)
        if last_script
        else (start or {}).get("script_version", ""),
        "mappings_version": str(last_mappings.get("version") or 0)
        if last_mappings
        else (start or {}).get("mappings_version", ""),
    }
    return body, position
