"""The console's sessions, kept by the node: one keys-table item per signed-in browser.

The item is named by the SHA-256 of the session id (:func:`namespaces.console_session_key`;
the id itself is only in the browser's cookie) and holds what the browser does not: the
session's CSRF value and the node's half of the admin token, a random pad the size of the
token (the cookie holds the token XOR the pad: :mod:`chalicelib.console.session`). Neither
half alone tells anything about the token. The item expires with the session (TTL
``expires_at``, filtered on read); signing out deletes it.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import msgspec

from chalicelib.store import namespaces
from chalicelib.store.keys import get_key
from chalicelib.store.models import KeyModel
from chalicelib.structs import repr_without


class StoredSession(msgspec.Struct, frozen=True):
    """What the node keeps of a session: its CSRF value, its half of the token, its end."""

    csrf: str
    pad: bytes
    expires: int  # seconds since the epoch

    def __repr__(self) -> str:
        return repr_without(self, secret=("csrf", "pad"))


def keep(session_id_sha256: str, stored: StoredSession) -> None:
    """Store a new session (its id is fresh and random: no other item has its key)."""
    KeyModel(
        key=namespaces.console_session_key(session_id_sha256),
        value=stored.csrf,
        secret=base64.urlsafe_b64encode(stored.pad).decode("ascii"),
        expires_at=datetime.fromtimestamp(stored.expires, UTC),
    ).save()


def find(session_id_sha256: str) -> StoredSession | None:
    """The live session of that id, or ``None`` (never stored, signed out, expired)."""
    item = get_key(namespaces.console_session_key(session_id_sha256))
    if item is None or not item.value or not item.secret or item.expires_at is None:
        return None
    try:
        pad = base64.urlsafe_b64decode(item.secret.encode("ascii"))
    except ValueError:
        return None
    return StoredSession(csrf=item.value, pad=pad, expires=int(item.expires_at.timestamp()))


def forget(session_id_sha256: str) -> None:
    """End a session (signing out); ending one that is already gone changes nothing."""
    KeyModel(key=namespaces.console_session_key(session_id_sha256)).delete()
