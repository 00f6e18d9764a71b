"""Per-connection JWTs: how one end of a connection authenticates to the other's node API.

Wire contract v1: ``Authorization: Bearer <JWT>``, HS256 signed with the connection key;
claims ``iss`` (sender node id), ``aud`` (receiver node id), ``cid`` (connection id), ``iat``,
``exp`` (at most 5 minutes after ``iat``) and a unique ``jti``. The receiver refuses a
``jti`` it has seen (:mod:`chalicelib.connections.replay`).

An addition (issue 19): a call with a body also claims ``bsh``, the body's SHA-256
(base64url, no padding: :func:`body_digest`). A route whose call may be repeated
harmlessly (the replica push) then accepts the token for that body only and records no
``jti``: a replay can only repeat the same idempotent request. Other routes, and tokens
without the claim (older peers), keep the ``jti`` record.

This module is pure: the clock is a parameter, and time claims are checked here (not by
PyJWT) so that tests and both ends agree on one ``now``.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from chalicelib.errors import Forbidden, Unauthorized

ALGORITHM = "HS256"
MAX_LIFETIME_SECONDS = 300
DEFAULT_LIFETIME_SECONDS = 120
LEEWAY_SECONDS = 30
_REQUIRED = ("iss", "aud", "cid", "iat", "exp", "jti")
BODY_CLAIM = "bsh"
_DIGEST = re.compile(r"[A-Za-z0-9_-]{43}")  # 32 bytes, base64url without padding


@dataclass(frozen=True)
class Claims:
    """A verified token's claims."""

    issuer: str
    audience: str
    connection_id: str
    issued_at: int
    expires_at: int
    jti: str
    body_sha256: str | None = None  # ``bsh``: the token was made for this body only


def body_digest(body: bytes) -> str:
    """The ``bsh`` claim of a call with ``body``: its SHA-256, base64url without padding."""
    digest = hashlib.sha256(body).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def issue_token(
    key: bytes,
    *,
    issuer: str,
    audience: str,
    connection_id: str,
    now: float | None = None,
    lifetime: int = DEFAULT_LIFETIME_SECONDS,
    body: bytes | None = None,
) -> str:
    """A fresh token for one call to the other end's node API (``body``: the bytes the
    call sends, bound to the token by the ``bsh`` claim)."""
    if not 0 < lifetime <= MAX_LIFETIME_SECONDS:
        raise ValueError(f"lifetime must be 1..{MAX_LIFETIME_SECONDS} seconds")
    issued = int(time.time() if now is None else now)
    payload = {
        "iss": issuer,
        "aud": audience,
        "cid": connection_id,
        "iat": issued,
        "exp": issued + lifetime,
        "jti": secrets.token_urlsafe(18),
    }
    if body is not None:
        payload[BODY_CLAIM] = body_digest(body)
    import jwt  # PyJWT loads cryptography: only functions that talk to a peer pay for it

    return jwt.encode(payload, key, algorithm=ALGORITHM)


def unverified_connection_id(token: str) -> str | None:
    """The ``cid`` a token claims, before verification (only to pick the key to verify with)."""
    import jwt

    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    cid = claims.get("cid")
    return cid if isinstance(cid, str) else None


def verify_token(
    token: str,
    key: bytes,
    *,
    audience: str,
    issuer: str | None,
    connection_id: str,
    now: float | None = None,
) -> Claims:
    """Check signature, claims and times; raise ``Unauthorized``/``Forbidden`` with a code.

    ``issuer`` None: any sender holding the key (an end that has not learnt its other end's
    node id yet); ``iss`` is still required.
    """
    import jwt

    current = time.time() if now is None else now
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={
                "require": list(_REQUIRED),
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.InvalidAudienceError as exc:
        raise Unauthorized("The token is addressed to another node.", code="invalid_token") from exc
    except jwt.InvalidIssuerError as exc:
        raise Unauthorized(
            "The token was not issued by this connection's other end.", code="invalid_token"
        ) from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized(
            f"The token is not valid for this connection ({type(exc).__name__}).",
            code="invalid_token",
        ) from exc
    checked = _checked_claims(claims, current)
    if checked.connection_id != connection_id:
        raise Forbidden(
            "The token was issued for another connection.", code="token_connection_mismatch"
        )
    return checked


def _checked_claims(claims: dict[str, Any], now: float) -> Claims:
    iat, exp, jti, cid = claims["iat"], claims["exp"], claims["jti"], claims["cid"]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (iat, exp)):
        raise Unauthorized("The token's iat and exp must be whole seconds.", code="invalid_token")
    if not isinstance(jti, str) or not 8 <= len(jti) <= 128:
        raise Unauthorized("The token's jti must be 8-128 characters.", code="invalid_token")
    if not isinstance(cid, str) or not cid:
        raise Unauthorized("The token's cid is missing.", code="invalid_token")
    if exp - iat > MAX_LIFETIME_SECONDS or exp <= iat:
        raise Unauthorized(
            f"The token may live at most {MAX_LIFETIME_SECONDS} seconds.", code="invalid_token"
        )
    if iat > now + LEEWAY_SECONDS:
        raise Unauthorized(
            "The token was issued in the future; check the sender's clock.", code="invalid_token"
        )
    if exp <= now - LEEWAY_SECONDS:
        raise Unauthorized("The token has expired; send a fresh one.", code="token_expired")
    digest = claims.get(BODY_CLAIM)
    if digest is not None and not (isinstance(digest, str) and _DIGEST.fullmatch(digest)):
        raise Unauthorized(
            f"The token's {BODY_CLAIM} must be a SHA-256 in base64url.", code="invalid_token"
        )
    return Claims(
        issuer=str(claims["iss"]),
        audience=str(claims["aud"]),
        connection_id=cid,
        issued_at=iat,
        expires_at=exp,
        jti=jti,
        body_sha256=digest,
    )


def binds_body(claims: Claims, body: bytes) -> bool:
    """Was the token made for exactly ``body``? (False when it names no body.)"""
    return claims.body_sha256 is not None and secrets.compare_digest(
        claims.body_sha256, body_digest(body)
    )
