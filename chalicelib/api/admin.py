"""The admin API: what this node's administrator calls (bearer token)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.auth import require_admin
from chalicelib.api.routing import ApiRequest, json_route, node_max_body
from chalicelib.node_identity import node_resource

admin_api = Blueprint(__name__)


@json_route(admin_api, "/api/v1/node", ["GET"], auth=require_admin, max_body=node_max_body)
def get_node(request: ApiRequest) -> dict[str, Any]:
    """The reference product's "Exalate URL from the General Settings tab"."""
    return node_resource(request.root.settings)
