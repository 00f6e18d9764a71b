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

Connection keys are stored sealed (:mod:`chalicelib.connections.sealing`): the one way to
read one is :func:`open_key` (an end) or :func:`find_tombstone` (a deleted end), and the
one way to write one is :func:`seal_key`. A legacy plaintext key is still read, and sealed
in place as it is read (a conditional write of that attribute alone).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from functools import lru_cache
from typing import Any

import msgspec
from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.connections import keys, sealing
from chalicelib.errors import Conflict, NotFound
from chalicelib.store.models import (
    ConnectionModel,
    InvitationModel,
    KeyModel,
    key_is_live,
    utcnow,
)
from chalicelib.store.namespaces import connection_name_key, connection_tomb_key
from chalicelib.store.pages import TEXT, KeyShape, Page, scan_page
from chalicelib.structs import repr_without

TOMBSTONE_DAYS = 30

log = logging.getLogger("twinsync.connections")


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


# --- connection keys ----------------------------------------------------------------------


def seal_key(connection_id: str, key: bytes) -> str:
    """What end ``connection_id``'s record stores of its connection key (``key=``)."""
    return sealing.bound().seal(key, sealing.connection_context(connection_id))


def open_key(conn: ConnectionModel) -> bytes | None:
    """The connection key of end ``conn``; None when it has none (never had one).

    A legacy plaintext key is sealed on the way: in ``conn`` (so its next save writes the
    sealed value) and in the table, if the record still holds that plaintext.
    """
    if not conn.key:
        return None
    context = sealing.connection_context(conn.id)
    if sealing.is_sealed(conn.key):
        return sealing.bound().open(conn.key, context)
    legacy = conn.key
    key = keys.decode_key(legacy)
    conn.key = sealing.bound().seal(key, context)
    _reseal(ConnectionModel, conn.id, ConnectionModel.key, legacy, conn.key)
    return key


def _reseal(model: type[Model], hash_key: str, attribute: Any, legacy: str, sealed: str) -> None:
    """Replace a legacy plaintext value by its sealed form, if it is still there.

    One attribute, conditioned on the plaintext, without the record's version: a holder of
    an older copy that saves it later writes the plaintext back (read again: sealed again)
    rather than failing on a version it could not have known about. The key was opened
    either way, so a failed write only leaves the sealing to the next read.
    """
    try:
        # the model's table connection, not ``model.update``: that would bump the version
        # and overwrite the caller's unsaved changes with what the table holds
        model._get_connection().update_item(
            hash_key, actions=[attribute.set(sealed)], condition=attribute == legacy
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            log.warning(
                "the legacy key of %s stays unsealed until it is read again (%s)",
                hash_key,
                exc.cause_response_code,
            )


def _sealed_tombstone_key(end: ConnectionModel) -> str | None:
    """The deleted end's key sealed for its tombstone (another context: not copyable)."""
    if not end.key:
        return None
    if sealing.is_sealed(end.key):
        key = sealing.bound().open(end.key, sealing.connection_context(end.id))
    else:
        key = keys.decode_key(end.key)
    return sealing.bound().seal(key, sealing.tombstone_context(end.id))


def _open_tombstone_key(item: KeyModel, connection_id: str) -> bytes | None:
    if not item.secret:
        return None
    context = sealing.tombstone_context(connection_id)
    if sealing.is_sealed(item.secret):
        return sealing.bound().open(item.secret, context)
    legacy = item.secret
    key = keys.decode_key(legacy)
    _reseal(KeyModel, item.key, KeyModel.secret, legacy, sealing.bound().seal(key, context))
    return key


# --- reads --------------------------------------------------------------------------------


def find_connection(connection_id: str) -> ConnectionModel | None:
    shared = _READS.get()
    # by table too: one process can hold two nodes' tables (the functional tests' cluster)
    key = (str(ConnectionModel.Meta.table_name), connection_id)
    if shared is not None and key in shared:
        return shared[key]
    try:
        conn: ConnectionModel | None = ConnectionModel.get(connection_id, consistent_read=True)
    except DoesNotExist:
        conn = None
    if shared is not None:
        shared[key] = conn
    return conn


_READS: ContextVar[dict[tuple[str, str], ConnectionModel | None] | None] = ContextVar(
    "connection_reads", default=None
)


@contextmanager
def reads_shared(*known: ConnectionModel) -> Iterator[None]:
    """Within the block, each connection is read from the table once and the same object
    is handed to every caller (issue 19: one read per batch of a queue function, not one
    per record). What the block's code writes to a connection, it writes through that
    object, so the block sees its own changes; a change another function makes meanwhile
    is seen from the next block on (as it would be a moment later without the sharing).
    ``known``: connections the caller has just read (a peer call's end), not read again."""
    table = str(ConnectionModel.Meta.table_name)
    token = _READS.set({(table, conn.id): conn for conn in known})
    try:
        yield
    finally:
        _READS.reset(token)


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


CONNECTION_POSITIONS = KeyShape(fixed={}, patterns={"id": TEXT})


def connections_page(*, limit: int, after: dict[str, str] | None = None) -> Page[ConnectionModel]:
    """One page of this node's connection ends, in the table's own stable order (a Scan
    resumed after the last id: ``list_connections`` sorts, a page cannot)."""
    start = CONNECTION_POSITIONS.check(after) if after is not None else None
    return scan_page(ConnectionModel, limit=limit, after=start)


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


class Tombstone(msgspec.Struct, frozen=True):
    """What is left of a deleted end for 30 days: why, and its key (to verify the peer)."""

    reason: str
    key: bytes | None = None  # None: deleted before keys were kept

    def __repr__(self) -> str:
        return repr_without(self, secret=("key",))


def find_tombstone(connection_id: str) -> Tombstone | None:
    """The tombstone of ``connection_id``, if it was deleted here (recently)."""
    try:
        item = KeyModel.get(connection_tomb_key(connection_id), consistent_read=True)
    except DoesNotExist:
        return None
    if not key_is_live(item):
        return None
    return Tombstone(reason=item.value or "", key=_open_tombstone_key(item, connection_id))


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
    secrets = [_sealed_tombstone_key(end) for end in ends]  # KMS first: a failure writes nothing
    with _transaction() as tx:
        tx.delete(KeyModel(key=name_key(ends[0].name)), condition=KeyModel.value == ends[0].id)
        for end, secret in zip(ends, secrets, strict=True):
            tx.delete(end)
            tx.save(
                KeyModel(
                    key=connection_tomb_key(end.id),
                    value=reason[:1000],
                    secret=secret,
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
