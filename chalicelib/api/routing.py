"""The HTTP edge: parse a Chalice request once, authenticate it, map errors to the contract.

Every route of every blueprint is registered through :func:`json_route`, so the body size
cap, JSON parsing, authentication, the request body's check against the OpenAPI document
(:mod:`chalicelib.api.openapi`) and the ``TwinsyncError`` → response mapping live here and
nowhere else. Views receive an :class:`ApiRequest` and return plain data or a
:class:`Reply`; they never see Chalice objects.
"""

from __future__ import annotations

import json
import logging
import math
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
from chalice import Blueprint, Response
from msgspec.structs import replace

from chalicelib import json_input
from chalicelib.api import openapi
from chalicelib.api.middleware import JSON_TYPE
from chalicelib.config import ConfigError
from chalicelib.errors import (
    BadGateway,
    BadRequest,
    Conflict,
    PayloadTooLarge,
    TwinsyncError,
    UnsupportedMediaType,
)
from chalicelib.observability import logs, metrics
from chalicelib.queues import RetryLater
from chalicelib.root import Root, root
from chalicelib.structs import repr_without

log = logging.getLogger("twinsync.api")

DEFAULT_MAX_BODY = 1_048_576


class ApiRequest(msgspec.Struct, frozen=True):
    """One HTTP request as views see it: parsed once, immutable."""

    method: str
    path: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    raw_body: bytes
    root: Root
    principal: Any = None
    params: Mapping[str, str] = msgspec.field(default_factory=dict)  # the path's {parameters}
    _json: Any = None

    def __repr__(self) -> str:  # ``_json`` only repeats ``raw_body``, parsed
        return repr_without(self, omit=("_json",))

    def json(self) -> Any:
        """The body parsed as JSON (``None`` for an empty body)."""
        return self._json

    def json_object(self) -> dict[str, Any]:
        """The body, which must be a JSON object."""
        body = self._json
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise BadRequest("The body must be a JSON object.", code="invalid_body")
        return body


class Reply(msgspec.Struct, frozen=True):
    """A view's answer when the status or headers are not the default 200 JSON."""

    body: Any = None
    status: int = 200
    headers: Mapping[str, str] = msgspec.field(default_factory=dict)


Authenticator = Callable[[ApiRequest], Any]
View = Callable[..., Any]


def error_response(error: TwinsyncError, *, request_id: str | None = None) -> Response:
    """The contract's error body for ``error``: the only place errors become HTTP.

    A 5xx names the request (``error.request_id``): the id its log lines carry, so an
    operator finds what happened from what the client saw.
    """
    body = error.body()
    if error.status >= 500 and request_id:
        body["error"]["request_id"] = request_id
    headers: dict[str, str | list[str]] = {"Content-Type": JSON_TYPE}
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    return Response(body=json.dumps(body), status_code=error.status, headers=headers)


def _try_again(exc: RetryLater) -> TwinsyncError:
    """Work that a queue would retry, met inside a request: the caller retries instead.

    The twin is held by a sync under way (409 ``twin_busy``), or a remote is in trouble
    (502 ``try_again_later``); either way nothing was changed and ``Retry-After`` says when.
    """
    from chalicelib.sync.store import TwinBusy  # here: a route that holds no twin never loads it

    wait = max(1, math.ceil(exc.delay)) if exc.delay else 5
    if isinstance(exc, TwinBusy):
        error: TwinsyncError = Conflict(
            "The issue is being synced right now; try again in a few seconds.", code="twin_busy"
        )
    else:
        error = BadGateway(f"Try again shortly: {exc}", code="try_again_later")
    error.retry_after = wait
    return error


def _headers(given: Mapping[str, str]) -> dict[str, str | list[str]]:
    return dict(given)


def _json_response(reply: Reply) -> Response:
    headers = _headers({"Content-Type": JSON_TYPE, **reply.headers})
    if isinstance(reply.body, str) and "Content-Type" in reply.headers:  # e.g. JSON lines
        return Response(body=reply.body, status_code=reply.status, headers=_headers(reply.headers))
    if reply.status == 204 or (reply.body is None and reply.status != 200):
        return Response(body="", status_code=reply.status, headers=_headers(reply.headers))
    return Response(
        body=json.dumps(reply.body, separators=(",", ":")),
        status_code=reply.status,
        headers=headers,
    )


