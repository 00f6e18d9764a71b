"""The one error tree of Twinsync's API surface.

Every error a caller can see is a ``TwinsyncError`` subclass carrying its HTTP status and a
stable snake_case ``code``; ``chalicelib.api.routing`` turns it into the contract's JSON
body in exactly one place. Domain code raises these (or wraps lower errors into them with
``raise ... from``); it never builds HTTP responses itself.

    TwinsyncError
    ├── BadRequest (400)        invalid input; ``field`` names the culprit
    ├── Unauthorized (401)      missing or wrong credentials
    ├── Forbidden (403)         credentials fine, action not allowed
    ├── NotFound (404)
    ├── MethodNotAllowed (405)
    ├── Conflict (409)          state does not allow it (already exists, private node...)
    ├── Gone (410)
    ├── PayloadTooLarge (413)
    ├── UnsupportedMediaType (415)
    ├── Unprocessable (422)     well-formed but refused by a rule
    └── BadGateway (502)        a remote (peer, tracker) failed; safe to retry
"""

from __future__ import annotations

from typing import Any


class TwinsyncError(Exception):
    """Base of every error with a place in the wire contract."""

    status = 500
    default_code = "internal_error"
    retry_after: int | None = None  # seconds, sent as ``Retry-After`` when set

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.field = field

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            error["field"] = self.field
        return {"error": error}


class BadRequest(TwinsyncError):
    """The request is malformed or a value is invalid."""

    status = 400
    default_code = "invalid_request"


class Unauthorized(TwinsyncError):
    """No credentials, or wrong ones."""

    status = 401
    default_code = "unauthorized"


class Forbidden(TwinsyncError):
    """The caller is known but may not do this."""

    status = 403
    default_code = "forbidden"


class NotFound(TwinsyncError):
    """No such resource."""

    status = 404
    default_code = "not_found"


class MethodNotAllowed(TwinsyncError):
    """The resource exists but not with this method."""

    status = 405
    default_code = "method_not_allowed"


class Conflict(TwinsyncError):
    """The current state does not allow the request."""

    status = 409
    default_code = "conflict"


class Gone(TwinsyncError):
    """The resource existed and is gone for good."""

    status = 410
    default_code = "gone"


class PayloadTooLarge(TwinsyncError):
    """The body is over the size this node accepts."""

    status = 413
    default_code = "payload_too_large"


class UnsupportedMediaType(TwinsyncError):
    """The body is not JSON."""

    status = 415
    default_code = "unsupported_media_type"


class Unprocessable(TwinsyncError):
    """Well-formed, but a rule refuses it."""

    status = 422
    default_code = "unprocessable"


class BadGateway(TwinsyncError):
    """A remote system (the peer node, the tracker) failed; the caller may retry."""

    status = 502
    default_code = "remote_failed"
