"""Walk an admin-API list the way a client does: follow ``Link: <…>; rel="next"`` until
there is none.

``fetch(path)`` answers ``(status, body, headers)`` for a path-absolute URL (the Chalice
test client, a cluster node, a real HTTP client); a ``Link`` that is absolute on the
node's public URL is reduced to its path and query first. ``between(n)`` runs after the
n-th page was read (1-based), so a test can change the list between two page reads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

Fetch = Callable[[str], tuple[int, Any, Mapping[str, str]]]

LINK = re.compile(r'^<([^>]+)>; rel="next"$')


@dataclass(frozen=True)
class PageRead:
    """One page as the client saw it."""

    path: str
    body: Any
    link: str | None

    @property
    def query(self) -> dict[str, list[str]]:
        """The next link's query parameters (empty on the last page)."""
        return parse_qs(urlsplit(self.link).query) if self.link else {}


def next_link(headers: Mapping[str, str]) -> str | None:
    """The ``rel="next"`` URL of a response, or ``None`` (the header must be well-formed)."""
    value = {k.lower(): v for k, v in headers.items()}.get("link")
    if value is None:
        return None
    match = LINK.match(value)
    assert match, f"not an RFC 8288 next link: {value!r}"
    return match.group(1)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def walk(
    fetch: Fetch,
    first: str,
    *,
    between: Callable[[int], None] | None = None,
    max_pages: int = 1000,
) -> list[PageRead]:
    """Every page of the list at ``first``, in order (each must answer 200)."""
    pages: list[PageRead] = []
    path: str | None = first
    while path is not None:
        status, body, headers = fetch(path)
        assert status == 200, (path, status, body)
        link = next_link(headers)
        pages.append(PageRead(path, body, link))
        assert len(pages) <= max_pages, "the Link chain does not end"
        if between is not None and link is not None:
            between(len(pages))
        path = path_of(link) if link else None
    return pages


def items(pages: list[PageRead], key: str | None = None) -> list[Any]:
    """The items of every page, in order (``key``: the list inside an object body)."""
    return [item for page in pages for item in (page.body[key] if key else page.body)]


def client_fetch(client: Any, headers: Mapping[str, str]) -> Fetch:
    """``fetch`` through Chalice's test client with ``headers`` (the admin token)."""

    def fetch(path: str) -> tuple[int, Any, Mapping[str, str]]:
        response = client.http.get(path, headers=dict(headers))
        text = response.body.decode() if isinstance(response.body, bytes) else response.body
        content_type = response.headers.get("Content-Type", "")
        body = (
            json.loads(text)
            if text and "json" in content_type and "ndjson" not in content_type
            else text
        )
        return response.status_code, body, response.headers

    return fetch