def _parse(
    current: Any,
    body_cap: Callable[[Root], int],
    principal_of: Authenticator | None,
    *,
    parse_json: bool,
    params: Mapping[str, str] | None = None,
) -> ApiRequest:
    node = _root()
    raw = current.raw_body or b""
    cap = body_cap(node)
    if len(raw) > cap:
        raise PayloadTooLarge(f"The body is {len(raw)} bytes; this node accepts at most {cap}.")
    headers = {k.lower(): v for k, v in (current.headers or {}).items()}
    query = dict(current.query_params or {})
    _check_text(headers, "header")
    _check_text(query, "query parameter")
    parsed: Any = None
    if parse_json and raw.strip():
        ctype = headers.get("content-type", "application/json").lower()
        if "json" not in ctype:
            raise UnsupportedMediaType(f"Send JSON (Content-Type: application/json), not {ctype}.")
        try:
            parsed = json_input.loads(raw)
        except json_input.UnsafeJson as exc:
            raise BadRequest(str(exc), code=exc.code) from exc
    request = ApiRequest(
        method=current.method,
        path=(current.context or {}).get("resourcePath", ""),
        headers=headers,
        query=query,
        raw_body=raw,
        root=node,
        params=dict(params or {}),
        _json=parsed,
    )
    if principal_of is None:
        return request
    return replace(request, principal=principal_of(request))


def _check_text(values: Mapping[str, Any], kind: str) -> None:
    """Header, query and path values must be Unicode too (a lone surrogate is a 400)."""
    for name, value in values.items():
        for text in (name, value) if isinstance(value, str) else (name,):
            try:
                json_input.check_text(text, f"The {kind} {name[:60]!r}")
            except json_input.UnsafeJson as exc:
                raise BadRequest(str(exc), code=exc.code, field=kind) from exc


def request_id_of(current: Any) -> str:
    """API Gateway's id of the request (what its access log and ``x-amzn-RequestId``
    show), or a fresh one where there is no gateway (the local server, tests)."""
    given = (getattr(current, "context", None) or {}).get("requestId")
    return str(given) if given else uuid.uuid4().hex


def node_max_body(node: Root) -> int:
    """The body cap the node's settings name."""
    return node.settings.max_body_bytes


def _root() -> Root:
    """The container's root, built before any route does work (misconfigured: a clear 500)."""
    try:
        return root()
    except ConfigError as exc:
        log.error("the stage is misconfigured: %s", exc)
        raise TwinsyncError("This node is not configured; its operator is told why.") from exc


def json_route(
    bp: Blueprint,
    path: str,
    methods: list[str],
    *,
    auth: Authenticator | None,
    max_body: Callable[[Root], int] = lambda node: DEFAULT_MAX_BODY,
    raw: bool = False,
) -> Callable[[View], View]:
    """Register ``view`` on ``bp`` behind parsing, ``auth`` and error mapping.

    ``raw=True`` skips JSON parsing for routes whose body must stay byte-exact (webhooks
    verify a signature over the raw body).
    """

    def decorator(view: View) -> View:
        def handler(**params: str) -> Response:
            current = bp.current_request
            request_id = request_id_of(current)
            with (
                logs.context(
                    request_id=request_id,
                    connection_id=params.get("cid"),
                    issue_key=params.get("key"),
                    job_id=params.get("job_id"),
                    trigger_id=params.get("tid"),
                ),
                metrics.collecting(),
            ):
                return _handle(current, view, params, request_id)

        def _handle(current: Any, view: View, params: dict[str, str], request_id: str) -> Response:
            try:
                _check_text(params, "path parameter")
                request = _parse(current, max_body, auth, parse_json=not raw, params=params)
                if not raw:  # after authentication: a stranger learns nothing from a 400
                    openapi.check_body(path, request.method, request.json())
                result = view(request, **params)
            except RetryLater as exc:
                log.warning("%s %s must be tried again: %s", current.method, path, exc)
                return error_response(_try_again(exc), request_id=request_id)
            except TwinsyncError as exc:
                if exc.status >= 500:  # a remote's failure (502) is not this node's error
                    level = logging.ERROR if exc.status == 500 else logging.WARNING
                    log.log(level, "%s %s failed: %s", current.method, path, exc.message)
                return error_response(exc, request_id=request_id)
            except Exception:
                log.exception("unhandled error on %s %s", current.method, path)
                return error_response(
                    TwinsyncError("An internal error occurred; it is logged."),
                    request_id=request_id,
                )
            reply = result if isinstance(result, Reply) else Reply(body=result)
            return _json_response(reply)

        handler.__name__ = view.__name__
        handler.__module__ = view.__module__  # the route table names the view's module
        handler.__doc__ = view.__doc__
        content_types = (
            None if not raw else ["application/json", "application/x-www-form-urlencoded"]
        )
        kwargs: dict[str, Any] = {"methods": methods}
        if content_types:
            kwargs["content_types"] = content_types
        bp.route(path, **kwargs)(handler)
        return view

    return decorator
