"""Making a connection, first step: initiate (node A); then accept (node B,
:mod:`chalicelib.ops.accept`) and the handshake (B calls A, :mod:`chalicelib.ops.handshake`).

The reference pages' flow, over wire contract v1:

- ``initiate`` on A (which must be public): with a destination URL, A asks the destination's
  ``/node/v1/info`` and refuses a mode it does not offer; A's own URL makes a *local*
  connection (two ends on A, active at once); otherwise A stores a ``pending`` end and an
  invitation, and answers with the code, or, when its admin has admin access to the
  destination, with ``redirect_url = {destination}/console/accept#code={code}`` (the same code,
  in the URL fragment so it never reaches a server log).
- ``accept`` on B: decode the code, check it, call A's handshake, and only when A has
  recorded it store B's end as ``active``. Any refusal stores nothing on either side;
  accepting the same code again from the same node answers with the existing end.
- ``handshake`` on A (node API, open): check the proof, mark the invitation used with a
  conditional write together with the activated end.

Every function takes its collaborators (settings, tracker, peer client, clock) as
keyword-only parameters with working defaults (:mod:`chalicelib.ops.collaborators`);
what the three steps share is in :mod:`chalicelib.ops.connection_setup`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from chalicelib.config import Settings
from chalicelib.connections import invitation as codec
from chalicelib.connections import keys, store, validation
from chalicelib.errors import BadRequest, Conflict, Unprocessable
from chalicelib.net.peer import NodeInfo, PeerClient
from chalicelib.ops import destination
from chalicelib.ops.collaborators import Deps, resolve
from chalicelib.ops.connection_setup import new_end, require_mode_offered, require_project, same_url
from chalicelib.store import audit
from chalicelib.store.models import ConnectionModel, InvitationModel
from chalicelib.trackers import base as trackers

log = logging.getLogger("twinsync.connections")

CONSOLE_ACCEPT_PATH = "/console/accept"
INVITATION_PURGE_DAYS = 30


class Initiated(msgspec.Struct, frozen=True):
    """What ``POST /api/v1/connections`` answers."""

    connection: ConnectionModel
    invitation_code: str | None = None
    redirect_url: str | None = None


def new_id() -> str:
    return str(uuid.uuid4())


def console_accept_url(destination_url: str, code: str) -> str:
    """Where the destination's admin confirms an invitation with a project."""
    return f"{destination_url.rstrip('/')}{CONSOLE_ACCEPT_PATH}#code={code}"


def _require_free_name(name: str) -> None:
    if store.name_holder(name) is not None:
        raise Conflict(
            f"A connection named {name!r} already exists on this node; choose another name.",
            code="connection_name_taken",
            field="name",
        )


# --- initiate -----------------------------------------------------------------------------


def initiate(
    body: Mapping[str, Any],
    *,
    settings: Settings,
    tracker: trackers.Tracker,
    peer: PeerClient,
    now: float | None = None,
) -> Initiated:
    """``POST /api/v1/connections`` on the initiating node."""
    deps = resolve(settings, tracker, peer, now)
    req = validation.initiate_request(body)
    if not deps.settings.is_public or not deps.settings.public_url:
        raise Conflict(
            "This node is private (it has no public URL), so a partner could never reach it "
            "to accept an invitation. Ask the partner's admin to initiate the connection, "
            "then accept their invitation code here: POST /api/v1/invitations/accept.",
            code="private_node_cannot_initiate",
        )
    require_mode_offered(deps.settings, req.mode)
    if req.admin_access and not req.destination_url:
        raise BadRequest(
            "admin_access applies only to a destination URL; without a URL the partner "
            "accepts the invitation code.",
            code="invalid_field",
            field="admin_access",
        )
    if req.mode == "visual" and not req.destination_url:
        raise Conflict(
            "Visual mode configures both sides of a connection from one place, so both "
            "nodes must be reachable; without the destination's URL (a partner in a private "
            "network) choose Script or Basic instead.",
            code="visual_needs_public_nodes",
            field="mode",
        )
    require_project(deps.tracker(), req.incoming_project, "incoming_project")
    _require_free_name(req.name)
    if req.destination_url and same_url(req.destination_url, deps.settings.public_url):
        return _initiate_local(req, deps)
    info = None
    if req.destination_url:
        info = _ask_destination(deps.peer(), req.destination_url, req.mode)
        if info.node_id == deps.settings.node_id:
            return _initiate_local(req, deps)
    if req.destination_incoming_project is not None:
        raise BadRequest(
            "destination_incoming_project is only for a local connection (destination_url "
            "set to this node's own URL); the partner chooses its own project when accepting.",
            code="invalid_field",
            field="destination_incoming_project",
        )
    return _initiate_invitation(req, deps, info)


