"""Receiving replicas: each is stored once (by id) in the inbox and queued for apply.

``accept`` is idempotent: a replica id already queued is acknowledged again without new
work, so a sender may retry a push (or a private peer re-pull) as often as it needs.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from chalicelib.errors import BadRequest
from chalicelib.store.models import ConnectionModel
from chalicelib.store.namespaces import inbox_dedup, inbox_pk, replica_seen_key
from chalicelib.sync import lanes
from chalicelib.sync.messages import ApplyMessage, Incoming, InvalidReplica, parse_incoming
from chalicelib.sync.services import SyncDeps
from chalicelib.sync.store import append_entry, get_key, set_key

MAX_ITEMS = 50
SEEN_FOR = timedelta(days=30)


def validate_items(items: Any) -> list[Incoming]:
    """All or nothing: one bad replica refuses the whole batch, and nothing is stored.
    Each item is parsed here, once (:func:`chalicelib.sync.messages.parse_incoming`)."""
    if not isinstance(items, list) or not items:
        raise BadRequest("'items' must be a non-empty list of replicas.", field="items")
    if len(items) > MAX_ITEMS:
        raise BadRequest(f"At most {MAX_ITEMS} replicas per call.", field="items")
    checked = []
    for i, item in enumerate(items):
        try:
            checked.append(parse_incoming(item))
        except InvalidReplica as exc:
            raise BadRequest(str(exc), code="invalid_replica", field=f"items[{i}]") from exc
    return checked


def accept(
    connection: ConnectionModel, replicas: Iterable[Incoming], *, deps: SyncDeps
) -> list[str]:
    accepted = []
    for replica in replicas:
        seen_key = replica_seen_key(connection.id, replica.id)
        seen = get_key(seen_key)
        if seen is None or seen.value != "queued":
            entry = append_entry(
                inbox_pk(connection.id),
                issue_key=replica.key,
                replica=replica.to_wire(),
                retention_days=deps.settings.outbox_retention_days,
            )
            with lanes.working(lanes.of(replica)):  # the sender says which lane
                enqueue_apply(
                    ApplyMessage(connection.id, int(entry.seq), replica.key),
                    deps=deps,
                    dedup=inbox_dedup(connection.id, replica.id),
                )
            set_key(seen_key, "queued", ttl=SEEN_FOR)
        accepted.append(replica.id)
    return accepted


def enqueue_apply(message: ApplyMessage, *, deps: SyncDeps, dedup: str) -> None:
    deps.enqueue(
        deps.settings.resources.apply_queue_url,
        message.to_body(),
        group=message.group,
        dedup=dedup,
    )
