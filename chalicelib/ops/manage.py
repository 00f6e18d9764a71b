"""Managing connection ends: list, show, edit, upgrade, deactivate, activate, delete.

The other end is told of a deactivation, activation or deletion through the node API
(``POST /node/v1/connections/{cid}/status``) and shows it as ``status`` with a
``status_reason``. When it cannot be told now (it is private, or down) the notice is kept on
the end (``pending_notice``) for :func:`deliver_pending_notices`, and a private peer learns
it anyway on its next call: a deactivated end answers ``403 connection_deactivated``, a
deleted one ``404 connection_deleted`` (tombstone), and ``GET …/status`` tells it directly.

A local connection is one connection for the admin and two ends for the sync: name,
description, activation and deletion apply to both ends; rules are per end.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import PutError

from chalicelib.config import Settings
from chalicelib.connections import store, validation
from chalicelib.connections.status import refresh_status
from chalicelib.errors import BadRequest, Conflict, Unprocessable
from chalicelib.net.errors import OutboundError, PeerRefused
from chalicelib.net.peer import PeerClient, PeerEnd
from chalicelib.ops import teardown
from chalicelib.ops.collaborators import resolve
from chalicelib.ops.connection_setup import require_mode_offered, tracker_unavailable
from chalicelib.rules.defaults import default_scripts
from chalicelib.store import audit
from chalicelib.store.keys import condition_failed
from chalicelib.store.models import ConnectionModel
from chalicelib.sync.links import is_local, reachable_end
from chalicelib.sync.resume import resume_by_id
from chalicelib.sync.services import SyncDeps
from chalicelib.trackers import base as trackers

log = logging.getLogger("twinsync.connections")

PEER_STATUSES = ("active", "deactivated", "deleted")
REASON_MAX = 500
SCRIPT_HISTORY_MAX = 20


def _utc() -> datetime:
    return datetime.now(UTC)


def _save(end: ConnectionModel) -> None:
    try:
        end.save()
    except PutError as exc:
        if condition_failed(exc):
            raise Conflict(
                "The connection was changed by another request meanwhile; reload and retry.",
                code="concurrent_change",
            ) from exc
        raise


def ends_of(conn: ConnectionModel) -> list[ConnectionModel]:
    """``conn`` and, for a local connection, its other end."""
    ends = [conn]
    if conn.local_peer_id:
        other = store.find_connection(conn.local_peer_id)
        if other is not None:
            ends.append(other)
    return ends


# --- reads --------------------------------------------------------------------------------


def list_projects(*, tracker: trackers.Tracker) -> list[dict[str, Any]]:
    """``GET /api/v1/projects``: the "select project" step's choices."""
    try:
        projects = tracker.list_projects()
    except trackers.TrackerError as exc:
        raise tracker_unavailable(exc) from exc
    return [
        {
            "key": p.key,
            "name": p.name,
            "issue_types": list(p.issue_types),
            "default_issue_type": p.default_issue_type,
        }
        for p in projects
    ]


# --- edits --------------------------------------------------------------------------------


def patch(
    connection_id: str,
    body: Mapping[str, Any],
    *,
    settings: Settings,
    tracker: trackers.Tracker,
    peer: PeerClient,
) -> ConnectionModel:
    """``PATCH /api/v1/connections/{id}``."""
    changes = validation.patch_request(body)
    conn = store.get_connection(connection_id)
    _check_rule_edits(conn, changes)
    # a rule edit's checks (Visual's document, the script compiler's errors), imported by a
    # PATCH only: the peers' poll uses this module too (cold start, issue 19)
    from chalicelib.ops import rule_edits

    changes = rule_edits.check(conn, changes)  # scripts compile, mappings are valid (or 400)
    if changes.get("incoming_guard_jql"):
        _check_jql(changes["incoming_guard_jql"], tracker)
    moment = _utc()
    ends = ends_of(conn) if {"name", "description"} & changes.keys() else [conn]
    for end in ends:
        if "description" in changes:
            end.description = changes["description"]
        end.updated_at = moment
    _apply_rules(conn, changes, settings=settings, peer=peer)
    old_name = conn.name
    if "name" in changes and changes["name"] != old_name:
        for end in ends:
            end.name = changes["name"]
        store.rename(ends, old_name, changes["name"])
    else:
        for end in ends:
            _save(end)
    audit.connection_edited(conn, changes)
    return conn


