"""Refusing a node-API token twice: one conditional put per ``jti`` in the keys table.

The item lives until the token could no longer be accepted anyway (its ``exp`` plus the
leeway) and DynamoDB's TTL removes it later. TTL deletion is lazy, so the put's condition
treats an item whose ``expires_at`` has passed as absent (filtered on read, not trusted to
be gone).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from chalicelib.connections.tokens import LEEWAY_SECONDS, Claims
from chalicelib.store.keys import claim
from chalicelib.store.models import utcnow
from chalicelib.store.namespaces import jti_key


class JtiRegistry(Protocol):
    """Remembers token ids; ``claim`` is True the first time only."""

    def claim(self, claims: Claims) -> bool: ...


class KeyTableJtiRegistry:
    """:class:`JtiRegistry` on the keys table (``KeyModel``)."""

    def claim(self, claims: Claims) -> bool:
        expires = datetime.fromtimestamp(claims.expires_at, UTC) + timedelta(seconds=LEEWAY_SECONDS)
        return claim(
            jti_key(claims.issuer, claims.jti),
            claims.connection_id,
            expires_at=max(expires, utcnow() + timedelta(seconds=1)),
        )
