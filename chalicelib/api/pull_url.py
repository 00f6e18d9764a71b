"""The private peer's pull, answered by a small function of its own behind a function URL.

A private node spends most of its time in one long poll on the public side's outbox. Held
by ``api_handler`` (512 MB, behind API Gateway) that costs more than the rest of the
node's polling together (issue 19, bench/private_latency.py); here the same routes are
answered by ``outbox_poll`` (128 MB, a Lambda function URL, no API Gateway charge).

Only the calls a polling peer makes are served: ``GET …/outbox``, ``POST …/outbox/ack``
and ``GET …/twin-status``. Each is handed to the app's own route, as API Gateway would
hand it to ``api_handler``, so the view, its peer authentication (a fresh per-connection
JWT, :mod:`chalicelib.api.peer_auth`), its checks and its error answers are exactly the
ones behind the API; anything else is the contract's ``404 not_found`` without running a
view. The URL is advertised to the peer in the outbox answer (``outbox_url``); an older
peer never learns it and keeps pulling through the API.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

from chalicelib.api.routing import JSON_TYPE

CID = "/node/v1/connections/{cid}"
# (method, what follows the connection id) -> the route it is on the API
ROUTES = {
    ("GET", "outbox"): CID + "/outbox",
    ("POST", "outbox/ack"): CID + "/outbox/ack",
    ("GET", "twin-status"): CID + "/twin-status",
}
_PATH = re.compile(
    r"^/node/v1/connections/(?P<cid>[^/]+)/(?P<tail>outbox|outbox/ack|twin-status)/?$"
)

NOT_FOUND = {
    "error": {"code": "not_found", "message": "This URL only answers a private peer's pull."}
}

# The app (a Chalice app): called with an API Gateway REST proxy event, as api_handler is.
RestApp = Callable[[dict[str, Any], Any], dict[str, Any]]


def rest_event(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """The API Gateway proxy event for a function URL event (payload 2.0) on one of the
    pull routes; ``None`` for any other method or path."""
    http = event.get("requestContext", {}).get("http", {})
    method = str(http.get("method", "")).upper()
    match = _PATH.match(str(event.get("rawPath") or http.get("path") or ""))
    if match is None or (method, match["tail"]) not in ROUTES:
        return None
    resource = ROUTES[(method, match["tail"])]
    cid = unquote(match["cid"])
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    query = dict(event.get("queryStringParameters") or {})
    request_id = str(event.get("requestContext", {}).get("requestId") or uuid.uuid4().hex)
    return {
        "resource": resource,
        "path": resource.replace("{cid}", cid),
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} or None,
        "pathParameters": {"cid": cid},
        "stageVariables": None,
        "body": event.get("body"),
        "isBase64Encoded": bool(event.get("isBase64Encoded")),
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": resource.replace("{cid}", cid),
            "requestId": request_id,
            "stage": "url",
        },
    }


def url_response(response: Mapping[str, Any]) -> dict[str, Any]:
    """A function URL answer from the app's API Gateway proxy answer (single headers)."""
    headers = {str(k): str(v) for k, v in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[str(name)] = ", ".join(str(v) for v in values)
    return {
        "statusCode": int(response.get("statusCode", 500)),
        "headers": headers,
        "body": response.get("body") or "",
        "isBase64Encoded": bool(response.get("isBase64Encoded")),
    }


def handle(app: RestApp, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """``outbox_poll``: one function URL request, served by the app's own pull route."""
    rest = rest_event(event)
    if rest is None:
        return {
            "statusCode": 404,
            "headers": {"Content-Type": JSON_TYPE},
            "body": json.dumps(NOT_FOUND),
            "isBase64Encoded": False,
        }
    return url_response(app(rest, context))
