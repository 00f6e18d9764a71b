"""The console's one way to act: the admin API, called in-process.

:class:`AdminClient` turns a call (method, path, JSON body) into the API Gateway event a
real client's request would become and hands it to the same Chalice app, so it goes
through the same routing, middleware and ``json_route`` views as a curl call: the same
authentication (the administrator's own token, from the session), the same validation,
the same refusals and the same audit entries. Nothing the console does bypasses the
contract; the console only turns answers into pages.

The outer (console) request stays what the app serves: the app's ``current_request`` and
``lambda_context`` are put back after each call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import msgspec
from chalice import Chalice

from chalicelib.structs import repr_without


class ApiAnswer(msgspec.Struct, frozen=True):
    """What the admin API answered: status, parsed JSON body (or ``None``)."""

    status: int
    body: Any = None
    headers: Mapping[str, str] = msgspec.field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def next_cursor(self) -> str | None:
        """The ``cursor`` of the next page, from ``Link: <…>; rel="next"`` (or ``None``)."""
        link = next((v for k, v in self.headers.items() if k.lower() == "link"), "")
        for part in link.split(","):
            found = re.match(r'\s*<([^>]*)>\s*;\s*rel="?next"?', part)
            if found:
                cursor = parse_qs(urlsplit(found.group(1)).query).get("cursor")
                return cursor[0] if cursor else None
        return None

    @property
    def code(self) -> str | None:
        """The contract's error code of a refusal."""
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return str(self.body["error"].get("code"))
        return None

    @property
    def field(self) -> str | None:
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            value = self.body["error"].get("field")
            return str(value) if value else None
        return None

    @property
    def message(self) -> str:
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return str(self.body["error"].get("message") or "")
        return ""


class _Route(msgspec.Struct, frozen=True):
    template: str
    pattern: re.Pattern[str]
    names: tuple[str, ...]


@lru_cache(maxsize=8)
def _routes(app_id: int, templates: tuple[str, ...]) -> tuple[_Route, ...]:
    compiled = []
    for template in templates:
        names = tuple(re.findall(r"\{(\w+)\}", template))
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        compiled.append(_Route(template, re.compile(f"^{regex}$"), names))
    # literal routes before templated ones (/connections/x before /connections/{cid})
    return tuple(sorted(compiled, key=lambda r: (len(r.names), -len(r.template))))


class AdminClient(msgspec.Struct):
    """The admin API of ``app``, called as the holder of ``token``."""

    app: Chalice
    token: str
    request_id: str = "console"

    def __repr__(self) -> str:
        return repr_without(self, secret=("token",))

    def get(self, path: str, **query: str) -> ApiAnswer:
        return self.call("GET", path, query=query)

    def post(self, path: str, body: Any = None) -> ApiAnswer:
        return self.call("POST", path, body=body if body is not None else {})

    def call(
        self, method: str, path: str, *, body: Any = None, query: dict[str, str] | None = None
    ) -> ApiAnswer:
        if not path.startswith("/api/"):
            raise ValueError(f"the console calls only the admin API, not {path}")
        route, params = self._match(path)
        if route is None:
            return ApiAnswer(404, {"error": {"code": "not_found", "message": "No such endpoint."}})
        event = self._event(method, path, route.template, params, body, query or {})
        saved_request = getattr(self.app, "current_request", None)
        saved_context = getattr(self.app, "lambda_context", None)
        try:
            answer = self.app(event, saved_context)
        finally:
            self.app.current_request = saved_request
            self.app.lambda_context = saved_context  # type: ignore[assignment]
        text = answer.get("body") or ""
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        headers = {str(k): str(v) for k, v in (answer.get("headers") or {}).items()}
        return ApiAnswer(int(answer.get("statusCode", 500)), parsed, headers)

    def _match(self, path: str) -> tuple[_Route | None, dict[str, str]]:
        for route in _routes(id(self.app), tuple(self.app.routes)):
            found = route.pattern.match(path)
            if found:
                return route, {k: unquote(v) for k, v in found.groupdict().items()}
        return None, {}

    def _event(
        self,
        method: str,
        path: str,
        template: str,
        params: dict[str, str],
        body: Any,
        query: dict[str, str],
    ) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {self.token}", "accept": "application/json"}
        raw = None
        if body is not None:
            raw = json.dumps(body)
            headers["content-type"] = "application/json"
        return {
            "resource": template,
            "path": path,
            "httpMethod": method,
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} or None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": {
                "resourcePath": template,
                "httpMethod": method,
                "path": path,
                "requestId": self.request_id,
            },
            "body": raw,
            "isBase64Encoded": False,
        }


def api_path(*parts: str) -> str:
    """``/api/v1/`` joined with path segments, each quoted (a key or id is one segment)."""
    return "/api/v1/" + "/".join(quote(p, safe="") for p in parts)