def _check_rule_edits(conn: ConnectionModel, changes: Mapping[str, Any]) -> None:
    rules = sorted(validation.RULE_FIELDS & changes.keys())
    if not rules:
        return
    if conn.mode == "basic":
        raise Conflict(
            "Sync rules cannot be edited in Basic mode. Upgrade the connection to Script "
            f"mode first: POST /api/v1/connections/{conn.id}/upgrade with "
            '{"mode": "script"}.',
            code="rules_not_editable_in_basic_mode",
            field=rules[0],
        )
    wrong = [
        name
        for name in rules
        if (name.endswith("_script") and conn.mode != "script")
        or (name == "mappings" and conn.mode != "visual")
        or (name == "conflict_rules" and conn.mode != "script")  # Visual: on_conflict
    ]
    if wrong:
        raise Conflict(
            f"{wrong[0]} does not apply to a connection in {conn.mode} mode.",
            code="rules_not_in_this_mode",
            field=wrong[0],
        )


def _check_jql(jql: str, tracker: trackers.Tracker) -> None:
    try:
        tracker.check_jql(jql)
    except trackers.InvalidRequest as exc:
        raise Unprocessable(
            f"The tracker refuses this JQL: {exc.message}",
            code="invalid_jql",
            field="incoming_guard_jql",
        ) from exc
    except trackers.TrackerError as exc:
        raise tracker_unavailable(exc) from exc


def _apply_rules(
    conn: ConnectionModel, changes: Mapping[str, Any], *, settings: Settings, peer: PeerClient
) -> None:
    # versions kept; mappings shared with the other end
    from chalicelib.ops import rule_edits

    rule_edits.apply(conn, changes, settings=settings, peer=peer)
    if "incoming_guard_jql" in changes:
        conn.incoming_guard_jql = changes["incoming_guard_jql"]
    if "conflict_rules" in changes:
        conn.conflict_rules = changes["conflict_rules"] or None
    if "private_comment_visibility" in changes:
        conn.private_comment_visibility = changes["private_comment_visibility"]
    for name in ("user_map", "user_fallback", "hierarchy"):  # issue 18
        if name in changes:
            setattr(conn, name, changes[name])


def upgrade(connection_id: str, body: Mapping[str, Any], *, settings: Settings) -> ConnectionModel:
    """``POST /api/v1/connections/{id}/upgrade``: Basic → Script, one way, this end only."""
    target = body.get("mode")
    if not isinstance(target, str) or not target:
        raise BadRequest('Send {"mode": "script"}.', code="missing_field", field="mode")
    unknown = sorted(set(body) - {"mode"})
    if unknown:
        raise BadRequest(f"Unknown field {unknown[0]!r}.", code="unknown_field", field=unknown[0])
    conn = store.get_connection(connection_id)
    if not (conn.mode == "basic" and target == "script"):
        raise Conflict(
            f"A {conn.mode} connection cannot change to {target} mode: the only change "
            "allowed is Basic → Script (one way). For another mode, create a new connection.",
            code="mode_change_not_allowed",
            field="mode",
        )
    require_mode_offered(resolve(settings).settings, "script")
    conn.mode = "script"
    conn.outgoing_script, conn.incoming_script = default_scripts()
    conn.updated_at = _utc()
    _save(conn)
    log.info("connection %s upgraded to script mode", conn.id)
    audit.connection_event("upgraded", conn, to="script")
    return conn


# --- switches -----------------------------------------------------------------------------


