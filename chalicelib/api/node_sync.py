"""Node API routes of the sync pipeline: receiving replicas, trading attachment bytes, and
twin status notices (how the other end fared with our change). A private peer's pulls are
in :mod:`chalicelib.api.node_pull`."""

from __future__ import annotations

from typing import Any

from chalicelib.api.peer_auth import require_peer, require_peer_replay_safe
from chalicelib.api.routing import ApiRequest, json_route, node_max_body
from chalicelib.connections.store import reads_shared
from chalicelib.errors import NotFound
from chalicelib.lazy_routes import blueprint
from chalicelib.store.models import ConnectionModel
from chalicelib.sync import twin_status
from chalicelib.sync.apply import receive
from chalicelib.sync.blobs import incoming_key, outgoing_key
from chalicelib.sync.inbox import validate_items

node_sync_api = blueprint(__name__)

CID = "/node/v1/connections/{cid}"


@json_route(
    node_sync_api,
    CID + "/replicas",
    ["POST"],
    auth=require_peer_replay_safe,
    max_body=node_max_body,
)
def receive_replicas(request: ApiRequest, cid: str) -> dict[str, Any]:
    """Apply each live replica that names an issue of ours at once (a few per call), store
    the rest once and queue them for apply; answers which ids it holds (applied or stored)."""
    connection: ConnectionModel = request.principal
    items = validate_items(request.json_object().get("items"))
    with reads_shared(connection):  # the connection the token was checked against
        return {"accepted": receive(connection, items, deps=request.root.sync)}


@json_route(node_sync_api, CID + "/attachments/{aid}", ["GET"], auth=require_peer)
def offer_attachment(request: ApiRequest, cid: str, aid: str) -> dict[str, Any]:
    """A presigned URL for the bytes of one of our attachments (valid for minutes)."""
    connection: ConnectionModel = request.principal
    blobs = request.root.sync.blobs
    key = outgoing_key(connection.id, aid)
    if not blobs.exists(key):
        raise NotFound("This node has not offered that attachment.", code="attachment_unknown")
    return {"url": blobs.presign_get(key)}


@json_route(node_sync_api, CID + "/attachments/{aid}", ["PUT"], auth=require_peer)
def request_upload(request: ApiRequest, cid: str, aid: str) -> dict[str, Any]:
    """A private peer asks where to upload bytes we need; null when we already have them."""
    connection: ConnectionModel = request.principal
    blobs = request.root.sync.blobs
    key = incoming_key(connection.id, aid)
    if blobs.exists(key):
        return {"url": None, "have": True}
    return {"url": blobs.presign_put(key), "have": False}


@json_route(node_sync_api, CID + "/twin-status", ["POST"], auth=require_peer)
def receive_twin_status(request: ApiRequest, cid: str) -> dict[str, Any]:
    """The other end tells us how it fared with a replica of ours (refused, or applied)."""
    connection: ConnectionModel = request.principal
    return twin_status.receive(connection, request.json_object())


@json_route(node_sync_api, CID + "/connectable", ["POST"], auth=require_peer)
def connectable_issue(request: ApiRequest, cid: str) -> dict[str, Any]:
    """Before a connect: may our issue ``key`` be connected with the caller's ``twin_key``?"""
    from chalicelib.sync.connect import connectable, issue_key

    connection: ConnectionModel = request.principal
    body = request.json_object()
    key, twin_key = issue_key(body, "key"), issue_key(body, "twin_key")
    return {"key": key, **connectable(connection, key, twin_key, deps=request.root.sync).to_json()}
