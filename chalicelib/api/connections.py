"""Admin API of connections: projects, initiate, accept, list, show, edit, switch, delete.

Views parse and answer; making a connection lives in
:mod:`chalicelib.ops.initiate` and :mod:`chalicelib.ops.accept`.
"""

from __future__ import annotations

from typing import Any

from chalicelib.api.auth import require_admin
from chalicelib.api.paging import page_request, paged
from chalicelib.api.routing import ApiRequest, Reply, json_route, node_max_body
from chalicelib.connections import store
from chalicelib.lazy_routes import blueprint
from chalicelib.ops.connection_resource import to_resource

# Each route imports its operation's module (chalicelib.ops) when it runs: listing or
# showing connections, an admin API's common first request, loads none of them (the
# invitation's acceptance alone pulls in the peer client and the tracker's values; issue 19)
connections_api = blueprint(__name__)

CONN = "/api/v1/connections/{cid}"


@json_route(connections_api, "/api/v1/projects", ["GET"], auth=require_admin)
def list_projects(request: ApiRequest) -> list[dict[str, Any]]:
    """The "select a project for the incoming sync" step's choices."""
    from chalicelib.ops import manage

    return manage.list_projects(tracker=request.root.tracker)


@json_route(connections_api, "/api/v1/destinations/info", ["GET"], auth=require_admin)
def destination_info(request: ApiRequest) -> dict[str, Any]:
    """Before initiating: the destination at ``?url=`` (node id, public flag, modes)."""
    from chalicelib.ops import destination

    node = request.root
    found = destination.destination_info(
        request.query.get("url"), settings=node.settings, peer=node.peer
    )
    return found.to_resource()


@json_route(
    connections_api,
    "/api/v1/connections",
    ["GET", "POST"],
    auth=require_admin,
    max_body=node_max_body,
)
def connections(request: ApiRequest) -> Any:
    """``GET``: this node's connection ends, a page at a time; ``POST``: initiate one."""
    if request.method == "GET":
        wanted = page_request(request, "connections")
        page = store.connections_page(limit=wanted.limit, after=wanted.after)
        return paged(request, wanted, page, [to_resource(c) for c in page.items])
    from chalicelib.ops import initiate

    node = request.root
    result = initiate.initiate(
        request.json_object(), settings=node.settings, tracker=node.tracker, peer=node.peer
    )
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
    max_body=node_max_body,
)
def accept_invitation(request: ApiRequest) -> Reply:
    """Paste the code, choose the project: 201 with the new end, 200 when already accepted."""
    from chalicelib.ops import accept

    node = request.root
    result = accept.accept(
        request.json_object(), settings=node.settings, tracker=node.tracker, peer=node.peer
    )
    return Reply(
        {"connection": to_resource(result.connection)}, status=201 if result.created else 200
    )


@json_route(
    connections_api, CONN, ["GET", "PATCH", "DELETE"], auth=require_admin, max_body=node_max_body
)
def connection(request: ApiRequest, cid: str) -> Any:
    """Show, edit (name, description, rules) or delete one connection end."""
    if request.method == "GET":
        return to_resource(store.get_connection(cid))
    from chalicelib.ops import manage

    if request.method == "PATCH":
        body = request.json_object()
        node = request.root
        patched = manage.patch(
            cid, body, settings=node.settings, tracker=node.tracker, peer=node.peer
        )
        return to_resource(patched)
    node = request.root
    manage.delete(cid, settings=node.settings, peer=node.peer, sync=node.sync)
    return Reply(status=204)


@json_route(connections_api, CONN + "/upgrade", ["POST"], auth=require_admin)
def upgrade(request: ApiRequest, cid: str) -> dict[str, Any]:
    """Basic → Script, one way."""
    from chalicelib.ops import manage

    return to_resource(manage.upgrade(cid, request.json_object(), settings=request.root.settings))


@json_route(connections_api, CONN + "/deactivate", ["POST"], auth=require_admin)
def deactivate(request: ApiRequest, cid: str) -> dict[str, Any]:
    """Stop syncing; the other end is told (optional body ``{"reason": "..."}``)."""
    from chalicelib.ops import manage

    body = request.json_object()
    node = request.root
    ended = manage.deactivate(cid, body, settings=node.settings, peer=node.peer, sync=node.sync)
    return to_resource(ended)


@json_route(connections_api, CONN + "/activate", ["POST"], auth=require_admin)
def activate(request: ApiRequest, cid: str) -> dict[str, Any]:
    """Resume syncing; the other end is told."""
    from chalicelib.ops import manage

    request.json_object()
    node = request.root
    started = manage.activate(cid, settings=node.settings, peer=node.peer, sync=node.sync)
    return to_resource(started)
