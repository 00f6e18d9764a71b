"""Who is calling the node API: the other end of one connection, proven by its JWT.

The token names its connection (``cid``); it must match the path, be signed with that
connection's key, come from the node recorded as the other end, be addressed to us, and
carry a ``jti`` never seen before. A deleted connection is a 404, a deactivated one is
still known (it may keep receiving, see the sync rules), and nothing is written on refusal
except the ``jti`` of a valid token.
"""

from __future__ import annotations

from chalicelib.api.auth import bearer_token
from chalicelib.api.routing import ApiRequest
from chalicelib.connections.keys import decode_key
from chalicelib.connections.replay import KeyTableJtiRegistry
from chalicelib.connections.tokens import unverified_connection_id, verify_token
from chalicelib.errors import Forbidden, NotFound, Unauthorized
from chalicelib.runtime import ready
from chalicelib.store.models import ConnectionModel
from chalicelib.sync.links import get_connection


def require_peer(request: ApiRequest, connection_id: str) -> ConnectionModel:
    token = bearer_token(request)
    if token is None:
        raise Unauthorized(
            "Node API calls carry 'Authorization: Bearer <JWT>'.", code="missing_token"
        )
    claimed = unverified_connection_id(token)
    if claimed is not None and claimed != connection_id:
        raise Forbidden(
            "The token was issued for another connection.", code="token_connection_mismatch"
        )
    connection = get_connection(connection_id)
    if connection is None or connection.status == "deleted" or not connection.key:
        raise NotFound("This node has no such connection.", code="connection_unknown")
    claims = verify_token(
        token,
        decode_key(connection.key),
        audience=ready().node_id,
        issuer=str(connection.remote_node_id),
        connection_id=connection_id,
    )
    if not KeyTableJtiRegistry().claim(claims):
        raise Unauthorized("This token was already used; send a fresh one.", code="token_replayed")
    return connection
