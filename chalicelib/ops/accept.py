"""Making a connection, second step: accept an invitation code (on node B).

Decode the code, check it, call the initiator's handshake (:mod:`chalicelib.ops.handshake`),
and only when the initiator has recorded it store this end as ``active``. Any refusal stores
nothing on either side; accepting the same code again from the same node answers with the
existing end. The flow as a whole: :mod:`chalicelib.ops.initiate`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import msgspec

from chalicelib.config import Settings
from chalicelib.connections import invitation as codec
from chalicelib.connections import keys, store, validation
from chalicelib.errors import (
    BadGateway,
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    TwinsyncError,
    Unprocessable,
)
from chalicelib.net.errors import (
    NotTwinsync,
    OutboundError,
    PeerRefused,
    Unreachable,
    UrlNotAllowed,
)
from chalicelib.net.peer import PeerClient, PeerEnd
from chalicelib.ops.collaborators import resolve
from chalicelib.ops.connection_setup import (
    NODE_ID_RE,
    PROTOCOL,
    new_end,
    require_mode_offered,
    require_project,
    same_url,
)
from chalicelib.store import audit
from chalicelib.store.models import ConnectionModel
from chalicelib.trackers import base as trackers

log = logging.getLogger("twinsync.connections")


class Accepted(msgspec.Struct, frozen=True):
    """What ``POST /api/v1/invitations/accept`` answers; ``created`` is False on a replay."""

    connection: ConnectionModel
    created: bool


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
    # sealed before the handshake: if KMS fails, the initiator has not activated its end
    sealed_key = store.seal_key(inv.connection_id, key)
    answer = _call_handshake(deps.peer(), inv, settings, key)
    _check_answered_terms(deps.peer(), inv, key, answer)
    end = new_end(
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
        key=sealed_key,
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
    if not NODE_ID_RE.match(inv.initiator_node_id):
        problems.append("initiator node id")
    if len(inv.name) > validation.NAME_MAX or len(inv.description) > validation.DESCRIPTION_MAX:
        problems.append("connection name or description")
    if problems:
        raise BadRequest(
            f"The invitation code carries an invalid {problems[0]}.",
            code="invalid_invitation_code",
            field="invitation_code",
        )


# The initiator's refusals about the invitation itself, documented for the acceptor's admin
# (docs/connections.md): relayed with their status and code, the message naming the
# initiator. Any other refusal is the initiator's, not this node's (a 401 invalid_token
# here would read as a wrong admin token): 422 remote_refused, quoting it.
_RELAYED = {
    "invitation_used": Conflict,
    "invitation_unknown": NotFound,
    "invitation_expired": Gone,
    "invitation_for_another_node": Forbidden,
    "invitation_altered": BadRequest,
    "use_a_local_connection": Conflict,
}


def _refused_by_initiator(inv: codec.Invitation, exc: PeerRefused) -> TwinsyncError:
    who = f"The initiating node {inv.initiator_name} ({inv.initiator_url})"
    kind = _RELAYED.get(exc.code)
    if kind is not None and kind.status == exc.status:
        return kind(
            f"{who} refused the invitation: {exc.message}",
            code=exc.code,
            field="invitation_code",
        )
    quoted = json.dumps(exc.message[:500], ensure_ascii=False)
    return Unprocessable(
        f"{who} refused the handshake with {exc.status} {exc.code}: {quoted}. Nothing was "
        "stored here; the problem is on that node's side or in the code, not this node's "
        "admin token.",
        code="remote_refused",
        field="invitation_code",
    )


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
        "terms_proof": keys.terms_proof(key, inv.invitation_id, inv.payload),
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
        raise _refused_by_initiator(inv, exc) from exc
    except Unreachable as exc:
        raise _initiator_unreachable(url, exc.message) from exc
    if answer.get("connection_id") != inv.connection_id or answer.get("node_id") != (
        inv.initiator_node_id
    ):
        raise _initiator_unreachable(url, "its answer does not match the invitation") from (
            NotTwinsync("mismatched handshake answer")
        )
    return answer


def _check_answered_terms(
    peer: PeerClient, inv: codec.Invitation, key: bytes, answer: dict[str, Any]
) -> None:
    """The initiator's answer agrees with the code's terms, or the code was altered.

    A current initiator refuses an altered code itself (the terms proof); this catches one
    issued before it kept terms proofs, or an older node. Its end only moves Basic → Script,
    so a code saying Basic may meet a Script answer; its short name never changes. Having
    recorded the handshake, the initiator is told this end is gone (best effort), so its
    admin sees why rather than an end that never syncs.
    """
    mode, short = answer.get("mode"), answer.get("short_name")
    mode_ok = mode is None or mode == inv.mode or (inv.mode, mode) == ("basic", "script")
    if mode_ok and (short is None or short == inv.local_short_name):
        return
    reason = (
        "the invitation code was altered on its way to the accepting node (its mode or names "
        "are not the ones issued); nothing was stored there"
    )
    end = PeerEnd(
        url=inv.initiator_url,
        connection_id=inv.connection_id,
        remote_node_id=inv.initiator_node_id,
        key=key,
    )
    try:
        peer.send_status(end, "deleted", reason)
    except OutboundError as exc:
        log.warning("could not tell %s of the altered code: %s", inv.initiator_url, exc.message)
    raise BadRequest(
        f"The invitation code's terms do not match what {inv.initiator_name} answered "
        f"(mode {inv.mode!r} in the code, {mode!r} there): the code was altered on its way. "
        "Nothing was stored here; ask the initiating admin for the code again, through a "
        "channel you trust.",
        code="invitation_altered",
        field="invitation_code",
    )


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
