"""The console's session: a sealed cookie, and the CSRF token that goes with it.

Signing in with the node's admin token gives a cookie that holds, sealed with AES-GCM
(authenticated encryption), ``{token, csrf, expires}``: the console's server side needs the
token to call the admin API on the administrator's behalf (:mod:`chalicelib.console.client`)
and the node stores no sessions. The token is never in the cookie in clear, nor in a page or
a log line. The sealing key is derived (HKDF-SHA256) from the stage's admin token hash and
webhook secret, so changing the admin token ends every session.

CSRF: every state-changing request carries the session's ``csrf`` value (a hidden form
field, or the ``X-CSRF-Token`` header htmx sends) and it is compared in constant time. The
sign-in form itself, before there is a session, is protected by a double-submit value (a
short-lived cookie equal to a hidden field).

Limits, by design: a stolen cookie is a session until it expires (``SESSION_SECONDS``) or
the admin token changes; signing out deletes the cookie from the browser.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import secrets
import time

import msgspec

from chalicelib.config import Settings
from chalicelib.structs import repr_without

SESSION_COOKIE = "twinsync_console"
SIGNIN_COOKIE = "twinsync_console_signin"
SESSION_SECONDS = 8 * 3600
SIGNIN_SECONDS = 30 * 60
_VERSION = b"v1"
_INFO = b"twinsync console session v1"


class Session(msgspec.Struct, frozen=True):
    """One signed-in administrator: the token (for the API calls) and the CSRF value."""

    token: str
    csrf: str
    expires: int

    def __repr__(self) -> str:
        return repr_without(self, secret=("token", "csrf"))


def session_key(settings: Settings) -> bytes:
    """The sealing key: HKDF over the stage's secrets, never stored anywhere."""
    # cryptography is large: the console's requests load it, other functions' cold starts not
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    material = bytes.fromhex(settings.admin_token_sha256) + settings.webhook_secret.encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(material)


def new_session(token: str, *, now: float | None = None) -> Session:
    moment = int(time.time() if now is None else now)
    return Session(token=token, csrf=secrets.token_urlsafe(32), expires=moment + SESSION_SECONDS)


def seal(session: Session, key: bytes) -> str:
    """The cookie's value: base64url(nonce + AES-GCM(JSON)), bound to the version."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    plain = json.dumps({"t": session.token, "c": session.csrf, "e": session.expires}).encode()
    sealed = AESGCM(key).encrypt(nonce, plain, _VERSION)
    return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def unseal(value: str | None, key: bytes, *, now: float | None = None) -> Session | None:
    """The session a cookie holds, or ``None`` (absent, altered, sealed by another key, expired)."""
    if not value or len(value) > 4096:
        return None
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        plain = AESGCM(key).decrypt(raw[:12], raw[12:], _VERSION)
        data = json.loads(plain)
        session = Session(token=str(data["t"]), csrf=str(data["c"]), expires=int(data["e"]))
    except (ValueError, InvalidTag, KeyError, TypeError):
        return None
    moment = time.time() if now is None else now
    return session if session.expires > moment else None


def same_secret(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a submitted CSRF value with the expected one."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def new_signin_nonce() -> str:
    return secrets.token_urlsafe(24)
