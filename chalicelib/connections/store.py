"""Storage of connection ends, invitations, name reservations and tombstones.

Everything that must happen together happens in one DynamoDB transaction, so a refusal or
a crash leaves nothing half-made: a new end is saved with its name reservation (and its
invitation); a handshake marks the invitation used and activates the end; a delete removes
the end(s) and the name and revokes the invitation.

Keys in the keys table (``KeyModel``):
- ``conn-name#<casefolded name>`` → connection id: a connection name is unique per node;
  the two ends of a local connection share one reservation (held by the initiator end).
- ``conn-tomb#<connection id>`` → why it was deleted, and the end's connection key
  (``secret``); kept 30 days so a private peer that polls later is told "deleted", while
  a caller without that key is told nothing (:mod:`chalicelib.connections.node_auth`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.connections import keys
from chalicelib.errors import Conflict, NotFound
from chalicelib.store.models import (
    ConnectionModel,
    InvitationModel,
    KeyModel,
    key_is_live,
    utcnow,
)
from chalicelib.store.namespaces import connection_name_key, connection_tomb_key

TOMBSTONE_DAYS = 30


class NameTaken(Exception):
    """The connection name is reserved by another connection."""


@lru_cache(maxsize=4)
def _connection(region: str) -> Connection:
    # One botocore client per container: creating one costs ~0.2 s (service model load).
    return Connection(region=region)


def _transaction() -> TransactWrite:
    return TransactWrite(connection=_connection(ConnectionModel.Meta.region))


@contextmanager
def _name_conflict(name: str) -> Iterator[None]:
    """Turn a failed name-reservation condition into ``409 connection_name_taken``."""
    try:
        yield
    except TransactWriteError as exc:
        if _condition_failed(exc):
            raise Conflict(
                f"A connection named {name!r} already exists on this node; choose another name.",
                code="connection_name_taken",
                field="name",
            ) from exc
        raise


def _condition_failed(exc: TransactWriteError) -> bool:
    reasons = getattr(exc, "cancellation_reasons", None) or []
    codes = {getattr(r, "code", None) for r in reasons if r is not None}
    return "ConditionalCheckFailed" in codes or exc.cause_response_code in (
        "ConditionalCheckFailedException",
        "TransactionCanceledException",
    )


# --- reads --------------------------------------------------------------------------------


def find_connection(connection_id: str) -> ConnectionModel | None:
    try:
        return ConnectionModel.get(connection_id, consistent_read=True)
    except DoesNotExist:
        return None


def get_connection(connection_id: str) -> ConnectionModel:
    """The end ``connection_id`` of this node, or 404 ``connection_not_found``."""
    conn = find_connection(connection_id)
    if conn is None:
        raise NotFound(
            f"There is no connection {connection_id!r} on this node.", code="connection_not_found"
        )
    return conn


def list_connections() -> list[ConnectionModel]:
    """Every end on this node, oldest first (a node holds tens of connections, not millions)."""
    return sorted(ConnectionModel.scan(), key=lambda c: (c.created_at, c.id))


def find_invitation(invitation_id: str) -> InvitationModel | None:
    try:
        return InvitationModel.get(invitation_id, consistent_read=True)
    except DoesNotExist:
        return None


def name_key(name: str) -> str:
    return connection_name_key(name.strip().casefold())


def name_holder(name: str) -> str | None:
    """The id of the connection holding ``name``, if any."""
    try:
        return KeyModel.get(name_key(name), consistent_read=True).value
    except DoesNotExist:
        return None


@dataclass(frozen=True)
class Tombstone:
    """What is left of a deleted end for 30 days: why, and its key (to verify the peer)."""

    reason: str
    key: bytes | None = field(default=None, repr=False)  # None: deleted before keys were kept


def find_tombstone(connection_id: str) -> Tombstone | None:
    """The tombstone of ``connection_id``, if it was deleted here (recently)."""
    try:
        item = KeyModel.get(connection_tomb_key(connection_id), consistent_read=True)
    except DoesNotExist:
        return None
    if not key_is_live(item):
        return None
    return Tombstone(
        reason=item.value or "", key=keys.decode_key(item.secret) if item.secret else None
    )


def tombstone(connection_id: str) -> str | None:
    """Why ``connection_id`` was deleted here, if it was (recently)."""
    found = find_tombstone(connection_id)
    return found.reason if found is not None else None


# --- writes -------------------------------------------------------------------------------


def create_ends(
    ends: Iterable[ConnectionModel], *, name: str, invitation: InvitationModel | None = None
) -> None:
    """Save new end(s) with the name reservation (held by the first) and the invitation."""
    ends = list(ends)
    with _name_conflict(name), _transaction() as tx:
        tx.save(
            KeyModel(key=name_key(name), value=ends[0].id),
            condition=KeyModel.key.does_not_exist(),
        )
        for end in ends:
            tx.save(end, condition=ConnectionModel.id.does_not_exist())
        if invitation is not None:
            tx.save(invitation, condition=InvitationModel.id.does_not_exist())


def save_accepted_end(end: ConnectionModel) -> None:
    """Save the acceptor's end with its name; ``NameTaken`` or ``FileExistsError`` on clash."""
    try:
        with _transaction() as tx:
            tx.save(
                KeyModel(key=name_key(end.name), value=end.id),
                condition=KeyModel.key.does_not_exist(),
            )
            tx.save(end, condition=ConnectionModel.id.does_not_exist())
    except TransactWriteError as exc:
        if not _condition_failed(exc):
            raise
        if find_connection(end.id) is not None:
            raise FileExistsError(end.id) from exc
        raise NameTaken(end.name) from exc


def record_handshake(invitation: InvitationModel, end: ConnectionModel, acceptor_id: str) -> bool:
    """Mark the invitation used by ``acceptor_id`` and save the activated end, together.

    False when the invitation was no longer open (someone else won the race).
    """
    try:
        with _transaction() as tx:
            tx.update(
                invitation,
                actions=[
                    InvitationModel.status.set("used"),
                    InvitationModel.accepted_by.set(acceptor_id),
                ],
                condition=InvitationModel.status == "open",
            )
            tx.save(end)
    except TransactWriteError as exc:
        if _condition_failed(exc):
            return False
        raise
    return True


def rename(ends: list[ConnectionModel], old: str, new: str) -> None:
    """Move the name reservation and save the renamed end(s)."""
    same_key = name_key(old) == name_key(new)
    with _name_conflict(new), _transaction() as tx:
        if not same_key:
            tx.save(
                KeyModel(key=name_key(new), value=ends[0].id),
                condition=KeyModel.key.does_not_exist(),
            )
            tx.delete(KeyModel(key=name_key(old)))
        for end in ends:
            tx.save(end)


def delete_ends(
    ends: list[ConnectionModel], *, invitation: InvitationModel | None, reason: str
) -> None:
    """Remove the end(s) and their name, revoke the invitation, leave tombstones."""
    expires = utcnow() + timedelta(days=TOMBSTONE_DAYS)
    with _transaction() as tx:
        tx.delete(KeyModel(key=name_key(ends[0].name)), condition=KeyModel.value == ends[0].id)
        for end in ends:
            tx.delete(end)
            tx.save(
                KeyModel(
                    key=connection_tomb_key(end.id),
                    value=reason[:1000],
                    secret=end.key,
                    expires_at=expires,
                )
            )
        if invitation is not None and invitation.status == "open":
            tx.update(
                invitation,
                actions=[
                    InvitationModel.status.set("revoked"),
                    InvitationModel.purge_at.set(expires),
                ],
            )
