"""Making a connection: initiate (node A), accept (node B), handshake (B calls A).

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
keyword-only parameters with working defaults (:mod:`chalicelib.ops.collaborators`).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from chalicelib.config import Settings
from chalicelib.connections import invitation as codec
from chalicelib.connections import keys, store, validation
from chalicelib.connections.status import refresh_status
from chalicelib.errors import (
    BadGateway,
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    TwinsyncError,
    Unauthorized,
    Unprocessable,
)
from chalicelib.net.errors import NotTwinsync, PeerRefused, Unreachable, UrlNotAllowed
from chalicelib.net.peer import NodeInfo, PeerClient
from chalicelib.ops.collaborators import Deps, resolve
from chalicelib.rules.defaults import default_scripts
from chalicelib.store import audit
from chalicelib.store.models import ConnectionModel, InvitationModel
from chalicelib.trackers import base as trackers

log = logging.getLogger("twinsync.connections")

PROTOCOL = 1
CONSOLE_ACCEPT_PATH = "/console/accept"
INVITATION_PURGE_DAYS = 30
_NODE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,62}$")
_PROOF_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Initiated:
    """What ``POST /api/v1/connections`` answers."""

    connection: ConnectionModel
    invitation_code: str | None = None
    redirect_url: str | None = None


@dataclass(frozen=True)
class Accepted:
    """What ``POST /api/v1/invitations/accept`` answers; ``created`` is False on a replay."""

    connection: ConnectionModel
    created: bool


def new_id() -> str:
    return str(uuid.uuid4())


def console_accept_url(destination_url: str, code: str) -> str:
    """Where the destination's admin confirms an invitation with a project."""
    return f"{destination_url.rstrip('/')}{CONSOLE_ACCEPT_PATH}#code={code}"


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
    except trackers.NotFound as exc:
        raise Unprocessable(
            f"The project {key!r} does not exist in this node's tracker (or the integration "
            "user cannot see it). GET /api/v1/projects lists the projects you can choose.",
            code="unknown_project",
            field=field,
        ) from exc
    except trackers.TrackerError as exc:
        raise tracker_unavailable(exc) from exc


def tracker_unavailable(exc: trackers.TrackerError) -> TwinsyncError:
    return BadGateway(
        f"This node's tracker did not answer as expected ({type(exc).__name__}); "
        "nothing was changed, try again.",
        code="tracker_unavailable",
    )


def _require_free_name(name: str) -> None:
    if store.name_holder(name) is not None:
        raise Conflict(
            f"A connection named {name!r} already exists on this node; choose another name.",
            code="connection_name_taken",
            field="name",
        )


