"""Receiving replicas: each is stored once (by id) in the inbox and queued for apply.

``accept`` is idempotent: a replica id already queued is acknowledged again without new
work, so a sender may retry a push (or a private peer re-pull) as often as it needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from chalicelib.errors import BadRequest
from chalicelib.rules.replica import InvalidReplica, validate
from chalicelib.store.models import ConnectionModel
from chalicelib.store.namespaces import apply_group, inbox_dedup, inbox_pk, replica_seen_key
from chalicelib.sync.services import SyncDeps
from chalicelib.sync.store import append_entry, get_key, set_key

MAX_ITEMS = 50
SEEN_FOR = timedelta(days=30)


def validate_items(items: Any) -> list[dict[str, Any]]:
    """All or nothing: one bad replica refuses the whole batch, and nothing is stored."""
    if not isinstance(items, list) or not items:
        raise BadRequest("'items' must be a non-empty list of replicas.", field="items")
    if len(items) > MAX_ITEMS:
        raise BadRequest(f"At most {MAX_ITEMS} replicas per call.", field="items")
    checked = []
    for i, item in enumerate(items):
        try:
            checked.append(validate(item))
        except InvalidReplica as exc:
            raise BadRequest(str(exc), code="invalid_replica", field=f"items[{i}]") from exc
    return checked


def accept(
    connection: ConnectionModel, replicas: Iterable[Mapping[str, Any]], *, deps: SyncDeps
) -> list[str]:
    accepted = []
    for replica in replicas:
        seen_key = replica_seen_key(connection.id, replica["id"])
        seen = get_key(seen_key)
        if seen is None or seen.value != "queued":
            entry = append_entry(
                inbox_pk(connection.id),
                issue_key=str(replica["key"]),
                replica=dict(replica),
                retention_days=deps.settings.outbox_retention_days,
            )
            enqueue_apply(
                connection.id,
                entry.seq,
                str(replica["key"]),
                deps=deps,
                dedup=inbox_dedup(connection.id, replica["id"]),
            )
            set_key(seen_key, "queued", ttl=SEEN_FOR)
        accepted.append(str(replica["id"]))
    return accepted


def enqueue_apply(
    connection_id: str, seq: int, remote_key: str, *, deps: SyncDeps, dedup: str
) -> None:
    deps.enqueue(
        deps.settings.resources.apply_queue_url,
        {"connection_id": connection_id, "seq": seq, "remote_key": remote_key},
        group=apply_group(connection_id, remote_key),
        dedup=dedup,
    )
