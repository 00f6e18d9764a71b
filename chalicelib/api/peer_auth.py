"""The node-API authenticator for routes outside the lifecycle: one rule for every route.

A thin edge over :func:`chalicelib.connections.node_auth.authenticate` (token verified,
end's state checked, ``jti`` recorded last), so sync routes refuse exactly what the
lifecycle routes refuse, with the same codes.
"""

from __future__ import annotations

from chalicelib.api.auth import bearer_token
from chalicelib.api.routing import ApiRequest
from chalicelib.connections.node_auth import authenticate
from chalicelib.store.models import ConnectionModel


def require_peer(request: ApiRequest, connection_id: str) -> ConnectionModel:
    return authenticate(
        bearer_token(request), connection_id, settings=request.root.settings
    ).connection
