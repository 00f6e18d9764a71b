"""Typed messages: what arrives from the other end, and what the sync queues carry.

Each is a frozen :class:`msgspec.Struct`, parsed once at the edge and serialised once:

- from the other end (protocol 1, ``docs/contract.md``): :func:`parse_incoming` checks a
  replica object at the HTTP edge (a bad one is :class:`InvalidReplica`, the inbox's
  ``invalid_replica`` 400) and :func:`from_wire` reads one that is already checked (an
  inbox or outbox entry, a private node's pull) without re-checking its content. Either
  gives a :class:`Replica` or a :class:`Removal` (``removed: true``): a removal is a kind
  of its own, not a flag inside the data. A :class:`ConnectRequest` is a replica whose
  ``twin_key`` names an issue of ours that has no twin here yet; the wire does not mark it
  (every replica of a linked twin carries ``twin_key``), so apply makes one when it finds
  no twin (:func:`chalicelib.sync.arrival.classify`).
- :meth:`Replica.to_wire` / :meth:`Removal.to_wire` give the very object that was parsed
  (or built), key order included: the wire stays exactly as it is.
- the queue bodies (:class:`IngestMessage`, :class:`ApplyMessage`, :class:`DeliverMessage`)
  have ``from_body`` / ``to_body`` and know their FIFO group.

The rules (basic, visual, script, merge) read a replica's content as a mapping, the way
user scripts see it (:attr:`Replica.payload`, or :meth:`Replica.to_wire` for a copy of
their own).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import msgspec

from chalicelib.rules.replica import InvalidReplica, blank_replica, stamp, validate
from chalicelib.store.namespaces import apply_group, deliver_group
from chalicelib.structs import repr_without, values_without
from chalicelib.sync.ingest_message import IngestMessage as IngestMessage
from chalicelib.sync.ingest_message import enqueue_ingest as enqueue_ingest

REMOVAL_KINDS = ("stopped", "stop_ack", "deleted", "refused")
# The envelope's ids become parts of DynamoDB keys (a hash key holds 2048 bytes, a range
# key 1024: ``replica#<connection>#<id>``, the remote key in the twins' index) and of queue
# groups: longer ones are refused at the edge, before anything is written.
MAX_ID_BYTES = 512
_ID_FIELDS = ("id", "connection_id", "key", "twin_key")
_WIRE = ("_wire",)

__all__ = [
    "REMOVAL_KINDS",
    "ApplyMessage",
    "AttachmentRef",
    "ConnectRequest",
    "DeliverMessage",
    "Incoming",
    "IngestMessage",
    "InvalidReplica",
    "Removal",
    "Replica",
    "from_wire",
    "parse_incoming",
]


def _frozen(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """A private, read-only copy of a wire object (nested values copied too)."""
    return MappingProxyType(copy.deepcopy(dict(data)))


def _header_str(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidReplica(f"replica.{name} is missing or not a str")
    return value


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _version(data: Mapping[str, Any]) -> int:
    value = data.get("version")
    if isinstance(value, bool):
        raise InvalidReplica("replica.version is missing or not a int")
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise InvalidReplica("replica.version is missing or not a int") from exc


# Replica and Removal keep the object as read (``_wire``) beside its typed fields: it is
# neither shown in a repr nor compared (msgspec has no per-field repr=False/compare=False).
def _repr_without_wire(self: msgspec.Struct) -> str:
    return repr_without(self, omit=_WIRE)


def _eq_without_wire(self: msgspec.Struct, other: object) -> bool:
    if type(other) is not type(self) or not isinstance(other, msgspec.Struct):
        return NotImplemented
    return values_without(self, _WIRE) == values_without(other, _WIRE)


def _hash_without_wire(self: msgspec.Struct) -> int:
    return hash(values_without(self, _WIRE))


class AttachmentRef(msgspec.Struct, frozen=True):
    """An attachment a replica offers: which bytes to fetch (by id), and their checksum."""

    id: str
    filename: str
    size: int
    mime_type: str | None
    sha256: str | None

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> AttachmentRef:
        size = data.get("size")
        return cls(
            id=str(data["id"]),
            filename=str(data.get("filename") or ""),
            size=size if isinstance(size, int) and not isinstance(size, bool) else 0,
            mime_type=_opt_str(data.get("mime_type")),
            sha256=_opt_str(data.get("sha256")),
        )


class Replica(msgspec.Struct, frozen=True):
    """An issue's snapshot from the other end (protocol 1): its envelope, typed, and its
    content as the rules read it (:attr:`payload`)."""

    id: str
    connection_id: str
    key: str
    version: int
    url: str | None
    updated: str | None
    summary: str
    twin_key: str | None  # our issue, when the sender knows its twin
    repair: tuple[str, ...]  # fields a drift repair asks us to write whatever the stamps say
    stamps: Mapping[str, Any] | None  # the merge registers' stamps (ADR 0004)
    comment_ids: tuple[str, ...]
    attachments: tuple[AttachmentRef, ...]
    _wire: Mapping[str, Any]  # the object as read: neither shown nor compared

    __repr__ = _repr_without_wire
    __eq__ = _eq_without_wire
    __hash__ = _hash_without_wire

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Replica:
        wire = _frozen(data)
        repair = wire.get("repair")
        stamps = wire.get("stamps")
        comments = wire.get("comments")
        attachments = wire.get("attachments")
        try:
            comment_ids = tuple(
                str(c["id"]) for c in (comments if isinstance(comments, list) else [])
            )
            refs = tuple(
                AttachmentRef.from_wire(a)
                for a in (attachments if isinstance(attachments, list) else [])
            )
        except (KeyError, TypeError) as exc:
            raise InvalidReplica("every replica.comments/attachments item needs an id") from exc
        return cls(
            id=_header_str(wire, "id"),
            connection_id=_header_str(wire, "connection_id"),
            key=_header_str(wire, "key"),
            version=_version(wire),
            url=_str_or_none(wire.get("url")),
            updated=_str_or_none(wire.get("updated")),
            summary=str(wire.get("summary") or ""),
            twin_key=_opt_str(wire.get("twin_key")),
            repair=tuple(str(n) for n in repair) if isinstance(repair, list) else (),
            stamps=stamps if isinstance(stamps, Mapping) else None,
            comment_ids=comment_ids,
            attachments=refs,
            _wire=wire,
        )

    @classmethod
    def compose(
        cls,
        content: Mapping[str, Any],
        *,
        version: int,
        stamps: Mapping[str, Any],
        repair: Sequence[str] = (),
        twin_key: str | None = None,
    ) -> Replica:
        """An outgoing replica: the outgoing rule's ``content`` with its version, its
        deterministic id and the envelope's additions (in the order the wire has them)."""
        wire = stamp(dict(content), version=version)
        wire["stamps"] = dict(stamps)
        if repair:
            wire["repair"] = sorted(set(repair))
        if twin_key:
            wire["twin_key"] = twin_key
        return cls.from_wire(wire)

    @property
    def payload(self) -> Mapping[str, Any]:
        """The whole replica object, read-only: what the rules and merge read."""
        return self._wire

    def to_wire(self) -> dict[str, Any]:
        """The replica object as it travels (a copy of its own)."""
        return copy.deepcopy(dict(self._wire))


