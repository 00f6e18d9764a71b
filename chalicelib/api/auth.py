"""Who is calling: the node's administrator (bearer token) on the admin API.

The token itself is never stored: the stage holds its SHA-256, and the comparison is in
constant time. Node-to-node calls authenticate with per-connection JWTs instead
(``chalicelib.connections.tokens``).
"""

from __future__ import annotations

import hashlib
import hmac

from chalicelib.api.routing import ApiRequest
from chalicelib.config import get_settings
from chalicelib.errors import Unauthorized

ADMIN = "admin"


def bearer_token(request: ApiRequest) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, if there is one."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def require_admin(request: ApiRequest) -> str:
    """Authenticator for the admin API; returns the principal recorded in the audit log."""
    token = bearer_token(request)
    if token is None:
        raise Unauthorized(
            "Send the node's admin token as 'Authorization: Bearer <token>'.",
            code="missing_token",
        )
    digest = hashlib.sha256(token.encode()).hexdigest()
    if not hmac.compare_digest(digest, get_settings().admin_token_sha256):
        raise Unauthorized("The admin token is not valid for this node.", code="invalid_token")
    return ADMIN
