"""The admin API: what this node's administrator calls (bearer token), and the contract."""

from __future__ import annotations

from typing import Any

from chalicelib.api import openapi
from chalicelib.api.auth import require_admin
from chalicelib.api.routing import JSON_TYPE, ApiRequest, Reply, json_route, node_max_body
from chalicelib.lazy_routes import blueprint
from chalicelib.node_identity import node_resource

admin_api = blueprint(__name__)


@json_route(admin_api, "/api/v1/node", ["GET"], auth=require_admin, max_body=node_max_body)
def get_node(request: ApiRequest) -> dict[str, Any]:
    """The reference product's "Exalate URL from the General Settings tab"."""
    return node_resource(request.root.settings)


@json_route(admin_api, "/api/v1/openapi.json", ["GET"], auth=None)
def openapi_document(request: ApiRequest) -> Reply:
    """Open, like ``/node/v1/info``: the OpenAPI document of this node's wire contract."""
    return Reply(openapi.document_json(), headers={"Content-Type": JSON_TYPE})