def _new_end(**values: Any) -> ConnectionModel:
    end = ConnectionModel(**values)
    if end.mode == "script":
        end.outgoing_script, end.incoming_script = default_scripts()
    if end.mode == "visual":
        end.mappings = []
    refresh_status(end)
    return end


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
    hint = (
        " Check the URL (the partner's admin reads it from GET /api/v1/node, field "
        'public_url). If the destination has no public URL, choose "I don\'t have a URL" '
        "(send destination_url: null) and give its admin the invitation code."
    )
    try:
        info = peer.info(url)
    except UrlNotAllowed as exc:
        raise BadRequest(
            f"This node may not call {url}: {exc.message}{hint}",
            code="destination_url_not_allowed",
            field="destination_url",
        ) from exc
    except (Unreachable, PeerRefused) as exc:
        raise Unprocessable(
            f"{url} could not be reached as a Twinsync node ({exc.message}).{hint}",
            code="destination_unreachable",
            field="destination_url",
        ) from exc
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
    key = keys.encode_key(keys.derive_connection_key(keys.new_secret(), first_id))
    common = {
        "name": req.name,
        "description": req.description,
        "mode": req.mode,
        "status": "active",
        "remote_node_id": settings.node_id,
        "remote_name": settings.node_name,
        "remote_url": settings.public_url,
        "remote_public": True,
        "key": key,
    }
    first = _new_end(
        id=first_id,
        role="initiator",
        local_short_name=req.local_short_name,
        remote_short_name=req.remote_short_name,
        incoming_project=req.incoming_project,
        local_peer_id=second_id,
        **common,
    )
    second = _new_end(
        id=second_id,
        role="acceptor",
        local_short_name=req.remote_short_name,
        remote_short_name=req.local_short_name,
        incoming_project=other,
        local_peer_id=first_id,
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
    end = _new_end(
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
        key=keys.encode_key(keys.derive_connection_key(secret, connection_id)),
    )
    record = InvitationModel(
        id=invitation_id,
        connection_id=connection_id,
        secret_sha256=keys.secret_digest(secret),
        status="open",
        expires_at=expires,
        purge_at=expires + timedelta(days=INVITATION_PURGE_DAYS),
    )
    store.create_ends([end], name=req.name, invitation=record)
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
    log.info("connection %s initiated, invitation %s", connection_id, invitation_id)
    audit.connection_event("created", end, destination_url=req.destination_url)
    if req.admin_access and req.destination_url:
        return Initiated(connection=end, redirect_url=console_accept_url(req.destination_url, code))
    return Initiated(connection=end, invitation_code=code)


# --- accept (on the acceptor) -------------------------------------------------------------


def accept(
    body: Mapping[str, Any],
    *,
    settings: Settings,
    tracker: trackers.Tracker,
    peer: PeerClient,
    now: float | None = None,
) -> Accepted:
    """``POST /api/v1/invitations/accept`` on the accepting node."""
    deps = resolve(settings, tracker, peer, now)
    settings = deps.settings
    req = validation.accept_request(body)
    inv = codec.decode(req.invitation_code, now=deps.now, check_expiry=False)
    if inv.initiator_node_id == settings.node_id or same_url(
        inv.initiator_url, settings.public_url
    ):
        raise Conflict(
            "This invitation code was issued by this node. To connect two projects of this "
            "tracker, initiate a local connection instead: POST /api/v1/connections with this "
            "node's own URL as destination_url and the second project as "
            "destination_incoming_project.",
            code="use_a_local_connection",
            field="invitation_code",
        )
    existing = store.find_connection(inv.connection_id)
    if existing is not None:
        if existing.role == "acceptor" and existing.remote_node_id == inv.initiator_node_id:
            return Accepted(connection=existing, created=False)
        raise Conflict(
            "This node already holds an end of that connection.",
            code="invitation_used",
            field="invitation_code",
        )
    if inv.is_expired(deps.now):
        raise Gone(
            "The invitation code has expired. Ask the initiating admin for a new one.",
            code="invitation_expired",
            field="invitation_code",
        )
    _check_code_content(inv)
    require_mode_offered(settings, inv.mode)
    if inv.mode == "visual" and not settings.is_public:  # rules/visual: both sides reachable
        raise Conflict(
            "Visual mode configures both sides of a connection from one place, so both "
            "nodes must be reachable, and this node is private. Ask the initiating admin "
            "for a Script or Basic connection instead.",
            code="visual_needs_public_nodes",
            field="invitation_code",
        )
    require_project(deps.tracker(), req.incoming_project, "incoming_project")
    key = keys.derive_connection_key(inv.secret, inv.connection_id)
    answer = _call_handshake(deps.peer(), inv, settings, key)
    end = _new_end(
        id=inv.connection_id,
        name=inv.name,
        description=inv.description,
        mode=inv.mode,
        status="active",
        role="acceptor",
        local_short_name=inv.remote_short_name,
        remote_short_name=inv.local_short_name,
        incoming_project=req.incoming_project,
        remote_node_id=inv.initiator_node_id,
        remote_name=str(answer.get("name") or inv.initiator_name),
        remote_url=inv.initiator_url,
        remote_public=True,
        invitation_id=inv.invitation_id,
        key=keys.encode_key(key),
    )
    return _save_accepted(end)


def _check_code_content(inv: codec.Invitation) -> None:
    problems = [
        name
        for name, value in (
            ("local_short_name", inv.local_short_name),
            ("remote_short_name", inv.remote_short_name),
        )
        if not validation.SHORT_NAME_RE.match(value)
    ]
    if not _NODE_ID_RE.match(inv.initiator_node_id):
        problems.append("initiator node id")
    if len(inv.name) > validation.NAME_MAX or len(inv.description) > validation.DESCRIPTION_MAX:
        problems.append("connection name or description")
    if problems:
        raise BadRequest(
            f"The invitation code carries an invalid {problems[0]}.",
            code="invalid_invitation_code",
            field="invitation_code",
        )


_RELAYED = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    422: Unprocessable,
}