class Removal(msgspec.Struct, frozen=True):
    """``removed: true``: the link between two issues ends (``kind``, ``reason``).

    ``stopped`` (the sender stopped syncing), ``stop_ack`` (the answer), ``deleted`` (the
    sender's issue was deleted), ``refused`` (a connect request that could not be
    honoured: ``key`` is the refused issue, ``twin_key`` the requesting one). A bare
    ``removed: true`` without ``removal`` is read as ``stopped``."""

    id: str
    connection_id: str
    key: str
    version: int
    url: str | None
    updated: str | None
    kind: str
    reason: str | None
    twin_key: str | None
    _wire: Mapping[str, Any]  # the object as read: neither shown nor compared

    __repr__ = _repr_without_wire
    __eq__ = _eq_without_wire
    __hash__ = _hash_without_wire

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Removal:
        wire = _frozen(data)
        removal = wire.get("removal")
        kind, reason = "stopped", None
        if isinstance(removal, Mapping) and removal.get("kind") in REMOVAL_KINDS:
            kind = str(removal["kind"])
            reason = removal.get("reason") if isinstance(removal.get("reason"), str) else None
        return cls(
            id=_header_str(wire, "id"),
            connection_id=_header_str(wire, "connection_id"),
            key=_header_str(wire, "key"),
            version=_version(wire),
            url=_str_or_none(wire.get("url")),
            updated=_str_or_none(wire.get("updated")),
            kind=kind,
            reason=reason,
            twin_key=_opt_str(wire.get("twin_key")),
            _wire=wire,
        )

    @classmethod
    def new(
        cls,
        connection_id: str,
        *,
        key: str,
        url: str | None,
        version: int,
        kind: str,
        reason: str | None,
        twin_key: str | None,
        updated: str,
        replica_id: str | None = None,
    ) -> Removal:
        """A protocol-1 replica that says only "this link ends" (no content)."""
        if kind not in REMOVAL_KINDS:
            raise ValueError(f"unknown removal kind {kind!r}")
        wire = stamp(blank_replica(connection_id, key, url or "", updated), version=version)
        if replica_id:
            wire["id"] = replica_id
        wire["removed"] = True
        wire["removal"] = {"kind": kind, "reason": reason}
        if twin_key:
            wire["twin_key"] = twin_key
        return cls.from_wire(wire)

    def to_wire(self) -> dict[str, Any]:
        return copy.deepcopy(dict(self._wire))


