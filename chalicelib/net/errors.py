"""Errors of outbound calls; callers translate them into the API's error tree at their edge.

    OutboundError
    ├── UrlNotAllowed     the guard refused the URL before any connection (scheme, form, address)
    ├── Unreachable       no usable answer: DNS, connect, TLS, timeout, redirect, too big, 5xx
    │   └── NotTwinsync   an answer came, but not one a Twinsync node gives
    └── PeerRefused       the peer answered with a contract error (4xx): its status, code, message

Messages never contain secrets: URLs carry no credentials (the guard refuses userinfo), and
no request or response body is quoted.
"""

from __future__ import annotations


class OutboundError(Exception):
    """Base of every failure of an outbound call."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UrlNotAllowed(OutboundError):
    """The URL may not be called from this node (see ``chalicelib.net.ssrf``)."""


class Unreachable(OutboundError):
    """The remote gave no usable answer; the same call may work later."""


class NotTwinsync(Unreachable):
    """The remote answered, but not as a Twinsync node does."""


class PeerRefused(OutboundError):
    """The peer refused the call with a contract error body."""

    def __init__(self, message: str, *, status: int, code: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.field = field
