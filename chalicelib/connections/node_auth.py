"""Authenticating the other end of a connection on the node API.

Every node-API call except ``/node/v1/info`` and the handshake names a connection in its
path and carries a JWT signed with that connection's key. The checks run in an order that
leaves no trace of a refused call: the token is verified and the end's state checked
before its ``jti`` is recorded.

    401 missing_token / invalid_token / token_expired / token_replayed
    403 token_connection_mismatch   a token made for another connection
    403 connection_pending          the invitation has not been accepted yet
    403 connection_deactivated      this end is deactivated (its status call still works)
    404 connection_deleted          this end was deleted (tombstone, with the reason)
    404 unknown_connection          no such connection here
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.config import Settings
from chalicelib.connections import keys, store
from chalicelib.connections.replay import JtiRegistry, KeyTableJtiRegistry
from chalicelib.connections.tokens import Claims, verify_token
from chalicelib.errors import Forbidden, NotFound, Unauthorized
from chalicelib.store.models import ConnectionModel


@dataclass(frozen=True)
class PeerCall:
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
) -> PeerCall:
    """The end ``connection_id`` if ``token`` is a fresh, valid token from its other end."""
    if not token:
        raise Unauthorized(
            "Send the connection's token as 'Authorization: Bearer <JWT>'.", code="missing_token"
        )
    conn = store.find_connection(connection_id)
    if conn is None:
        reason = store.tombstone(connection_id)
        if reason is not None:
            raise NotFound(
                f"This connection no longer exists on {settings.node_name}: {reason}.",
                code="connection_deleted",
            )
        raise NotFound(
            f"{settings.node_name} has no connection {connection_id!r}.",
            code="unknown_connection",
        )
    if conn.status == "pending" or not conn.remote_node_id or not conn.key:
        raise Forbidden("This connection has not been accepted yet.", code="connection_pending")
    claims = verify_token(
        token,
        keys.decode_key(conn.key),
        audience=settings.node_id,
        issuer=conn.remote_node_id,
        connection_id=connection_id,
        now=now,
    )
    if conn.local_state == "deactivated" and not allow_deactivated:
        raise Forbidden(
            f"This connection is deactivated on {settings.node_name}; nothing is exchanged "
            "until its admin activates it.",
            code="connection_deactivated",
        )
    if not (registry or KeyTableJtiRegistry()).claim(claims):
        raise Unauthorized(
            "This token was already used; send a fresh one with each call.",
            code="token_replayed",
        )
    return PeerCall(connection=conn, claims=claims)
