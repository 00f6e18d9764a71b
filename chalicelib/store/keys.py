"""The keys table's few operations: claim a key once, read and set one.

Everything that must happen at most once (a token id, a replica id, a twin's claim, a
webhook delivery) is a conditional put here. DynamoDB deletes expired items lazily, so an
item whose ``expires_at`` has passed counts as absent, both in the put's condition and
on read.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from chalicelib.store.models import KeyModel, key_is_live, utcnow

CONDITION_FAILED = "ConditionalCheckFailedException"


def condition_failed(exc: PutError | UpdateError) -> bool:
    return getattr(exc, "cause_response_code", None) == CONDITION_FAILED


def claim(
    key: str,
    value: str = "",
    *,
    ttl: timedelta | None = None,
    expires_at: datetime | None = None,
) -> bool:
    """Put ``key`` once; True the first time, False while a live item holds it."""
    now = utcnow()
    if expires_at is None and ttl is not None:
        expires_at = now + ttl
    item = KeyModel(key=key, value=value, expires_at=expires_at)
    try:
        item.save(condition=KeyModel.key.does_not_exist() | (KeyModel.expires_at < now))
    except PutError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def get_key(key: str) -> KeyModel | None:
    try:
        item = KeyModel.get(key, consistent_read=True)
    except DoesNotExist:
        return None
    return item if key_is_live(item) else None


def set_key(key: str, value: str, *, ttl: timedelta | None = None) -> None:
    KeyModel(key=key, value=value, expires_at=(utcnow() + ttl) if ttl else None).save()
