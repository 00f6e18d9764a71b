"""Every answer a test receives from a node, checked against the node's OpenAPI document.

The document (``chalicelib/api/openapi.yaml``) is the contract; this module is how the test
suite holds the code to it. The clients the tests use report each answer here:

- the functional tier's Chalice test client (``TestHTTPClient.request``, which
  ``Cluster.admin``/``Cluster.raw``, the ``client`` fixture and the cluster's node-to-node
  router all go through), wrapped once per session in ``tests/conftest.py``;
- the stack tier's clients (``tests/stack/conftest.py``: ``NodeClient`` and
  :func:`checked_session`), through a ``requests`` response hook.

Each answer is matched to its operation (method and path template), then its status must
be one the operation documents (or one every operation may give: 405, 413, 415, 500), its
body must fit that response's schema, and a body must be JSON (or JSON lines where the
operation says so). What does not fit is kept in :data:`PROBLEMS`; ``tests/conftest.py``
fails the test that received it. Paths the document does not know (a probe of
``/nonexistent``) are not the contract's business and are left alone; the route/document
parity test makes sure no route of the app is missing from the document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import unquote, urlsplit

import jsonschema

from chalicelib.api import openapi

# Answers any operation may give (the document's info.description says so); the body is
# the contract's error.
COMMON_ERRORS = frozenset({405, 413, 415, 500})


@dataclass(frozen=True)
class Problem:
    """One answer that does not fit the document."""

    method: str
    template: str
    status: int
    what: str

    def __str__(self) -> str:
        return f"{self.method} {self.template} → {self.status}: {self.what}"


PROBLEMS: list[Problem] = []


@cache
def _templates() -> list[tuple[re.Pattern[str], str]]:
    found = []
    for template in openapi.document()["paths"]:
        pattern = re.escape(template)
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", pattern)
        found.append((re.compile(f"^{pattern}$"), template))
    # literal segments win over parameters (``/twins/{key}`` vs ``/triggers/preview``)
    found.sort(key=lambda pair: pair[1].count("{"))
    return found


def template_of(path: str) -> str | None:
    """The document's path template that ``path`` (no query) is an instance of."""
    for pattern, template in _templates():
        if pattern.match(path):
            return template
    return None


@cache
def _validator(template: str, method: str, status: str, media: str) -> Any:
    op = openapi.operation(template, method) or {}
    response = op.get("responses", {}).get(status)
    schema: Any = None
    if response is not None:
        schema = openapi.inline(response).get("content", {}).get(media, {}).get("schema")
    elif int(status) in COMMON_ERRORS:
        schema = openapi.inline({"$ref": "#/components/schemas/Error"})
    if schema is None:
        return None
    return jsonschema.Draft202012Validator(schema)


def _documented(op: Mapping[str, Any], status: int) -> dict[str, Any] | None:
    responses = op.get("responses", {})
    for key in (str(status), f"{str(status)[0]}XX", "default"):
        if key in responses:
            return {"key": key, **openapi.inline(responses[key])}
    return None


def problems_of(
    method: str, url: str, status: int, headers: Mapping[str, str], body: bytes | str | None
) -> list[Problem]:
    """What is wrong with one answer, by the document (empty: it conforms)."""
    path = unquote(urlsplit(url).path) or "/"
    template = template_of(path)
    if template is None:
        return []
    found = _problems(method, template, status, headers, body)
    return [Problem(method.upper(), template, status, what) for what in found]


def _problems(
    method: str, template: str, status: int, headers: Mapping[str, str], body: bytes | str | None
) -> list[str]:
    op = openapi.operation(template, method)
    if op is None:
        if status != 405:
            return [f"the document has no {method.upper()} on {template}"]
        op = {}
    response = _documented(op, status)
    key = response["key"] if response else str(status)
    if response is None and status not in COMMON_ERRORS:
        return [f"status {status} is not documented for this operation"]
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    content = (response or {}).get("content")
    if response is not None and not content:
        return [] if not text.strip() else [f"documented without a body, got {text!r}"]
    ctype = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    media = "application/x-ndjson" if "ndjson" in ctype else "application/json"
    if "json" not in ctype:
        return [f"Content-Type {ctype!r} is not JSON"]
    if content is not None and media not in content:
        return [f"{media} is not a documented answer"]
    return _body_problems(template, method, key, media, text)


def _body_problems(template: str, method: str, key: str, media: str, text: str) -> list[str]:
    try:
        if media == "application/x-ndjson":
            values = [json.loads(line) for line in text.splitlines() if line.strip()]
            validator = _validator(template, method, key, "application/json")
            items = [(f"line {i + 1}", v, validator, True) for i, v in enumerate(values)]
        else:
            validator = _validator(template, method, key, media)
            items = [("body", json.loads(text), validator, False)]
    except ValueError as exc:
        return [f"the body is not JSON ({exc}): {text[:200]!r}"]
    found = []
    for name, value, validator, per_item in items:
        if validator is None:
            continue
        schema = validator.schema
        if per_item and schema.get("type") == "array":
            validator = jsonschema.Draft202012Validator(schema["items"])
        for error in sorted(validator.iter_errors(value), key=lambda e: list(e.path))[:3]:
            at = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.path)
            found.append(f"{name}{at}: {error.message[:300]}")
    return found


def record(
    method: str, url: str, status: int, headers: Mapping[str, str], body: bytes | str | None
) -> None:
    """Keep what is wrong with this answer for the test that received it."""
    PROBLEMS.extend(problems_of(method, url, status, headers, body))


def take() -> list[Problem]:
    """The problems recorded since the last call (and forget them)."""
    found = list(PROBLEMS)
    PROBLEMS.clear()
    return found


def requests_hook(response: Any, *args: Any, **kwargs: Any) -> Any:
    """A ``requests`` response hook: record the answer of a call to a node."""
    request = response.request
    record(request.method, request.url, response.status_code, response.headers, response.content)
    return response


def checked_session() -> Any:
    """A ``requests.Session`` whose answers are checked against the document."""
    import requests

    session = requests.Session()
    session.hooks["response"].append(requests_hook)
    return session