Incoming = Replica | Removal


class ConnectRequest(msgspec.Struct, frozen=True):
    """A replica whose ``twin_key`` names one of our issues that has no twin here yet: the
    other end connected its issue ``requester`` with our ``target``."""

    replica: Replica

    @property
    def target(self) -> str:
        assert self.replica.twin_key is not None
        return self.replica.twin_key

    @property
    def requester(self) -> str:
        return self.replica.key


def from_wire(data: Any) -> Incoming:
    """A replica object already checked (our own entries, a pull from the peer's outbox):
    only its envelope is read; :class:`InvalidReplica` when even that is missing."""
    if not isinstance(data, Mapping):
        raise InvalidReplica("a replica must be a JSON object")
    if data.get("removed"):
        return Removal.from_wire(data)
    return Replica.from_wire(data)


def parse_incoming(data: Any) -> Incoming:
    """A replica object at the HTTP edge: checked against protocol 1, then typed."""
    checked = validate(data)
    for name in _ID_FIELDS:
        value = checked.get(name)
        if isinstance(value, str) and len(value.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES:
            raise InvalidReplica(f"replica.{name} is longer than {MAX_ID_BYTES} bytes")
    return from_wire(checked)


# --- queue bodies ----------------------------------------------------------------------------


class ApplyMessage(msgspec.Struct, frozen=True):
    """Apply inbox entry ``seq`` of a connection (a replica of the remote issue)."""

    connection_id: str
    seq: int
    remote_key: str
    # the request that brought the replica tried to apply it first and handed it over
    # (issue 19): the worker heals what that attempt may have written, as on a retry
    tried: bool = False

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> ApplyMessage:
        return cls(
            str(body.get("connection_id", "")),
            int(body.get("seq", 0)),
            str(body.get("remote_key", "")),
            tried=body.get("tried") is True,
        )

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "connection_id": self.connection_id,
            "seq": self.seq,
            "remote_key": self.remote_key,
        }
        if self.tried:
            body["tried"] = True
        return body

    @property
    def group(self) -> str:
        return apply_group(self.connection_id, self.remote_key)


class DeliverMessage(msgspec.Struct, frozen=True):
    """Deliver outbox entry ``seq`` of a connection (a replica of the local issue)."""

    connection_id: str
    seq: int
    local_key: str

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> DeliverMessage:
        return cls(
            str(body.get("connection_id", "")),
            int(body.get("seq", 0)),
            str(body.get("local_key", "")),
        )

    def to_body(self) -> dict[str, Any]:
        return {"connection_id": self.connection_id, "seq": self.seq, "local_key": self.local_key}

    @property
    def group(self) -> str:
        return deliver_group(self.connection_id, self.local_key)
