"""The node API: what another Twinsync node (the other end of a connection) calls."""

from __future__ import annotations

from typing import Any

from chalicelib.api.routing import ApiRequest, json_route
from chalicelib.lazy_routes import blueprint
from chalicelib.node_identity import PROTOCOL_VERSION

node_api = blueprint(__name__)


@json_route(node_api, "/node/v1/info", ["GET"], auth=None)
def info(request: ApiRequest) -> dict[str, Any]:
    """Open: a partner checks this before initiating (which modes, is it Twinsync)."""
    settings = request.root.settings
    return {
        "node_id": settings.node_id,
        "name": settings.node_name,
        "public": settings.is_public,
        "protocol": PROTOCOL_VERSION,
        "modes": list(settings.modes),
    }
