"""The invitation code: what an initiating admin hands to the partner's admin.

Wire contract v1: ``TS1.<payload>.<checksum>`` on one line, where ``payload`` is the
base64url (unpadded) UTF-8 JSON below and ``checksum`` is the first 8 hex digits of
``sha256("TS1." + payload)``. The checksum only catches cut or mistyped codes; the secret
and the handshake proof are what make a code trustworthy, and the initiator checks that the
terms are the ones it issued (the terms proof, :mod:`chalicelib.connections.keys`).

    {"protocol": 1, "invitation_id": "...", "connection_id": "...",
     "initiator": {"node_id": "...", "name": "...", "url": "https://..."},
     "mode": "basic" | "visual" | "script",
     "connection": {"name": "...", "description": "...",
                    "local_short_name": "<initiator's>", "remote_short_name": "<acceptor's>"},
     "expires_at": <unix seconds>, "secret": "<32 bytes, base64url unpadded>"}

Decoding is strict and every refusal has its own code: a code that is not ``TS1.x.y``
(cut, or not a code at all) is ``invalid_invitation_code``; a checksum that does not match
(altered or mistyped) is ``invitation_checksum_mismatch``; a code past ``expires_at`` is
``invitation_expired``. Whitespace inside a pasted code (line breaks from an e-mail client)
is ignored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from typing import Any

import msgspec

from chalicelib import json_input
from chalicelib.config import MODES
from chalicelib.connections.keys import SECRET_BYTES
from chalicelib.connections.validation import checked_url
from chalicelib.errors import BadRequest, Gone
from chalicelib.structs import repr_without, values_without

PREFIX = "TS1."
PROTOCOL = 1
CHECKSUM_CHARS = 8
MAX_CODE_CHARS = 8192
FIELD = "invitation_code"

_B64URL_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_CHECKSUM_RE = re.compile(rf"^[0-9a-f]{{{CHECKSUM_CHARS}}}$")


_NOT_COMPARED = ("payload",)


class Invitation(msgspec.Struct, frozen=True):
    """The decoded content of an invitation code."""

    invitation_id: str
    connection_id: str
    initiator_node_id: str
    initiator_name: str
    initiator_url: str
    mode: str
    name: str
    description: str
    local_short_name: str  # the initiator's short name
    remote_short_name: str  # the acceptor's short name, chosen by the initiator
    expires_at: int
    secret: bytes
    protocol: int = PROTOCOL
    payload: str = ""  # as decoded, for the terms proof (it holds the secret too)

    def __repr__(self) -> str:
        return repr_without(self, secret=("secret", "payload"))

    def __eq__(self, other: object) -> bool:  # the payload is how it was read: not compared
        if type(other) is not type(self) or not isinstance(other, Invitation):
            return NotImplemented
        return values_without(self, _NOT_COMPARED) == values_without(other, _NOT_COMPARED)

    def __hash__(self) -> int:
        return hash(values_without(self, _NOT_COMPARED))

    def is_expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.expires_at


def encode(invitation: Invitation) -> str:
    """The one-line code for ``invitation``."""
    document = {
        "protocol": invitation.protocol,
        "invitation_id": invitation.invitation_id,
        "connection_id": invitation.connection_id,
        "initiator": {
            "node_id": invitation.initiator_node_id,
            "name": invitation.initiator_name,
            "url": invitation.initiator_url,
        },
        "mode": invitation.mode,
        "connection": {
            "name": invitation.name,
            "description": invitation.description,
            "local_short_name": invitation.local_short_name,
            "remote_short_name": invitation.remote_short_name,
        },
        "expires_at": invitation.expires_at,
        "secret": _b64encode(invitation.secret),
    }
    raw = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    payload = _b64encode(raw)
    return f"{PREFIX}{payload}.{checksum(payload)}"


def payload_of(code: str) -> str:
    """The base64url part of a code made by :func:`encode` (what the terms proof covers)."""
    return code[len(PREFIX) :].rpartition(".")[0]


def checksum(payload: str) -> str:
    """The short checksum of a code's payload part."""
    return hashlib.sha256(f"{PREFIX}{payload}".encode("ascii")).hexdigest()[:CHECKSUM_CHARS]


