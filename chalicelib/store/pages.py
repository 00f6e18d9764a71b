"""One way to read a page of a list: a key-ordered DynamoDB Query (or a Scan) resumed after
a position.

A *position* is the key of the last item a page ended on, as ``{attribute: serialized
value}`` (strings; a number as its decimal text): what DynamoDB's ``ExclusiveStartKey``
needs, flattened so a cursor can carry it. The next page starts strictly after it, so an
item written between two page reads never moves one that was already there: every item
present when the walk started is read exactly once (new items may or may not be met).

A list filtered in Python (the value sits inside a JSON attribute) reads at most
``budget`` items per page; a page can therefore hold fewer items than asked (even none)
and still have a next page. Only the end of the list has no next position.

Each list declares the shape of its positions (:class:`KeyShape`); a position that does
not fit is the caller's 400 (``invalid_field``, ``field: cursor``), never a 500.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

import msgspec
from pynamodb.expressions.condition import Condition
from pynamodb.models import Model

from chalicelib.errors import BadRequest

T = TypeVar("T")
M = TypeVar("M", bound=Model)
Position = dict[str, str]

DEFAULT_BUDGET = 2000
"""Items a filtered page reads at most before it answers with what it found."""


def bad_cursor(why: str) -> BadRequest:
    """The one error of a cursor that cannot be used."""
    return BadRequest(
        f"cursor is not valid here ({why}); copy it from a Link header of this list.",
        code="invalid_field",
        field="cursor",
    )


class Page(msgspec.Struct, Generic[T], frozen=True):
    """Items in the list's order, and where the next page starts (``None``: the last page)."""

    items: list[T]
    after: Position | None = None


class KeyShape(msgspec.Struct, frozen=True):
    """The positions of one list: each key attribute with its fixed value or its pattern."""

    fixed: Mapping[str, str]
    patterns: Mapping[str, str]

    def check(self, position: Mapping[str, Any]) -> Position:
        """``position`` if it is one of this list's (exactly these attributes), else a 400."""
        names = set(self.fixed) | set(self.patterns)
        if set(position) != names or not all(isinstance(v, str) for v in position.values()):
            raise bad_cursor("not a position in this list")
        for name, value in self.fixed.items():
            if position[name] != value:
                raise bad_cursor("made for another list")
        for name, pattern in self.patterns.items():
            if len(position[name]) > 1024 or not re.fullmatch(pattern, position[name]):
                raise bad_cursor("not a position in this list")
        return dict(position)


ID = r"[0-9]{13}-[0-9a-f]{8}"
"""A time-ordered id (:func:`chalicelib.store.models.new_id`)."""
TEXT = r"[^\x00-\x1f]{1,512}"
"""A key the tracker or a client chose (an issue key, a connection id)."""


def _flat(raw: Mapping[str, Mapping[str, Any]] | None) -> Position | None:
    if raw is None:
        return None
    return {name: str(next(iter(value.values()))) for name, value in raw.items()}


def _raw(model: type[Model], position: Mapping[str, str] | None) -> dict[str, Any] | None:
    if position is None:
        return None
    attributes = {a.attr_name: a for a in model.get_attributes().values()}
    return {name: {attributes[name].attr_type: value} for name, value in position.items()}


def _collect(
    iterator: Any,
    *,
    limit: int,
    keep: Callable[[Any], bool] | None,
    budget: int,
) -> Page[Any]:
    """Up to ``limit`` kept items; the position after the last one when more may follow."""
    items: list[Any] = []
    last_kept: Position | None = None
    for examined, item in enumerate(iterator, start=1):
        here = _flat(iterator.last_evaluated_key)  # this item's key (None: the end)
        if keep is None or keep(item):
            if len(items) == limit:  # one more exists: the next page starts with it
                return Page(items, last_kept)
            items.append(item)
            last_kept = here
            if keep is None and len(items) == limit and here is None:
                return Page(items, None)
        if keep is not None and examined >= budget:
            return Page(items, here)  # read enough for one request; the rest is next
    return Page(items, None)


def query_page(
    model: type[M],
    hash_key: str,
    *,
    limit: int,
    after: Mapping[str, str] | None = None,
    forward: bool = True,
    range_key_condition: Condition | None = None,
    index: str | None = None,
    keep: Callable[[M], bool] | None = None,
    budget: int = DEFAULT_BUDGET,
) -> Page[M]:
    """One page of ``hash_key``'s items in key order (``forward=False``: descending)."""
    iterator = model.query(
        hash_key,
        range_key_condition,
        index_name=index,
        scan_index_forward=forward,
        last_evaluated_key=_raw(model, after),
        page_size=limit + 1 if keep is None else min(budget, max(limit + 1, 100)),
    )
    return _collect(iterator, limit=limit, keep=keep, budget=budget)


def scan_page(model: type[M], *, limit: int, after: Mapping[str, str] | None = None) -> Page[M]:
    """One page of a whole table in DynamoDB's own (stable, not meaningful) order: for the
    small tables no key orders (connections)."""
    iterator = model.scan(last_evaluated_key=_raw(model, after), page_size=limit + 1)
    return _collect(iterator, limit=limit, keep=None, budget=DEFAULT_BUDGET)


def list_page(
    items: Iterable[T],
    *,
    position: Callable[[T], Position],
    order: Callable[[Position], Sequence[Any]],
    limit: int,
    after: Mapping[str, str] | None = None,
) -> Page[T]:
    """A page of a small list kept inside one item (webhooks, rule versions), by the same
    rule: sorted by ``order`` of each item's position, starting strictly after ``after``."""
    ranked = sorted(items, key=lambda item: tuple(order(position(item))))
    if after is not None:
        start = tuple(order(dict(after)))
        ranked = [item for item in ranked if tuple(order(position(item))) > start]
    page = ranked[:limit]
    more = len(ranked) > limit
    return Page(page, position(page[-1]) if more else None)
