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

This module is pure: the clock is a parameter, and time claims are checked here so that
tests and both ends agree on one ``now``.

Tokens are made and checked here with the standard library (HMAC-SHA256 over the compact
serialization, RFC 7515/7519), not PyJWT: importing PyJWT imports ``cryptography``'s
asymmetric algorithms, about 0.3x of a bare ``import chalice, boto3``, on the first call of
every function that a peer calls or that calls a peer, for an algorithm (HS256) that needs
none of it (issue 19, cold start). What is accepted is narrower than PyJWT's decode with
the same options: exactly three base64url segments, a header whose ``alg`` is ``HS256``
and that names no critical extension, a JSON object as payload; the tests check both ways
against PyJWT (``tests/unit/connections/test_tokens.py``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import time
from typing import Any

import msgspec

from chalicelib.errors import Forbidden, Unauthorized

ALGORITHM = "HS256"
MAX_LIFETIME_SECONDS = 300
DEFAULT_LIFETIME_SECONDS = 120
LEEWAY_SECONDS = 30
_REQUIRED = ("iss", "aud", "cid", "iat", "exp", "jti")
BODY_CLAIM = "bsh"
_DIGEST = re.compile(r"[A-Za-z0-9_-]{43}")  # 32 bytes, base64url without padding
_HEADER = {"alg": ALGORITHM, "typ": "JWT"}
_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")  # base64url, no padding (fullmatch)


class _Invalid(Exception):
    """A token that is not a well-formed, correctly signed HS256 JWT (or lacks a claim)."""


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(segment: str) -> bytes:
    if not _SEGMENT.fullmatch(segment):
        raise _Invalid("DecodeError")
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise _Invalid("DecodeError") from exc


def _json_object(segment: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64decode(segment))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _Invalid("DecodeError") from exc
    if not isinstance(value, dict):
        raise _Invalid("DecodeError")
    return value


def _segments(token: str) -> tuple[str, str, str]:
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3 or not all(_SEGMENT.fullmatch(part) for part in parts):
        raise _Invalid("DecodeError")
    return parts[0], parts[1], parts[2]


def _signature(key: bytes, signing_input: str) -> bytes:
    return hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()


def _decode(token: str, key: bytes) -> dict[str, Any]:
    """The payload of an HS256 token signed with ``key``; ``_Invalid`` otherwise."""
    header_segment, payload_segment, signature_segment = _segments(token)
    header = _json_object(header_segment)
    if header.get("alg") != ALGORITHM or "crit" in header:
        raise _Invalid("InvalidAlgorithmError")
    expected = _signature(key, f"{header_segment}.{payload_segment}")
    if not hmac.compare_digest(expected, _b64decode(signature_segment)):
        raise _Invalid("InvalidSignatureError")
    return _json_object(payload_segment)


def _encode(payload: dict[str, Any], key: bytes) -> str:
    header = _b64encode(json.dumps(_HEADER, separators=(",", ":"), sort_keys=True).encode())
    body = _b64encode(json.dumps(payload, separators=(",", ":")).encode())
    signature = _b64encode(_signature(key, f"{header}.{body}"))
    return f"{header}.{body}.{signature}"


class Claims(msgspec.Struct, frozen=True):
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
    return _encode(payload, key)


def unverified_connection_id(token: str) -> str | None:
    """The ``cid`` a token claims, before verification (only to pick the key to verify with)."""
    try:
        claims = _json_object(_segments(token)[1])
    except _Invalid:
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
    current = time.time() if now is None else now
    try:
        claims = _decode(token, key)
        missing = [name for name in _REQUIRED if claims.get(name) is None]
        if missing:
            raise _Invalid("MissingRequiredClaimError")
    except _Invalid as exc:
        raise Unauthorized(
            f"The token is not valid for this connection ({exc}).", code="invalid_token"
        ) from exc
    addressed = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if not all(isinstance(a, str) for a in addressed) or audience not in addressed:
        raise Unauthorized("The token is addressed to another node.", code="invalid_token")
    if not isinstance(claims["iss"], str) or (issuer is not None and claims["iss"] != issuer):
        raise Unauthorized(
            "The token was not issued by this connection's other end.", code="invalid_token"
        )
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
