"""The console's session: half in the browser's cookie, half kept by the node; and CSRF.

Signing in with the node's admin token starts a session. The console's server side needs
the token to call the admin API on the administrator's behalf
(:mod:`chalicelib.console.client`), and neither the browser nor the node may hold it in
clear, so the token is split in two (a one-time pad):

- the cookie holds a random session id and the token XOR a random pad of its length;
- the node keeps, under the SHA-256 of the session id, the pad, the session's CSRF value
  and its end (:mod:`chalicelib.store.console_sessions`).

Either half alone tells nothing about the token: not a copied cookie, not a read of the
table. A request's session is the two halves joined, and only while the joined token's
SHA-256 is the stage's admin token hash, so changing the admin token ends every session.
Signing out deletes the node's half: a cookie copied before opens nothing after. The
standard library does all of it; a console's cold start loads no cipher (issue 19).

CSRF: every state-changing request carries the session's ``csrf`` value (a hidden form
field, or the ``X-CSRF-Token`` header htmx sends) and it is compared in constant time. The
sign-in form itself, before there is a session, is protected by a double-submit value (a
short-lived cookie equal to a hidden field).

Limits, by design: a stolen cookie is a session until it is signed out, expires
(``SESSION_SECONDS``) or the admin token changes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time

import msgspec

from chalicelib.structs import repr_without

SESSION_COOKIE = "twinsync_console"
SIGNIN_COOKIE = "twinsync_console_signin"
SESSION_SECONDS = 8 * 3600
SIGNIN_SECONDS = 30 * 60
# the cookie carries the token's half: a longer token would make a cookie that browsers drop
MAX_TOKEN_BYTES = 1024
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)


class Session(msgspec.Struct, frozen=True):
    """One signed-in administrator: the token (for the API calls) and the CSRF value."""

    token: str
    csrf: str
    expires: int
    record: str  # the SHA-256 of the session id: names the node's half (to sign out)

    def __repr__(self) -> str:
        return repr_without(self, secret=("token", "csrf"))


class Started(msgspec.Struct, frozen=True):
    """A new session: the cookie's value for the browser, and the half the node keeps."""

    cookie: str
    record: str
    csrf: str
    pad: bytes
    expires: int

    def __repr__(self) -> str:
        return repr_without(self, secret=("cookie", "csrf", "pad"))


def start(token: str, *, now: float | None = None) -> Started:
    """Split ``token`` between a new cookie and the node's record of the session."""
    plain = token.encode("utf-8")
    if not plain or len(plain) > MAX_TOKEN_BYTES:
        raise ValueError(f"a console session holds a token of 1 to {MAX_TOKEN_BYTES} bytes")
    session_id = secrets.token_urlsafe(32)
    pad = secrets.token_bytes(len(plain))
    moment = int(time.time() if now is None else now)
    return Started(
        cookie=f"{session_id}.{_b64(_xor(plain, pad))}",
        record=_record(session_id),
        csrf=secrets.token_urlsafe(32),
        pad=pad,
        expires=moment + SESSION_SECONDS,
    )


def record_of(cookie: str | None) -> str | None:
    """The record a session cookie names, or ``None`` when it is no session cookie."""
    if not cookie or len(cookie) > 4096:
        return None
    session_id, _, _ = cookie.partition(".")
    return _record(session_id) if _SESSION_ID.fullmatch(session_id) else None


def join(
    cookie: str,
    *,
    csrf: str,
    pad: bytes,
    expires: int,
    admin_token_sha256: str,
    now: float | None = None,
) -> Session | None:
    """The session of a cookie and the node's half of it, or ``None`` (altered, expired, or
    the admin token changed since)."""
    record = record_of(cookie)
    if record is None or expires <= (time.time() if now is None else now):
        return None
    try:
        masked = base64.urlsafe_b64decode(_padded(cookie.partition(".")[2]))
    except (binascii.Error, ValueError):
        return None
    if len(masked) != len(pad):
        return None
    plain = _xor(masked, pad)
    if not hmac.compare_digest(hashlib.sha256(plain).hexdigest(), admin_token_sha256):
        return None
    return Session(token=plain.decode("utf-8"), csrf=csrf, expires=expires, record=record)


def same_secret(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a submitted CSRF value with the expected one."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def new_signin_nonce() -> str:
    return secrets.token_urlsafe(24)


def _record(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("ascii")).hexdigest()


def _xor(data: bytes, pad: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, pad, strict=True))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _padded(text: str) -> bytes:
    return (text + "=" * (-len(text) % 4)).encode("ascii")