def _ask_destination(peer: PeerClient, url: str, mode: str) -> NodeInfo:
    info = destination.ask(peer, url)
    if mode not in info.modes:
        offered = ", ".join(info.modes) or "none"
        raise Unprocessable(
            f"The destination {info.name} does not offer {mode} mode; it offers: {offered}.",
            code="mode_not_available",
            field="mode",
        )
    return info


def _initiate_local(req: validation.InitiateRequest, deps: Deps) -> Initiated:
    settings = deps.settings
    other = req.destination_incoming_project
    if other is None:
        raise BadRequest(
            "The destination URL is this node's own URL: that makes a local connection "
            "between two projects of this tracker. Name the second project in "
            "destination_incoming_project.",
            code="missing_field",
            field="destination_incoming_project",
        )
    if other == req.incoming_project:
        raise BadRequest(
            "A local connection links two different projects.",
            code="invalid_field",
            field="destination_incoming_project",
        )
    require_project(deps.tracker(), other, "destination_incoming_project")
    first_id, second_id = new_id(), new_id()
    key = keys.derive_connection_key(keys.new_secret(), first_id)
    common = {
        "name": req.name,
        "description": req.description,
        "mode": req.mode,
        "status": "active",
        "remote_node_id": settings.node_id,
        "remote_name": settings.node_name,
        "remote_url": settings.public_url,
        "remote_public": True,
    }
    first = new_end(
        id=first_id,
        role="initiator",
        local_short_name=req.local_short_name,
        remote_short_name=req.remote_short_name,
        incoming_project=req.incoming_project,
        local_peer_id=second_id,
        key=store.seal_key(first_id, key),
        **common,
    )
    second = new_end(
        id=second_id,
        role="acceptor",
        local_short_name=req.remote_short_name,
        remote_short_name=req.local_short_name,
        incoming_project=other,
        local_peer_id=first_id,
        key=store.seal_key(second_id, key),
        **common,
    )
    store.create_ends([first, second], name=req.name)
    log.info("local connection %s <-> %s created", first_id, second_id)
    audit.connection_event("created", first, local=True)
    return Initiated(connection=first)


def _initiate_invitation(
    req: validation.InitiateRequest, deps: Deps, info: NodeInfo | None
) -> Initiated:
    settings = deps.settings
    connection_id, invitation_id = new_id(), new_id()
    secret = keys.new_secret()
    expires_at = int(deps.now) + settings.invitation_ttl_hours * 3600
    expires = datetime.fromtimestamp(expires_at, UTC)
    key = keys.derive_connection_key(secret, connection_id)
    end = new_end(
        id=connection_id,
        name=req.name,
        description=req.description,
        mode=req.mode,
        status="pending",
        role="initiator",
        local_short_name=req.local_short_name,
        remote_short_name=req.remote_short_name,
        incoming_project=req.incoming_project,
        remote_node_id=info.node_id if info else None,
        remote_name=info.name if info else None,
        remote_url=req.destination_url.rstrip("/") if info and req.destination_url else None,
        remote_public=info is not None,
        invitation_id=invitation_id,
        admin_access=req.admin_access,
        key=store.seal_key(connection_id, key),
    )
    code = codec.encode(
        codec.Invitation(
            invitation_id=invitation_id,
            connection_id=connection_id,
            initiator_node_id=settings.node_id,
            initiator_name=settings.node_name,
            initiator_url=settings.public_url or "",
            mode=req.mode,
            name=req.name,
            description=req.description,
            local_short_name=req.local_short_name,
            remote_short_name=req.remote_short_name,
            expires_at=expires_at,
            secret=secret,
        )
    )
    record = InvitationModel(
        id=invitation_id,
        connection_id=connection_id,
        secret_sha256=keys.secret_digest(secret),
        status="open",
        expires_at=expires,
        purge_at=expires + timedelta(days=INVITATION_PURGE_DAYS),
        terms_proof=keys.terms_proof(key, invitation_id, codec.payload_of(code)),
    )
    store.create_ends([end], name=req.name, invitation=record)
    log.info("connection %s initiated, invitation %s", connection_id, invitation_id)
    audit.connection_event("created", end, destination_url=req.destination_url)
    if req.admin_access and req.destination_url:
        return Initiated(connection=end, redirect_url=console_accept_url(req.destination_url, code))
    return Initiated(connection=end, invitation_code=code)
