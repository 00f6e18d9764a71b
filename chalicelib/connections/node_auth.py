"""Authenticating the other end of a connection on the node API.

Every node-API call except ``/node/v1/info`` and the handshake names a connection in its
path and carries a JWT signed with that connection's key. The checks run in an order that
leaves no trace of a refused call: the token is verified and the end's state checked
before its ``jti`` is recorded. The token is verified first, before anything about the
connection is said (issue 13): an unknown id, a pending end and a deleted one all answer
the same ``401 invalid_token`` to a caller without the connection's key, so the node API
is no oracle on connection ids. A deleted end's tombstone keeps its key for that (30 days);
an unknown id is checked against a random key, which refuses like a wrong one.

    401 missing_token / invalid_token / token_expired / token_replayed
    401 invalid_token               also: a replay-safe call whose token binds another body
    403 token_connection_mismatch   a token made for another connection
    403 connection_pending          the invitation has not been accepted yet
    403 connection_deactivated      this end is deactivated (its status call still works)
    404 connection_deleted          this end was deleted (tombstone, with the reason), to a
                                    caller whose token the deleted end's key verifies
    (an unknown connection is 401 invalid_token: without its key no token is valid)

A route whose call is idempotent (the replica push) passes its raw ``body``: a token that
binds that body (the ``bsh`` claim, issue 19) is accepted without recording its ``jti`` (a
replay can only repeat the same harmless request, and saves a write per call); a token
made for another body is refused; a token without the claim keeps the ``jti`` record.
"""

from __future__ import annotations

import secrets

import msgspec

from chalicelib.config import Settings
from chalicelib.connections import keys, store
from chalicelib.connections.replay import JtiRegistry, KeyTableJtiRegistry
from chalicelib.connections.tokens import Claims, binds_body, verify_token
from chalicelib.errors import Forbidden, NotFound, Unauthorized
from chalicelib.store.models import ConnectionModel


class PeerCall(msgspec.Struct, frozen=True):
    """An authenticated call from the other end of ``connection``."""

    connection: ConnectionModel
    claims: Claims


def authenticate(
    token: str | None,
    connection_id: str,
    *,
    settings: Settings,
    registry: JtiRegistry | None = None,
    now: float | None = None,
    allow_deactivated: bool = False,
    body: bytes | None = None,
) -> PeerCall:
    """The end ``connection_id`` if ``token`` is a fresh, valid token from its other end.

    ``body``: this call is replay-safe, and these are its bytes (see the module's doc)."""
    if not token:
        raise Unauthorized(
            "Send the connection's token as 'Authorization: Bearer <JWT>'.", code="missing_token"
        )
    conn = store.find_connection(connection_id)
    if conn is None:
        tomb = store.find_tombstone(connection_id)
        # no key (never here, or deleted before tombstones kept one): a random key refuses
        # the token exactly as a wrong key on a live connection would
        key = tomb.key if tomb is not None and tomb.key else secrets.token_bytes(keys.KEY_BYTES)
        verify_token(
            token, key, audience=settings.node_id, issuer=None, connection_id=connection_id, now=now
        )
        if tomb is None or not tomb.key:  # pragma: no cover - a random key never verifies
            raise Unauthorized("The token is not valid for this connection.", code="invalid_token")
        raise NotFound(
            f"This connection no longer exists on {settings.node_name}: {tomb.reason}.",
            code="connection_deleted",
        )
    end_key = store.open_key(conn)
    if end_key is None:
        raise Unauthorized("The token is not valid for this connection.", code="invalid_token")
    claims = verify_token(
        token,
        end_key,
        audience=settings.node_id,
        issuer=conn.remote_node_id,  # None while pending without a checked destination
        connection_id=connection_id,
        now=now,
    )
    if conn.status == "pending" or not conn.remote_node_id:
        raise Forbidden("This connection has not been accepted yet.", code="connection_pending")
    if conn.local_state == "deactivated" and not allow_deactivated:
        raise Forbidden(
            f"This connection is deactivated on {settings.node_name}; nothing is exchanged "
            "until its admin activates it.",
            code="connection_deactivated",
        )
    if body is not None and claims.body_sha256 is not None:
        if binds_body(claims, body):
            return PeerCall(connection=conn, claims=claims)  # a replay repeats this call only
        raise Unauthorized(
            "The token was made for another request body; send a fresh one with each call.",
            code="invalid_token",
        )
    if not (registry or KeyTableJtiRegistry()).claim(claims):
        raise Unauthorized(
            "This token was already used; send a fresh one with each call.",
            code="token_replayed",
        )
    return PeerCall(connection=conn, claims=claims)
