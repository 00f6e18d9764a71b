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

from chalicelib.api.peer_auth import require_peer_any_state
from chalicelib.api.routing import ApiRequest, json_route
from chalicelib.lazy_routes import blueprint
from chalicelib.ops import manage
from chalicelib.ops.handshake import handshake as record_handshake
from chalicelib.store.models import ConnectionModel

node_connections_api = blueprint(__name__)


@json_route(node_connections_api, "/node/v1/handshake", ["POST"], auth=None)
def handshake(request: ApiRequest) -> dict[str, Any]:
    """The acceptor proves it holds the invitation; this node records it and turns active."""
    return record_handshake(request.json_object(), settings=request.root.settings)


@json_route(
    node_connections_api,
    "/node/v1/connections/{cid}/status",
    ["GET", "POST"],
    auth=require_peer_any_state,
)
def status(request: ApiRequest, cid: str) -> dict[str, Any]:
    """The other end reports (POST) or asks (GET) the state of the connection."""
    connection: ConnectionModel = request.principal
    if request.method == "GET":
        return manage.status_answer(connection, request.root.settings)
    return manage.receive_status(connection, request.json_object(), sync=request.root.sync)