def _call_handshake(
    peer: PeerClient, inv: codec.Invitation, settings: Settings, key: bytes
) -> dict[str, Any]:
    body = {
        "protocol": PROTOCOL,
        "invitation_id": inv.invitation_id,
        "connection_id": inv.connection_id,
        "node_id": settings.node_id,
        "name": settings.node_name,
        "url": settings.public_url,
        "short_name": inv.remote_short_name,
        "proof": keys.handshake_proof(key, inv.invitation_id, inv.connection_id, settings.node_id),
    }
    url = inv.initiator_url
    try:
        answer = peer.handshake(url, body)
    except UrlNotAllowed as exc:
        raise BadRequest(
            f"The code names {url} as the initiating node, which this node may not call: "
            f"{exc.message}",
            code="initiator_url_not_allowed",
            field="invitation_code",
        ) from exc
    except PeerRefused as exc:
        kind = _RELAYED.get(exc.status)
        if kind is None:
            raise _initiator_unreachable(url, exc.message) from exc
        raise kind(
            exc.message or f"The initiating node refused the invitation ({exc.code}).",
            code=exc.code,
            field="invitation_code" if exc.code.startswith("invitation") else exc.field,
        ) from exc
    except Unreachable as exc:
        raise _initiator_unreachable(url, exc.message) from exc
    if answer.get("connection_id") != inv.connection_id or answer.get("node_id") != (
        inv.initiator_node_id
    ):
        raise _initiator_unreachable(url, "its answer does not match the invitation") from (
            NotTwinsync("mismatched handshake answer")
        )
    return answer


def _initiator_unreachable(url: str, detail: str) -> TwinsyncError:
    return BadGateway(
        f"The initiating node at {url} could not be reached ({detail}). Nothing was stored "
        "on either side; it is safe to try again.",
        code="initiator_unreachable",
    )


def _save_accepted(end: ConnectionModel) -> Accepted:
    base = end.name
    for attempt in range(1, 21):
        if attempt > 1:
            suffix = f" ({attempt})"
            end.name = base[: validation.NAME_MAX - len(suffix)] + suffix
        try:
            store.save_accepted_end(end)
        except store.NameTaken:
            continue
        except FileExistsError:
            return Accepted(connection=store.get_connection(end.id), created=False)
        log.info("connection %s accepted", end.id)
        audit.connection_event("accepted", end)
        return Accepted(connection=end, created=True)
    raise Conflict(
        f"Too many connections are named like {base!r} on this node; rename one and retry.",
        code="connection_name_taken",
    )


# --- handshake (on the initiator, node API) -----------------------------------------------


