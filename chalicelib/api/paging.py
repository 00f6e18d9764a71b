"""Paging at the edge: ``limit`` and ``cursor`` in, a ``Link: <…>; rel="next"`` header out.

Every admin-API list reads its page through :func:`page_request` and answers through
:func:`paged`; the body stays the list's own shape, the next page is announced only in
the header (RFC 8288, as GitHub's API does), and the last page has no ``Link``.

A cursor is opaque to clients: ``base64url(JSON).base64url(tag)`` where the JSON names
the list (``l``), the exact path it was made for (``s``) and the position of the last
item read (``k``, see :mod:`chalicelib.store.pages`), and the tag is an HMAC-SHA256 (16
bytes) under a key derived from the stage's admin-token hash. So a cursor that was
altered, truncated, or made for another list (or another connection's list, or the
other direction of the audit log) is ``400 invalid_field`` (``field: cursor``) before
anything is read; a cursor stops working when the admin token changes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from typing import Any
from urllib.parse import quote, urlencode

import msgspec

from chalicelib.api.routing import ApiRequest, Reply
from chalicelib.errors import BadRequest
from chalicelib.store.pages import Page, Position, bad_cursor

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
MAX_CURSOR = 2048
VERSION = 1
PAGING_PARAMS = ("limit", "cursor")


class PageRequest(msgspec.Struct, frozen=True):
    """What the client asked of one list: how many items, and after which position."""

    limit: int
    after: Position | None
    list_name: str
    scope: str
    explicit_limit: bool = False


def scope_of(request: ApiRequest) -> str:
    """The concrete path the request was made on (the route with its parameters)."""
    path = request.path
    for name, value in request.params.items():
        path = path.replace("{" + name + "}", value)
    return path


def _link_path(request: ApiRequest) -> str:
    path = request.path
    for name, value in request.params.items():
        path = path.replace("{" + name + "}", quote(value, safe=""))
    return path


def parse_limit(request: ApiRequest) -> tuple[int, bool]:
    """``limit``: a whole number 1..500 (default 100), else ``400 invalid_field``."""
    raw = request.query.get("limit")
    if raw is None:
        return DEFAULT_LIMIT, False
    if not re.fullmatch(r"[0-9]{1,6}", raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadRequest(
            f"limit must be a whole number from 1 to {MAX_LIMIT}.",
            code="invalid_field",
            field="limit",
        )
    return int(raw), True


def page_request(request: ApiRequest, list_name: str) -> PageRequest:
    """The page ``request`` asks of the list ``list_name`` (its cursor checked)."""
    limit, explicit = parse_limit(request)
    scope = scope_of(request)
    raw = request.query.get("cursor")
    after = None if raw is None else _open(raw, list_name=list_name, scope=scope, request=request)
    return PageRequest(limit, after, list_name, scope, explicit)


def paged(
    request: ApiRequest,
    wanted: PageRequest,
    page: Page[Any],
    body: Any,
    *,
    headers: dict[str, str] | None = None,
    limit_in_link: bool = True,
) -> Reply:
    """``body`` (the page's items in the list's shape) with the next page's ``Link``.

    ``limit_in_link=False``: the next URL names no ``limit`` (an export that answers
    everything it can when no limit is given)."""
    all_headers = dict(headers or {})
    if page.after is not None:
        url = next_url(request, wanted, page.after, with_limit=limit_in_link)
        all_headers["Link"] = f'<{url}>; rel="next"'
    return Reply(body, headers=all_headers)


def next_url(
    request: ApiRequest, wanted: PageRequest, after: Position, *, with_limit: bool = True
) -> str:
    """The same path and filters, with ``limit`` and the cursor of the next page; absolute
    on the node's public URL when it has one."""
    query = [(k, v) for k, v in request.query.items() if k not in PAGING_PARAMS]
    if with_limit:
        query.append(("limit", str(wanted.limit)))
    query.append(("cursor", seal(wanted.list_name, wanted.scope, after, request=request)))
    public = request.root.settings.public_url
    base = public.rstrip("/") if public else ""
    return f"{base}{_link_path(request)}?{urlencode(query, quote_via=quote)}"


# --- the cursor ---------------------------------------------------------------------------


def _key(request: ApiRequest) -> bytes:
    secret = request.root.settings.admin_token_sha256.encode()
    return hmac.new(secret, b"twinsync cursor v1", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]+", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal(list_name: str, scope: str, after: Position, *, request: ApiRequest) -> str:
    """The opaque cursor of ``after`` in ``list_name`` on ``scope``."""
    payload = json.dumps(
        {"v": VERSION, "l": list_name, "s": scope, "k": after},
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    tag = hmac.new(_key(request), payload, hashlib.sha256).digest()[:16]
    return f"{_b64(payload)}.{_b64(tag)}"


def _open(raw: str, *, list_name: str, scope: str, request: ApiRequest) -> Position:
    if not raw or len(raw) > MAX_CURSOR or raw.count(".") != 1:
        raise bad_cursor("malformed")
    body, _, tag = raw.partition(".")
    try:
        payload, given = _unb64(body), _unb64(tag)
    except (ValueError, binascii.Error) as exc:
        raise bad_cursor("malformed") from exc
    expected = hmac.new(_key(request), payload, hashlib.sha256).digest()[:16]
    if not hmac.compare_digest(given, expected):
        raise bad_cursor("altered, truncated, or made before the admin token changed")
    try:
        data = json.loads(payload)
    except ValueError as exc:  # signed by this node yet unreadable: still the client's 400
        raise bad_cursor("malformed") from exc
    if not isinstance(data, dict) or set(data) != {"v", "l", "s", "k"} or data["v"] != VERSION:
        raise bad_cursor("malformed")
    if data["l"] != list_name or data["s"] != scope:
        raise bad_cursor("made for another list")
    position = data["k"]
    if not isinstance(position, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in position.items()
    ):
        raise bad_cursor("malformed")
    return position
