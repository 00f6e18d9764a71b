"""Node API of connections: the handshake, and each end telling the other how it is.

``POST /node/v1/handshake`` is open (the proof is in the body). The status calls carry the
connection's JWT (:mod:`chalicelib.connections.node_auth`) and work on a deactivated end:
that is how the other end learns it was deactivated, and later activated again.

    POST /node/v1/connections/{cid}/status  {status: active|deactivated|deleted, reason|null}
         → {connection_id, status (this end's, as its admin now sees it)}
    GET  /node/v1/connections/{cid}/status
         → {connection_id, status: active|deactivated, reason|null} (this end's switch)
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.auth import bearer_token
from chalicelib.api.routing import ApiRequest, json_route
from chalicelib.connections.node_auth import authenticate
from chalicelib.ops import manage
from chalicelib.ops.handshake import handshake as record_handshake

node_connections_api = Blueprint(__name__)


@json_route(node_connections_api, "/node/v1/handshake", ["POST"], auth=None)
def handshake(request: ApiRequest) -> dict[str, Any]:
    """The acceptor proves it holds the invitation; this node records it and turns active."""
    return record_handshake(request.json_object(), settings=request.root.settings)


@json_route(node_connections_api, "/node/v1/connections/{cid}/status", ["GET", "POST"], auth=None)
def status(request: ApiRequest, cid: str) -> dict[str, Any]:
    """The other end reports (POST) or asks (GET) the state of the connection."""
    settings = request.root.settings
    call = authenticate(bearer_token(request), cid, settings=settings, allow_deactivated=True)
    if request.method == "GET":
        return manage.status_answer(call.connection, settings)
    return manage.receive_status(call.connection, request.json_object(), sync=request.root.sync)
