"""The admin API: what this node's administrator calls (bearer token)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.auth import require_admin
from chalicelib.api.routing import ApiRequest, json_route
from chalicelib.node_identity import node_resource
from chalicelib.runtime import ready

admin_api = Blueprint(__name__)


def _max_body() -> int:
    return ready().max_body_bytes


@json_route(admin_api, "/api/v1/node", ["GET"], auth=require_admin, max_body=_max_body)
def get_node(request: ApiRequest) -> dict[str, Any]:
    """The reference product's "Exalate URL from the General Settings tab"."""
    return node_resource(ready())
