"""Node API routes a private peer pulls with: its outbox (long poll), the ack, and the twin
status notices kept for it. Apart from :mod:`chalicelib.api.node_sync` (receiving replicas
and applying them), so that ``outbox_poll``, which serves only these routes
(:mod:`chalicelib.api.pull_url`), imports the outbox and not apply (issue 19, cold start).
"""

from __future__ import annotations

from typing import Any

from chalicelib.api.peer_auth import require_peer
from chalicelib.api.routing import ApiRequest, json_route
from chalicelib.lazy_routes import blueprint
from chalicelib.store.models import ConnectionModel
from chalicelib.sync import outbox_api

node_pull_api = blueprint(__name__)

CID = "/node/v1/connections/{cid}"


@json_route(node_pull_api, CID + "/outbox", ["GET"], auth=require_peer)
def pull_outbox(request: ApiRequest, cid: str) -> dict[str, Any]:
    """A private peer pulls what we queued for it (long poll up to ``wait`` seconds).

    Where this node has a function URL for pulls (``outbox_poll``), the answer names it:
    a peer that knows ``outbox_url`` pulls there from then on, off the API (issue 19)."""
    connection: ConnectionModel = request.principal
    answer = outbox_api.pull(connection, dict(request.query))
    if request.root.settings.outbox_url:
        answer["outbox_url"] = request.root.settings.outbox_url
    return answer


@json_route(node_pull_api, CID + "/outbox/ack", ["POST"], auth=require_peer)
def ack_outbox(request: ApiRequest, cid: str) -> dict[str, Any]:
    connection: ConnectionModel = request.principal
    return outbox_api.ack(connection, request.json_object())


@json_route(node_pull_api, CID + "/twin-status", ["GET"], auth=require_peer)
def pull_twin_status(request: ApiRequest, cid: str) -> dict[str, Any]:
    """A private peer reads the notices we keep for it (it cannot be called)."""
    from chalicelib.sync import twin_status

    connection: ConnectionModel = request.principal
    return twin_status.pull(connection, dict(request.query))
