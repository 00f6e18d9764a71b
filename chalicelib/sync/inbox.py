"""Receiving replicas: each is stored once (by id) in the inbox and queued for apply.

(A peer's push applies a live replica naming an issue of ours in its own request first,
:func:`chalicelib.sync.apply.receive`; this inbox and the apply queue are then its retry
path, issue 19.)

``accept`` is idempotent: the inbox entry is numbered by the replica's id and made with a
conditional put, so a replica taken in before is acknowledged again without a second
entry (and queued again only while it is still pending), and a sender may retry a push
(or a private peer re-pull) as often as it needs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib.errors import BadRequest
from chalicelib.store.models import ConnectionModel
from chalicelib.store.namespaces import inbox_dedup, inbox_pk
from chalicelib.sync import lanes
from chalicelib.sync.messages import ApplyMessage, Incoming, InvalidReplica, parse_incoming
from chalicelib.sync.services import SyncDeps
from chalicelib.sync.store import take_arrival

MAX_ITEMS = 50


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
    """The ids of ``replicas``, each taken into the inbox and queued for apply."""
    accepted = []
    for replica in replicas:
        take(connection, replica, deps=deps)
        accepted.append(replica.id)
    return accepted


def take(
    connection: ConnectionModel, replica: Incoming, *, deps: SyncDeps, tried: bool = False
) -> None:
    """``replica`` into the inbox, once, and queued for apply; ``tried``: the request that
    brought it tried to apply it first (:func:`chalicelib.sync.apply.receive`)."""
    entry, made = take_arrival(
        inbox_pk(connection.id),
        issue_key=replica.key,
        replica=replica.to_wire(),
        retention_days=deps.settings.outbox_retention_days,
    )
    if made or entry.state == "pending":
        # taken in again while still pending: queued again, in case the first call
        # stopped before its queueing (the queue drops the copy for five minutes;
        # apply does an applied entry nothing, as with a resumed connection's entries)
        with lanes.working(lanes.of(replica)):  # the sender says which lane
            enqueue_apply(
                ApplyMessage(connection.id, int(entry.seq), replica.key, tried=tried),
                deps=deps,
                dedup=inbox_dedup(connection.id, replica.id),
            )


def enqueue_apply(message: ApplyMessage, *, deps: SyncDeps, dedup: str) -> None:
    deps.enqueue(
        deps.settings.resources.apply_queue_url,
        message.to_body(),
        group=message.group,
        dedup=dedup,
    )
