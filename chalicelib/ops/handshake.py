"""Making a connection, last step: the handshake on the initiator (node A, node API, open).

Node B calls it while accepting (:mod:`chalicelib.ops.accept`): check the proof, mark the
invitation used with a conditional write together with the activated end. The flow as a
whole: :mod:`chalicelib.ops.initiate`.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from chalicelib.config import Settings
from chalicelib.connections import keys, store, validation
from chalicelib.connections.status import refresh_status
from chalicelib.errors import BadRequest, Conflict, Forbidden, Gone, NotFound, TwinsyncError
from chalicelib.ops.collaborators import resolve
from chalicelib.ops.connection_setup import NODE_ID_RE, PROTOCOL, same_url
from chalicelib.store import audit
from chalicelib.store.models import ConnectionModel, InvitationModel

log = logging.getLogger("twinsync.connections")

_PROOF_RE = re.compile(r"^[0-9a-f]{64}$")


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
    key = store.open_key(end) if end is not None else None
    if end is None or key is None:
        raise _invitation_unknown(settings)
    acceptor = req["node_id"]
    if not keys.proof_matches(key, req["proof"], inv.id, inv.connection_id, acceptor):
        raise Forbidden(
            "The handshake proof does not match this invitation: the code was altered.",
            code="invalid_proof",
        )
    _require_issued_terms(inv, end, req, settings)
    if inv.status == "used":
        return _replayed_handshake(inv, end, acceptor, req["url"], settings)
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
    _require_checked_destination(end, req["url"])
    end.remote_node_id = acceptor
    end.remote_name = req["name"]
    if end.remote_url is None:  # "I don't have a URL": the acceptor's URL is learnt here
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
                return _replayed_handshake(fresh, current, acceptor, req["url"], settings)
        raise Conflict(
            "The connection changed while accepting; try again.", code="handshake_conflict"
        )
    log.info("connection %s accepted by node %s", end.id, acceptor)
    audit.peer_event("accepted", end)
    return _handshake_answer(end, settings)


def _require_issued_terms(
    inv: InvitationModel, end: ConnectionModel, req: Mapping[str, Any], settings: Settings
) -> None:
    """The acceptor's code carries the terms this node issued, not re-encoded ones.

    The acceptor's ``terms_proof`` covers the whole payload of the code it was handed; this
    node kept the proof of the code it issued. An acceptor that sends none (an older node)
    is still held to the short name the code gave it; a code issued before terms proofs
    were kept is checked by the acceptor instead (it compares this node's answer).
    """
    given = req.get("terms_proof")
    altered = req["short_name"] != end.remote_short_name
    if inv.terms_proof and given is not None:
        altered = altered or not hmac.compare_digest(inv.terms_proof.encode(), given.encode())
    if altered:
        raise BadRequest(
            f"The invitation code's terms (mode, names, description) are not the ones "
            f"{settings.node_name} issued: the code was altered on its way. Nothing was "
            f"stored; ask the admin of {settings.node_name} for the code again, through a "
            "channel you trust.",
            code="invitation_altered",
            field="invitation_code",
        )


def _require_checked_destination(end: ConnectionModel, url: str | None) -> None:
    """A pending end made for a checked destination URL only hands itself to that URL.

    The handshake's node id and URL are the caller's own claims, and a proof shows only
    that the caller holds the code; so a code made for the node at ``end.remote_url`` is
    refused for any other URL (compared as a node's identity: scheme, host, port, path),
    and A never pushes to an address its admin did not check.
    """
    if end.remote_url is None or same_url(url, end.remote_url):
        return
    stated = url or "no URL (a private node)"
    raise Forbidden(
        f"This invitation was issued for the node at {end.remote_url}, but the accepting "
        f"node gives {stated} as its URL. Accept the code on the node at {end.remote_url} "
        "(the URL its GET /api/v1/node answers as public_url), or ask the initiating admin "
        "for a new code.",
        code="invitation_for_another_node",
        field="invitation_code",
    )


def _replayed_handshake(
    inv: InvitationModel,
    end: ConnectionModel,
    acceptor: str,
    url: str | None,
    settings: Settings,
) -> dict[str, Any]:
    if inv.accepted_by == acceptor and _same_endpoint(url, end.remote_url):
        return _handshake_answer(end, settings)
    raise Conflict(
        "This invitation code has already been used. Ask the initiating admin for a new one.",
        code="invitation_used",
        field="invitation_code",
    )


def _same_endpoint(a: str | None, b: str | None) -> bool:
    """Two acceptor URLs name the same node (both absent: the same private node)."""
    return (a is None and b is None) or same_url(a, b)


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
    if not NODE_ID_RE.match(req["node_id"]):
        raise BadRequest("node_id is not a node id.", code="invalid_field", field="node_id")
    if not _PROOF_RE.match(req["proof"]):
        raise BadRequest("proof must be 64 hex digits.", code="invalid_field", field="proof")
    short = body.get("short_name")
    if not isinstance(short, str) or not validation.SHORT_NAME_RE.match(short):
        raise BadRequest("short_name is invalid.", code="invalid_field", field="short_name")
    req["short_name"] = short
    terms = body.get("terms_proof")  # an addition (issue 13); older acceptors send none
    if terms is not None and (not isinstance(terms, str) or not _PROOF_RE.match(terms)):
        raise BadRequest(
            "terms_proof must be 64 hex digits.", code="invalid_field", field="terms_proof"
        )
    req["terms_proof"] = terms
    url = body.get("url")
    if url is not None:
        url = validation.checked_url(url, field="url", label="url (the acceptor's public URL)")
    req["url"] = url.rstrip("/") if url else None
    return req
