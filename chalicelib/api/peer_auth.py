"""The node-API authenticators: one rule for every route the other end calls.

Thin edges over :func:`chalicelib.connections.node_auth.authenticate` (token verified,
end's state checked, ``jti`` recorded last), used as ``json_route(..., auth=...)`` so every
node route refuses exactly what the lifecycle refuses, with the same codes, before its
body is looked at. The principal is the connection end (``request.principal``).
"""

from __future__ import annotations

from chalicelib.api.auth import bearer_token
from chalicelib.api.routing import ApiRequest
from chalicelib.connections.node_auth import authenticate
from chalicelib.store.models import ConnectionModel


def require_peer(request: ApiRequest) -> ConnectionModel:
    """The other end of the live connection ``{cid}`` (a deactivated end refuses)."""
    return authenticate(
        bearer_token(request), request.params.get("cid", ""), settings=request.root.settings
    ).connection


def require_peer_any_state(request: ApiRequest) -> ConnectionModel:
    """The other end of ``{cid}``, also while this end is deactivated (status, mappings)."""
    return authenticate(
        bearer_token(request),
        request.params.get("cid", ""),
        settings=request.root.settings,
        allow_deactivated=True,
    ).connection


def require_peer_replay_safe(request: ApiRequest) -> ConnectionModel:
    """As :func:`require_peer`, for a call that may be repeated harmlessly (the replica
    push): a token made for exactly this body records no ``jti`` (issue 19)."""
    return authenticate(
        bearer_token(request),
        request.params.get("cid", ""),
        settings=request.root.settings,
        body=request.raw_body,
    ).connection
