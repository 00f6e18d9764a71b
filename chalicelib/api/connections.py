"""Admin API of connections: projects, initiate, accept, list, show, edit, switch, delete.

Views parse and answer; the lifecycle lives in :mod:`chalicelib.connections`.
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.auth import require_admin
from chalicelib.api.routing import ApiRequest, Reply, json_route
from chalicelib.connections import lifecycle, manage, store
from chalicelib.connections.resource import to_resource
from chalicelib.runtime import ready

connections_api = Blueprint(__name__)

CONN = "/api/v1/connections/{cid}"


def _max_body() -> int:
    return ready().max_body_bytes


@json_route(connections_api, "/api/v1/projects", ["GET"], auth=require_admin)
def list_projects(request: ApiRequest) -> list[dict[str, Any]]:
    """The "select a project for the incoming sync" step's choices."""
    ready()
    return manage.list_projects()


@json_route(
    connections_api, "/api/v1/connections", ["GET", "POST"], auth=require_admin, max_body=_max_body
)
def connections(request: ApiRequest) -> Any:
    """``GET``: every connection end of this node; ``POST``: initiate a connection."""
    ready()
    if request.method == "GET":
        return [to_resource(c) for c in store.list_connections()]
    result = lifecycle.initiate(request.json_object())
    return Reply(
        {
            "connection": to_resource(result.connection),
            "invitation_code": result.invitation_code,
            "redirect_url": result.redirect_url,
        },
        status=201,
    )


@json_route(
    connections_api,
    "/api/v1/invitations/accept",
    ["POST"],
    auth=require_admin,
    max_body=_max_body,
)
def accept_invitation(request: ApiRequest) -> Reply:
    """Paste the code, choose the project: 201 with the new end, 200 when already accepted."""
    ready()
    result = lifecycle.accept(request.json_object())
    return Reply(
        {"connection": to_resource(result.connection)}, status=201 if result.created else 200
    )


@json_route(
    connections_api, CONN, ["GET", "PATCH", "DELETE"], auth=require_admin, max_body=_max_body
)
def connection(request: ApiRequest, cid: str) -> Any:
    """Show, edit (name, description, rules) or delete one connection end."""
    ready()
    if request.method == "GET":
        return to_resource(store.get_connection(cid))
    if request.method == "PATCH":
        return to_resource(manage.patch(cid, request.json_object()))
    manage.delete(cid)
    return Reply(status=204)


@json_route(connections_api, CONN + "/upgrade", ["POST"], auth=require_admin)
def upgrade(request: ApiRequest, cid: str) -> dict[str, Any]:
    """Basic → Script, one way."""
    ready()
    return to_resource(manage.upgrade(cid, request.json_object()))


@json_route(connections_api, CONN + "/deactivate", ["POST"], auth=require_admin)
def deactivate(request: ApiRequest, cid: str) -> dict[str, Any]:
    """Stop syncing; the other end is told (optional body ``{"reason": "..."}``)."""
    ready()
    return to_resource(manage.deactivate(cid, request.json_object()))


@json_route(connections_api, CONN + "/activate", ["POST"], auth=require_admin)
def activate(request: ApiRequest, cid: str) -> dict[str, Any]:
    """Resume syncing; the other end is told."""
    ready()
    request.json_object()
    return to_resource(manage.activate(cid))
