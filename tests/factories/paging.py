"""A tracker wrapper that lets a test act between the pages of a search.

Passed to the code under test through its deps, it answers every call from the wrapped
tracker; ``search`` first raises what ``fail_on`` holds for that page number (1-based,
counted over all searches), then, after a page is read, calls ``after_page(n, page)`` so a
test can change the tracker exactly between two pages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.trackers.base import SearchPage, Tracker


class PagingHook:
    def __init__(
        self,
        tracker: Tracker,
        *,
        after_page: Callable[[int, SearchPage], None] | None = None,
        fail_on: dict[int, Exception] | None = None,
    ) -> None:
        self.tracker = tracker
        self.after_page = after_page
        self.fail_on = dict(fail_on or {})
        self.pages = 0
        self.queries: list[str] = []

    def search(self, jql: str, *, cursor: str | None = None, limit: int = 50) -> SearchPage:
        self.pages += 1
        self.queries.append(jql)
        if self.pages in self.fail_on:
            raise self.fail_on.pop(self.pages)
        page = self.tracker.search(jql, cursor=cursor, limit=limit)
        if self.after_page is not None:
            self.after_page(self.pages, page)
        return page

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tracker, name)
