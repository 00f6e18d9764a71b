"""The connection as the sync stages need it: is it live, and how to reach the other end."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.connections.store import find_connection, open_key
from chalicelib.store.models import ConnectionModel

if TYPE_CHECKING:  # the peer client is imported where an end is built (cold start, issue 19)
    from chalicelib.net.peer import PeerEnd


def get_connection(connection_id: str) -> ConnectionModel | None:
    """The connection end, or None; read once per block of
    :func:`chalicelib.connections.store.reads_shared` (the ingest and deliver batches)."""
    return find_connection(connection_id)


def is_live(connection: ConnectionModel | None) -> bool:
    """Both ends switched on. A connection paused by a peer fault ("error" with both ends
    active) is live too: the next delivery is the probe that ends the pause."""
    if connection is None:
        return False
    if connection.status == "active":
        return True
    return (
        connection.status == "error"
        and connection.local_state == "active"
        and connection.remote_state == "active"
    )


def is_local(connection: ConnectionModel) -> bool:
    """Both ends on this node (two projects of one tracker)."""
    return bool(connection.local_peer_id)


def reachable_end(connection: ConnectionModel) -> PeerEnd | None:
    """How to call the other end of ``connection``; None while it has no URL, node id or
    key (a pending end, a private peer's end that was never given a URL)."""
    if not connection.remote_url or not connection.remote_node_id:
        return None
    key = open_key(connection)
    if key is None:
        return None
    from chalicelib.net.peer import PeerEnd

    return PeerEnd(
        url=connection.remote_url,
        connection_id=connection.id,
        remote_node_id=connection.remote_node_id,
        key=key,
    )


def peer_end(connection: ConnectionModel) -> PeerEnd:
    """:func:`reachable_end`, for callers that only run when the other end can be called."""
    end = reachable_end(connection)
    if end is None:
        raise ValueError(f"connection {connection.id} has no reachable other end")
    return end


def end_origin(connection: ConnectionModel, node_id: str) -> str:
    """This end's name in the merge stamps: unique per end, also for a local connection
    (both ends on one node, each its own connection id)."""
    return f"{node_id}#{connection.id}"


def peer_origin(connection: ConnectionModel, replica_connection_id: str) -> str:
    """The other end's name, for a replica that carries no stamps (an older node)."""
    return f"{connection.remote_node_id or 'peer'}#{replica_connection_id}"
