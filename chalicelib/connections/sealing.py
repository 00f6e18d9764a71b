"""Connection keys at rest: sealed under the tenant's KMS key, bound to their record.

A stored key reads ``kms1:<base64 ciphertext>``: KMS ``Encrypt`` of the raw 32-byte key
under the node's key (``TWINSYNC_KMS_KEY_ARN``) with an encryption context naming the
record that holds it (:func:`connection_context`, :func:`tombstone_context`). KMS refuses
to decrypt under any other context, so a ciphertext copied into another connection's
record, or from a tombstone into a live end, opens nowhere. A value without the prefix is a
legacy plaintext key (base64url, written before sealing): :mod:`chalicelib.connections.store`
opens it and seals it in place.

Opening is cached in the process (bounded, least recently used first out), keyed by the
ciphertext *and* its context: a warm Lambda calls KMS once per key, not once per request,
and a copied ciphertext is not let through by the cache either.

The composition root builds the one :class:`KeySealer` (its KMS client, the key) and binds
it here with the tables (:func:`bind`), because a key is part of the records it seals;
:mod:`chalicelib.connections.store` is the only reader of :func:`bound`.

    KeySealingError (BadGateway, 502 ``key_service_failed``)   KMS refused or failed;
                                                                nothing was written unsealed
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from chalicelib.errors import BadGateway

PREFIX = "kms1:"
CACHE_SIZE = 256
_CONTEXT_CONNECTION = "twinsync:connection"
_CONTEXT_RECORD = "twinsync:record"


class KeySealingError(BadGateway):
    """KMS could not seal or open a connection key (its error code is in the message)."""

    default_code = "key_service_failed"


def connection_context(connection_id: str) -> dict[str, str]:
    """The encryption context of the key in connection end ``connection_id``'s record."""
    return {_CONTEXT_CONNECTION: connection_id, _CONTEXT_RECORD: "connection"}


def tombstone_context(connection_id: str) -> dict[str, str]:
    """The encryption context of the key kept in deleted end ``connection_id``'s tombstone."""
    return {_CONTEXT_CONNECTION: connection_id, _CONTEXT_RECORD: "tombstone"}


def is_sealed(stored: str) -> bool:
    """Whether a stored key is sealed (else it is a legacy plaintext key)."""
    return stored.startswith(PREFIX)


class KeySealer:
    """Seals and opens connection keys with one KMS key; remembers what it opened."""

    def __init__(self, client: Any, key_id: str, *, cache_size: int = CACHE_SIZE) -> None:
        if not key_id:
            raise ValueError("a KMS key id is required to seal connection keys")
        self._client = client
        self._key_id = key_id
        self._cache_size = cache_size
        self._opened: OrderedDict[tuple[str, tuple[tuple[str, str], ...]], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def seal(self, key: bytes, context: Mapping[str, str]) -> str:
        """``kms1:<base64 ciphertext>`` of ``key``, only openable under ``context``."""
        try:
            answer = self._client.encrypt(
                KeyId=self._key_id, Plaintext=key, EncryptionContext=dict(context)
            )
        except Exception as exc:
            raise KeySealingError(_failure("seal", exc)) from exc
        stored = PREFIX + base64.b64encode(answer["CiphertextBlob"]).decode("ascii")
        self._remember(stored, context, key)
        return stored

    def open(self, stored: str, context: Mapping[str, str]) -> bytes:
        """The key sealed in ``stored`` under ``context``; KMS is asked once per value."""
        cache_key = (stored, tuple(sorted(context.items())))
        with self._lock:
            found = self._opened.get(cache_key)
            if found is not None:
                self._opened.move_to_end(cache_key)
                return found
        if not is_sealed(stored):
            raise ValueError("not a sealed connection key")
        try:
            blob = base64.b64decode(stored[len(PREFIX) :], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise KeySealingError("A stored connection key is damaged (not base64).") from exc
        try:
            answer = self._client.decrypt(
                CiphertextBlob=blob, EncryptionContext=dict(context), KeyId=self._key_id
            )
        except Exception as exc:
            raise KeySealingError(_failure("open", exc)) from exc
        key = bytes(answer["Plaintext"])
        self._remember(stored, context, key)
        return key

    def _remember(self, stored: str, context: Mapping[str, str], key: bytes) -> None:
        with self._lock:
            self._opened[(stored, tuple(sorted(context.items())))] = key
            while len(self._opened) > self._cache_size:
                self._opened.popitem(last=False)


def _failure(what: str, exc: Exception) -> str:
    """A message naming KMS's error code (never the key, never the ciphertext)."""
    code = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
    return (
        f"This node could not {what} a connection key with its KMS key ({code}); "
        "nothing was stored unsealed. Check TWINSYNC_KMS_KEY_ARN and the functions' "
        "kms:Encrypt/kms:Decrypt permission, then retry."
    )


_bound: KeySealer | None = None


def bind(sealer: KeySealer) -> None:
    """The composition root's sealer (:func:`chalicelib.root.root`), next to the tables."""
    global _bound
    _bound = sealer


def bound() -> KeySealer:
    """The bound sealer; before the root is built there is none (a programming error)."""
    if _bound is None:
        raise RuntimeError("no key sealer is bound: build the composition root first")
    return _bound
