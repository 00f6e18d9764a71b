"""Key material of a connection: the invitation secret, the connection key, the handshake proof.

Wire contract v1 (both ends compute the same values; a partner implementation must too):

- invitation secret: 32 random bytes, travelling only inside the invitation code;
  the initiator stores ``sha256(secret)`` (hex) on the invitation, never the secret.
- connection key: ``HKDF-SHA256(ikm=secret, salt=none, info=connection_id as UTF-8,
  length=32)``; it signs the node API's JWTs (HS256) and is never sent.
- handshake proof: ``hex(HMAC-SHA256(connection key, "twinsync-handshake-v1\\n" +
  invitation_id + "\\n" + connection_id + "\\n" + acceptor node id))``: the acceptor proves it
  holds the secret without sending it, bound to its own node id so a proof cannot be reused
  by another node.
- terms proof (an addition, issue 13): ``hex(HMAC-SHA256(connection key,
  "twinsync-terms-v1\n" + invitation_id + "\n" + payload))`` where ``payload`` is the code's
  base64url part exactly as issued. The initiator keeps it on the invitation when it issues
  the code; the acceptor computes it from the code it was handed and sends it in the
  handshake, so a code whose terms (mode, names, description, URL, expiry) were re-encoded
  on the way is refused by the node that issued it. (Anyone holding the code could compute
  a MAC keyed from its secret, so the code cannot vouch for itself: only the issuer can.)

Keys are stored sealed under the tenant's KMS key (:mod:`chalicelib.connections.sealing`);
records written before that hold them base64url-encoded without padding (:func:`encode_key`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_BYTES = 32
KEY_BYTES = 32
_PROOF_LABEL = "twinsync-handshake-v1"
_TERMS_LABEL = "twinsync-terms-v1"


def new_secret() -> bytes:
    """A fresh invitation secret."""
    return secrets.token_bytes(SECRET_BYTES)


def secret_digest(secret: bytes) -> str:
    """What the initiator keeps of the secret: its SHA-256, hex."""
    return hashlib.sha256(secret).hexdigest()


def derive_connection_key(secret: bytes, connection_id: str) -> bytes:
    """The connection key both ends derive from the invitation secret."""
    if len(secret) != SECRET_BYTES:
        raise ValueError(f"the invitation secret must be {SECRET_BYTES} bytes")
    if not connection_id:
        raise ValueError("the connection id is required")
    # cryptography is large: loaded when a key is derived, not by every function's cold start
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=None,
        info=connection_id.encode("utf-8"),
    )
    return hkdf.derive(secret)


def handshake_proof(key: bytes, invitation_id: str, connection_id: str, acceptor_id: str) -> str:
    """The acceptor's proof that it knows the invitation secret (through the derived key)."""
    message = "\n".join((_PROOF_LABEL, invitation_id, connection_id, acceptor_id))
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def proof_matches(
    key: bytes, proof: str, invitation_id: str, connection_id: str, acceptor_id: str
) -> bool:
    """Constant-time check of a handshake proof."""
    expected = handshake_proof(key, invitation_id, connection_id, acceptor_id)
    return hmac.compare_digest(expected.encode(), str(proof).encode())


def terms_proof(key: bytes, invitation_id: str, payload: str) -> str:
    """The MAC of a code's payload (its terms) as issued; see the module docstring."""
    message = "\n".join((_TERMS_LABEL, invitation_id, payload))
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def terms_match(key: bytes, proof: str, invitation_id: str, payload: str) -> bool:
    """Constant-time check of a terms proof."""
    expected = terms_proof(key, invitation_id, payload)
    return hmac.compare_digest(expected.encode(), str(proof).encode())


def encode_key(key: bytes) -> str:
    """Storage form of a key: base64url without padding."""
    return base64.urlsafe_b64encode(key).rstrip(b"=").decode("ascii")


def decode_key(text: str) -> bytes:
    """Inverse of :func:`encode_key`."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
