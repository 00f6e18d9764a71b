"""Refusing a node-API token twice: one conditional put per ``jti`` in the keys table.

The item lives until the token could no longer be accepted anyway (its ``exp`` plus the
leeway) and DynamoDB's TTL removes it later. TTL deletion is lazy, so the put's condition
treats an item whose ``expires_at`` has passed as absent (filtered on read, not trusted to
be gone).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from pynamodb.exceptions import PutError

from chalicelib.connections.tokens import LEEWAY_SECONDS, Claims
from chalicelib.store.models import KeyModel, utcnow


class JtiRegistry(Protocol):
    """Remembers token ids; ``claim`` is True the first time only."""

    def claim(self, claims: Claims) -> bool: ...


def _is_condition_failure(exc: PutError) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


class KeyTableJtiRegistry:
    """:class:`JtiRegistry` on the keys table (``KeyModel``)."""

    PREFIX = "jti#"

    def claim(self, claims: Claims) -> bool:
        now = utcnow()
        expires = datetime.fromtimestamp(claims.expires_at, UTC) + timedelta(seconds=LEEWAY_SECONDS)
        item = KeyModel(
            key=f"{self.PREFIX}{claims.issuer}#{claims.jti}",
            value=claims.connection_id,
            expires_at=max(expires, now + timedelta(seconds=1)),
        )
        try:
            item.save(condition=KeyModel.key.does_not_exist() | (KeyModel.expires_at < now))
        except PutError as exc:
            if _is_condition_failure(exc):
                return False
            raise
        return True