def deactivate(
    connection_id: str,
    body: Mapping[str, Any] | None = None,
    *,
    settings: Settings,
    peer: PeerClient,
    sync: SyncDeps,
) -> ConnectionModel:
    """``POST /api/v1/connections/{id}/deactivate`` (optional ``{"reason": "..."}``)."""
    reason = _reason(body)
    return _switch(connection_id, "deactivated", reason, settings=settings, peer=peer, sync=sync)


def activate(
    connection_id: str,
    *,
    settings: Settings,
    peer: PeerClient,
    sync: SyncDeps,
) -> ConnectionModel:
    """``POST /api/v1/connections/{id}/activate``."""
    return _switch(connection_id, "active", None, settings=settings, peer=peer, sync=sync)


def _reason(body: Mapping[str, Any] | None) -> str | None:
    body = body or {}
    unknown = sorted(set(body) - {"reason"})
    if unknown:
        raise BadRequest(f"Unknown field {unknown[0]!r}.", code="unknown_field", field=unknown[0])
    reason = body.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > REASON_MAX):
        raise BadRequest(
            f"reason must be a string of at most {REASON_MAX} characters.",
            code="invalid_field",
            field="reason",
        )
    return (reason or "").strip() or None


def _switch(
    connection_id: str,
    state: str,
    reason: str | None,
    *,
    settings: Settings,
    peer: PeerClient,
    sync: SyncDeps,
) -> ConnectionModel:
    conn = store.get_connection(connection_id)
    if conn.status == "pending":
        raise Conflict(
            "This connection is still waiting for the partner to accept the invitation; "
            "delete it instead (that revokes the code).",
            code="connection_pending",
        )
    if state == "active" and conn.remote_state == "deleted":
        raise Conflict(
            "The other side deleted its end of this connection, so it cannot be activated. "
            "Delete it and initiate a new connection.",
            code="remote_deleted",
        )
    if conn.local_state == state:
        return conn
    moment = _utc()
    ends = ends_of(conn)
    for end in ends:
        end.local_state = state
        end.updated_at = moment
        if is_local(end):
            end.remote_state = state
        refresh_status(end)
    if not is_local(conn):
        conn.pending_notice = {"status": state, "reason": reason}
    for end in ends:
        _save(end)
    if not is_local(conn):
        deps = resolve(settings, None, peer)
        _notify(conn, deps.peer)
    log.info("connection %s %s", conn.id, "activated" if state == "active" else "deactivated")
    audit.connection_event("activated" if state == "active" else "deactivated", conn, reason=reason)
    if conn.status == "active":
        _resume(conn.id, sync)
    return conn


def _resume(connection_id: str, sync: SyncDeps) -> None:
    """What waited while the connection was not live moves again (see chalicelib.sync)."""
    resume_by_id(connection_id, deps=sync)


def peer_end(conn: ConnectionModel) -> PeerEnd | None:
    """How to call the other end of ``conn``, if it can be called (another node, public)."""
    return None if is_local(conn) else reachable_end(conn)


def _notify(conn: ConnectionModel, peer: Any) -> bool:
    """Try to deliver ``conn.pending_notice`` now; True when the peer has it."""
    notice = conn.pending_notice
    end = peer_end(conn)
    if not notice or end is None or conn.remote_state == "deleted":
        return False
    try:
        peer().send_status(end, notice["status"], notice.get("reason"))
    except OutboundError as exc:
        log.warning("could not tell the other end of %s: %s", conn.id, exc.message)
        return False
    conn.pending_notice = None
    try:
        _save(conn)
    except Conflict:
        log.info("notice of %s delivered; the end changed meanwhile", conn.id)
    return True


def deliver_pending_notices(*, settings: Settings, peer: PeerClient) -> int:
    """Retry the notices public peers have not received yet (for a scheduled caller)."""
    deps = resolve(settings, None, peer)
    return sum(
        1 for conn in store.list_connections() if conn.pending_notice and _notify(conn, deps.peer)
    )


