"""Deliver: push outbox entries to the other end (a private peer pulls them instead).

Per twin the deliver queue is FIFO, so replicas of one issue arrive in order; the receiver
still never applies an older version than it has. A peer that is down is retried with
backoff through the queue; a peer that refuses the connection itself (unknown, revoked)
pauses the connection, and the entry stays pending until it is active again.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import quote

from chalicelib.net.errors import OutboundError, PeerRefused
from chalicelib.observability import logs
from chalicelib.queues import QueueMessage, RetryLater
from chalicelib.store.models import ConnectionModel, EntryModel
from chalicelib.store.namespaces import outbox_pk
from chalicelib.sync.blobs import outgoing_key
from chalicelib.sync.links import get_connection, is_live, is_local, peer_end
from chalicelib.sync.messages import DeliverMessage, Replica, from_wire
from chalicelib.sync.peer_contact import note_reached, note_unreachable
from chalicelib.sync.services import SyncDeps
from chalicelib.sync.store import get_entry, set_entry_state

log = logging.getLogger("twinsync.deliver")

CONNECTION_GONE = {401, 403, 404, 410}


def enqueue_deliver(message: DeliverMessage, *, deps: SyncDeps, dedup: str) -> None:
    deps.enqueue(
        deps.settings.resources.deliver_queue_url,
        message.to_body(),
        group=message.group,
        dedup=dedup,
    )


def handle_deliver(message: QueueMessage, *, deps: SyncDeps) -> None:
    job = DeliverMessage.from_body(message.body)
    connection_id = job.connection_id
    entry = get_entry(outbox_pk(connection_id), job.seq)
    if entry is None or entry.state != "pending":
        return
    logs.bind(replica_id=entry.replica_id)
    connection = get_connection(connection_id)
    if connection is None:
        return
    if not is_live(connection):
        log.info("connection %s is %s: entry %s waits", connection_id, connection.status, entry.seq)
        return
    if is_local(connection):
        deliver_locally(connection, entry, deps=deps)
        return
    if not connection.remote_public:
        return  # the private peer pulls from our outbox
    push(connection, [entry], deps=deps, attempt=message.receive_count)


def deliver_locally(connection: ConnectionModel, entry: EntryModel, *, deps: SyncDeps) -> None:
    from chalicelib.sync.inbox import accept

    other = get_connection(str(connection.local_peer_id))
    if other is None:
        return
    accept(other, [from_wire(entry.replica)], deps=deps)
    set_entry_state(entry, "acked")


PAUSE_AFTER_ATTEMPTS = 4


def push(
    connection: ConnectionModel, entries: list[EntryModel], *, deps: SyncDeps, attempt: int = 1
) -> None:
    """POST entries to a public peer; mark the accepted ones acknowledged.

    A peer that does not answer is retried with backoff a few times; after that it is a
    connection-wide fault: the connection is paused (entries stay pending, nothing is lost)
    and the reconcile sweep probes it until it answers again.
    """
    accepted = _post(connection, entries, deps=deps, attempt=attempt)
    for entry in entries:
        if entry.replica_id in accepted:
            set_entry_state(entry, "acked")


def deliver_now(connection: ConnectionModel, entry: EntryModel, *, deps: SyncDeps) -> bool:
    """Push a new outbox entry from where it was made (ingest), before it is saved; True
    when the peer accepted it (the caller then saves nothing: ADR 0011).

    Issue 19: this saves the deliver queue's message, its function invocation and its
    reads for the usual case. Anything else (a private or paused peer, both ends on this
    node, a peer that fails or does not answer) returns False and the caller queues the
    entry for :func:`handle_deliver`, the retry path with its backoff and pause. A newer
    entry pushed here can overtake an older one still waiting in that queue; the receiver
    drops a version older than the one it applied (replicas carry the whole issue)."""
    if connection.status != "active" or is_local(connection) or not connection.remote_public:
        return False
    if time.monotonic() < _queue_only_until.get(connection.id, 0.0):
        return False
    try:
        accepted = _post(connection, [entry], deps=deps)
    except Exception as exc:  # the deliver queue retries it with backoff
        log.info("entry %s of %s goes through the queue: %s", entry.seq, connection.id, exc)
        # a peer that hangs costs one read timeout per process, not one per record of an
        # ingest batch (ten of them would outlast the function's timeout)
        _queue_only_until[connection.id] = time.monotonic() + QUEUE_ONLY_AFTER_FAILURE_S
        return False
    pushed = entry.replica_id in accepted
    if pushed:  # what a deliver record's transaction line says, for the push from ingest
        log.info(
            "entry %s of %s pushed to the peer",
            entry.seq,
            connection.id,
            extra={
                "event": "sync.delivered",
                "via": "push",
                "connection_id": connection.id,
                "issue_key": entry.issue_key,
                "seq": int(entry.seq),
                "replica_id": entry.replica_id,
            },
        )
    return pushed


QUEUE_ONLY_AFTER_FAILURE_S = 60.0
_queue_only_until: dict[str, float] = {}  # per process: connection id -> monotonic time


def _post(
    connection: ConnectionModel, entries: list[EntryModel], *, deps: SyncDeps, attempt: int = 1
) -> set[str]:
    """The replica ids the peer accepted (none when the connection was paused)."""
    end = peer_end(connection)
    path = f"/node/v1/connections/{quote(connection.id, safe='')}/replicas"
    try:
        if not deps.settings.is_public:
            for entry in entries:
                upload_attachments(connection, entry, deps=deps)
        answer = deps.peer.call(end, "POST", path, {"items": [e.replica for e in entries]})
    except PeerRefused as exc:
        note_reached(connection.id)  # it answered, if only to refuse
        if exc.status in CONNECTION_GONE:
            pause(connection, f"The other end refused the connection: {exc}", exc.code, deps=deps)
            return set()
        raise
    except OutboundError as exc:
        note_unreachable(connection.id, exc)
        if attempt >= PAUSE_AFTER_ATTEMPTS:
            pause(
                connection, f"The other end does not answer ({exc}); changes are kept.", deps=deps
            )
            return set()
        raise RetryLater(f"peer {end.url} unreachable: {exc}") from exc
    note_reached(connection.id)
    if connection.status == "error":  # the peer answers again: the pause is over
        from chalicelib.connections.status import refresh_status

        refresh_status(connection)
        connection.update(
            actions=[
                ConnectionModel.status.set(connection.status),
                ConnectionModel.status_reason.set(connection.status_reason),
            ]
        )
    return set(answer.get("accepted", [])) if isinstance(answer, dict) else set()


def upload_attachments(connection: ConnectionModel, entry: EntryModel, *, deps: SyncDeps) -> None:
    """A private sender hands the public receiver the bytes it cannot fetch from us."""
    end = peer_end(connection)
    replica = from_wire(entry.replica)
    for attachment in replica.attachments if isinstance(replica, Replica) else ():
        aid = attachment.id
        data = deps.blobs.get(outgoing_key(connection.id, aid))
        if data is None:
            continue
        path = f"/node/v1/connections/{quote(connection.id, safe='')}/attachments/{quote(aid)}"
        offer = deps.peer.call(end, "PUT", path, {"sha256": attachment.sha256})
        if isinstance(offer, dict) and offer.get("url"):
            response = (deps.blob_fetch or deps.fetch)("PUT", offer["url"], body=data)
            if response.status >= 300:
                raise RetryLater(f"upload of attachment {aid} failed ({response.status})")


def pause(
    connection: ConnectionModel,
    reason: str,
    code: str | None = None,
    *,
    deps: SyncDeps | None = None,
) -> None:
    """A connection-wide fault: keep every change, show why.

    A peer that says its end is deleted or deactivated is recorded as such (the lifecycle
    shows it); any other refusal (bad credentials) pauses with status ``error``, and the
    reconcile sweep's next delivery attempt is the probe that lifts the pause.
    """
    from chalicelib.connections.status import refresh_status
    from chalicelib.sync.notify import CONNECTION_PAUSED, notify  # a pause's (issue 19)

    if code in ("connection_deleted", "unknown_connection", "connection_unknown"):
        connection.remote_state = "deleted"
        connection.remote_reason = reason
        refresh_status(connection)
    elif code == "connection_deactivated":
        connection.remote_state = "deactivated"
        refresh_status(connection)
    else:
        connection.status, connection.status_reason = "error", reason
    connection.update(
        actions=[
            ConnectionModel.status.set(connection.status),
            ConnectionModel.status_reason.set(connection.status_reason),
            ConnectionModel.remote_state.set(connection.remote_state),
            ConnectionModel.remote_reason.set(connection.remote_reason),
        ]
    )
    log.warning("connection %s paused: %s", connection.id, reason)
    if deps is not None:
        notify(
            CONNECTION_PAUSED,
            subject=connection.id,
            text=f"connection {connection.name!r} ({connection.id}) is {connection.status}: "
            f"{connection.status_reason or reason}",
            node_id=deps.settings.node_id,
            details={
                "connection_id": connection.id,
                "status": connection.status,
                "reason": connection.status_reason or reason,
            },
            fetch=deps.fetch,
        )
