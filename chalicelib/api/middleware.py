"""Chalice's own error answers in the contract's shape: the app's one HTTP middleware.

Apart from :mod:`chalicelib.api.routing` so that ``app.py`` registers it without
importing what the views need (cold start, :mod:`chalicelib.lazy_routes`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from chalice import Response

JSON_TYPE = "application/json; charset=utf-8"

_CHALICE_ERRORS = {
    405: ("method_not_allowed", "This path does not accept that method."),
    415: ("unsupported_media_type", "Send JSON (Content-Type: application/json)."),
    500: ("internal_error", "An internal error occurred; it is logged."),
}


def contract_errors(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """Chalice middleware: rewrite Chalice's own error bodies into the contract's shape.

    Chalice answers 405, 415 and unhandled errors itself, before or after our views; this
    keeps every error a client sees in one shape.
    """
    response = get_response(event)
    body = response.body
    if response.status_code in _CHALICE_ERRORS and isinstance(body, dict) and "Code" in body:
        code, message = _CHALICE_ERRORS[response.status_code]
        if response.status_code == 405:
            message = f"{message} Allowed: {response.headers.get('Allow', '')}."
        response.body = json.dumps({"error": {"code": code, "message": message}})
        response.headers["Content-Type"] = JSON_TYPE
    return response