def delete(
    connection_id: str, *, settings: Settings, peer: PeerClient, sync: SyncDeps | None = None
) -> None:
    """``DELETE /api/v1/connections/{id}``: tells the other end, revokes a pending code, and
    (with ``sync``) queues taking the links back off its twins' issues."""
    conn = store.get_connection(connection_id)
    deps = resolve(settings, None, peer)
    ends = ends_of(conn)
    invitation = (
        store.find_invitation(conn.invitation_id)
        if conn.role == "initiator" and conn.invitation_id
        else None
    )
    reason = f"deleted by the admin of {deps.settings.node_name}"
    if conn.status != "pending" and not is_local(conn):
        conn.pending_notice = {"status": "deleted", "reason": reason}
        _notify(conn, deps.peer)
    store.delete_ends(ends, invitation=invitation, reason=reason)
    if sync is not None and conn.status != "pending":
        for end in ends:  # a local connection: both ends' twins
            teardown.start(end.id, deps=sync)
    log.info("connection %s deleted", conn.id)
    audit.connection_event("deleted", conn)


# --- what the other end tells us (node API) -----------------------------------------------


def receive_status(
    conn: ConnectionModel, body: Mapping[str, Any], *, sync: SyncDeps
) -> dict[str, Any]:
    """``POST /node/v1/connections/{cid}/status``: the other end's switch changed."""
    status = body.get("status")
    if status not in PEER_STATUSES:
        raise BadRequest(
            f"status must be one of {', '.join(PEER_STATUSES)}.",
            code="invalid_field",
            field="status",
        )
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise BadRequest("reason must be a string or null.", code="invalid_field", field="reason")
    conn.remote_state = status
    conn.remote_reason = (reason or "")[:REASON_MAX] or None
    conn.updated_at = _utc()
    refresh_status(conn)
    _save(conn)
    log.info("the other end of %s is now %s", conn.id, status)
    audit.peer_event(f"peer_{status}", conn, reason=conn.remote_reason)
    if conn.status == "active":
        _resume(conn.id, sync)
    return {"connection_id": conn.id, "status": conn.status}


def status_answer(conn: ConnectionModel, settings: Settings) -> dict[str, Any]:
    """How this end is, as the other end should show it."""
    reason = None
    if conn.pending_notice:
        reason = conn.pending_notice.get("reason")
    elif conn.local_state == "deactivated":
        reason = f"deactivated by the admin of {settings.node_name}"
    return {"connection_id": conn.id, "status": conn.local_state, "reason": reason}


def record_peer_answer(
    conn: ConnectionModel, answer: Mapping[str, Any], *, sync: SyncDeps
) -> ConnectionModel:
    """Apply what ``GET …/status`` on the other end said (for a private end's poller)."""
    status = answer.get("status")
    if status in PEER_STATUSES and status != conn.remote_state:
        receive_status(conn, {"status": status, "reason": answer.get("reason")}, sync=sync)
    return conn


def check_peer(
    connection_id: str, *, settings: Settings, peer: PeerClient, sync: SyncDeps
) -> ConnectionModel:
    """Ask the other end how it is and show it here (a private end cannot be told).

    A deleted other end answers ``404 connection_deleted``; that is recorded too. Other
    failures leave the end unchanged (the caller retries on its next round).
    """
    conn = store.get_connection(connection_id)
    end = peer_end(conn)
    if end is None or conn.status == "pending":
        return conn
    deps = resolve(settings, None, peer)
    try:
        answer = deps.peer().get_status(end)
    except PeerRefused as exc:
        if exc.code == "connection_deleted":
            return record_peer_answer(conn, {"status": "deleted", "reason": exc.message}, sync=sync)
        log.warning("the other end of %s refused the status call: %s", conn.id, exc.code)
        return conn
    except OutboundError as exc:
        log.warning("the other end of %s did not answer: %s", conn.id, exc.message)
        return conn
    return record_peer_answer(conn, answer, sync=sync)