def decode(code: object, *, now: float | None = None, check_expiry: bool = True) -> Invitation:
    """Parse and check a pasted code; raise the refusal that names what is wrong."""
    if not isinstance(code, str):
        raise _invalid("The invitation code must be a string.")
    compact = "".join(code.split())
    if not compact:
        raise _invalid("The invitation code is empty: paste the whole code.")
    if len(compact) > MAX_CODE_CHARS:
        raise _invalid("This is too long to be an invitation code.")
    if not compact.startswith(PREFIX):
        raise _invalid("An invitation code starts with 'TS1.': paste the whole code.")
    payload, dot, given_sum = compact[len(PREFIX) :].rpartition(".")
    if not dot or not payload or not _B64URL_RE.match(payload):
        raise _invalid("The invitation code is incomplete: it was probably cut when copied.")
    if not _CHECKSUM_RE.match(given_sum):
        raise _invalid("The invitation code's ending is incomplete: copy the whole code again.")
    if not hmac.compare_digest(checksum(payload), given_sum):
        raise BadRequest(
            "The invitation code does not match its checksum: it was altered or mistyped. "
            "Copy it again from the initiating node.",
            code="invitation_checksum_mismatch",
            field=FIELD,
        )
    invitation = _from_document(_load(payload), payload)
    if check_expiry and invitation.is_expired(now):
        raise Gone(
            "The invitation code has expired. Ask the initiating admin for a new one.",
            code="invitation_expired",
            field=FIELD,
        )
    return invitation


def _invalid(message: str) -> BadRequest:
    return BadRequest(message, code="invalid_invitation_code", field=FIELD)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _load(payload: str) -> dict[str, Any]:
    try:
        document = json_input.loads(_b64decode(payload).decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise _invalid("The invitation code's content cannot be read.") from exc
    if not isinstance(document, dict):
        raise _invalid("The invitation code's content is not an invitation.")
    return document


def _from_document(doc: dict[str, Any], payload: str) -> Invitation:
    protocol = doc.get("protocol")
    if protocol != PROTOCOL:
        raise _invalid(
            f"The invitation code uses protocol {protocol!r}; this node speaks {PROTOCOL}. "
            "Upgrade the node that is older."
        )
    initiator = doc.get("initiator")
    connection = doc.get("connection")
    if not isinstance(initiator, dict) or not isinstance(connection, dict):
        raise _invalid("The invitation code's content is incomplete.")
    mode = doc.get("mode")
    if mode not in MODES:
        raise _invalid(f"The invitation code names an unknown mode {mode!r}.")
    expires_at = doc.get("expires_at")
    if not isinstance(expires_at, int) or isinstance(expires_at, bool):
        raise _invalid("The invitation code has no valid expiry.")
    try:
        secret = _b64decode(_text(doc, "secret"))
    except binascii.Error as exc:
        raise _invalid("The invitation code's secret cannot be read.") from exc
    if len(secret) != SECRET_BYTES:
        raise _invalid("The invitation code's secret has the wrong length.")
    url = _text(initiator, "url")
    checked_url(url, field=FIELD, label="The code's initiator URL", code="invalid_invitation_code")
    return Invitation(
        invitation_id=_text(doc, "invitation_id"),
        connection_id=_text(doc, "connection_id"),
        initiator_node_id=_text(initiator, "node_id"),
        initiator_name=_text(initiator, "name"),
        initiator_url=url.rstrip("/"),
        mode=mode,
        name=_text(connection, "name"),
        description=_text(connection, "description", required=False),
        local_short_name=_text(connection, "local_short_name"),
        remote_short_name=_text(connection, "remote_short_name"),
        expires_at=expires_at,
        secret=secret,
        protocol=protocol,
        payload=payload,
    )


def _text(doc: dict[str, Any], key: str, *, required: bool = True) -> str:
    value = doc.get(key, None if required else "")
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > 2048:
        raise _invalid(f"The invitation code's {key} is missing or invalid.")
    return value