def handshake(
    body: Mapping[str, Any], *, settings: Settings, now: float | None = None
) -> dict[str, Any]:
    """``POST /node/v1/handshake``: the acceptor proves it holds the code; A records it."""
    deps = resolve(settings, None, None, now)
    settings = deps.settings
    req = _handshake_request(body)
    inv = store.find_invitation(req["invitation_id"])
    if inv is None or inv.connection_id != req["connection_id"] or inv.status == "revoked":
        raise _invitation_unknown(settings)
    end = store.find_connection(inv.connection_id)
    if end is None or not end.key:
        raise _invitation_unknown(settings)
    acceptor = req["node_id"]
    key = keys.decode_key(end.key)
    if not keys.proof_matches(key, req["proof"], inv.id, inv.connection_id, acceptor):
        raise Forbidden(
            "The handshake proof does not match this invitation: the code was altered.",
            code="invalid_proof",
        )
    if inv.status == "used":
        return _replayed_handshake(inv, end, acceptor, settings)
    if deps.now >= inv.expires_at.timestamp():
        raise Gone(
            "The invitation code has expired. Ask the initiating admin for a new one.",
            code="invitation_expired",
            field="invitation_code",
        )
    if acceptor == settings.node_id:
        raise Conflict(
            "An invitation cannot be accepted by the node that issued it; initiate a local "
            "connection instead.",
            code="use_a_local_connection",
        )
    if end.remote_node_id is not None and end.remote_node_id != acceptor:
        raise Forbidden(
            f"This invitation was issued for the node at {end.remote_url}; accept it there.",
            code="invitation_for_another_node",
            field="invitation_code",
        )
    end.remote_node_id = acceptor
    end.remote_name = req["name"]
    end.remote_url = req["url"]
    end.remote_public = req["url"] is not None
    end.status = "active"
    end.updated_at = datetime.fromtimestamp(deps.now, UTC)
    refresh_status(end)
    if not store.record_handshake(inv, end, acceptor):
        fresh = store.find_invitation(inv.id)
        if fresh is not None and fresh.status == "used":
            current = store.find_connection(inv.connection_id)
            if current is not None:
                return _replayed_handshake(fresh, current, acceptor, settings)
        raise Conflict(
            "The connection changed while accepting; try again.", code="handshake_conflict"
        )
    log.info("connection %s accepted by node %s", end.id, acceptor)
    audit.peer_event("accepted", end)
    return _handshake_answer(end, settings)


def _replayed_handshake(
    inv: InvitationModel, end: ConnectionModel, acceptor: str, settings: Settings
) -> dict[str, Any]:
    if inv.accepted_by == acceptor:
        return _handshake_answer(end, settings)
    raise Conflict(
        "This invitation code has already been used. Ask the initiating admin for a new one.",
        code="invitation_used",
        field="invitation_code",
    )


def _invitation_unknown(settings: Settings) -> TwinsyncError:
    return NotFound(
        f"{settings.node_name} does not know this invitation: it was revoked (its pending "
        "connection deleted) or never issued here. Ask the initiating admin for a new code.",
        code="invitation_unknown",
        field="invitation_code",
    )


def _handshake_answer(end: ConnectionModel, settings: Settings) -> dict[str, Any]:
    return {
        "protocol": PROTOCOL,
        "connection_id": end.id,
        "node_id": settings.node_id,
        "name": settings.node_name,
        "url": settings.public_url,
        "short_name": end.local_short_name,
        "mode": end.mode,
    }


def _handshake_request(body: Mapping[str, Any]) -> dict[str, Any]:
    if body.get("protocol") != PROTOCOL:
        raise BadRequest(
            f"This node speaks protocol {PROTOCOL}; got {body.get('protocol')!r}.",
            code="unsupported_protocol",
            field="protocol",
        )
    req: dict[str, Any] = {}
    for name in ("invitation_id", "connection_id", "node_id", "name", "proof"):
        value = body.get(name)
        if not isinstance(value, str) or not value or len(value) > 200:
            raise BadRequest(f"{name} is required.", code="invalid_field", field=name)
        req[name] = value
    if not _NODE_ID_RE.match(req["node_id"]):
        raise BadRequest("node_id is not a node id.", code="invalid_field", field="node_id")
    if not _PROOF_RE.match(req["proof"]):
        raise BadRequest("proof must be 64 hex digits.", code="invalid_field", field="proof")
    short = body.get("short_name")
    if not isinstance(short, str) or not validation.SHORT_NAME_RE.match(short):
        raise BadRequest("short_name is invalid.", code="invalid_field", field="short_name")
    url = body.get("url")
    if url is not None and (
        not isinstance(url, str)
        or len(url) > 2048
        or urlsplit(url).scheme not in ("http", "https")
        or not urlsplit(url).hostname
    ):
        raise BadRequest("url must be the acceptor's public URL or null.", field="url")
    req["url"] = url.rstrip("/") if url else None
    return req
