"""What DynamoDB bills for a write: its write request units, from item sizes and indexes.

A request is not a unit: on-demand DynamoDB bills a write one unit per started KB of the
larger of the item before and after it (a failed condition too), and once more for each
global secondary index whose entry the write puts, changes or deletes (two when it moves
the entry to another index key), per started KB of what the index projects. The
benchmarks count requests and these units apart; the cost is priced on the units.

Pure: items are DynamoDB JSON (``{"name": {"S": "x"}}``), sizes follow the rules of the
Developer Guide ("Item sizes and formats"; "Capacity unit consumption for writes",
"Global secondary indexes: write activity").
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

KB = 1024

Item = Mapping[str, Mapping[str, Any]]


def value_size(value: Mapping[str, Any]) -> int:
    """The bytes of one attribute value (its name not counted)."""
    ((kind, v),) = value.items()
    if kind == "S":
        return len(str(v).encode())
    if kind == "N":
        return _number_size(str(v))
    if kind == "B":
        return len(_binary(v))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in v)
    if kind == "NS":
        return sum(_number_size(n) for n in v)
    if kind == "BS":
        return sum(len(_binary(b)) for b in v)
    if kind == "L":
        return 3 + sum(1 + value_size(e) for e in v)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(e) for k, e in v.items())
    raise ValueError(f"not a DynamoDB value: {kind}")


def item_size(item: Item | None) -> int:
    """An item's bytes: each attribute's name and value."""
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


@dataclass(frozen=True)
class Index:
    """A global secondary index: its key attributes and what it projects."""

    keys: tuple[str, ...]
    projection: str = "ALL"  # ALL | KEYS_ONLY | INCLUDE
    include: tuple[str, ...] = ()

    @classmethod
    def from_description(cls, description: Mapping[str, Any]) -> Index:
        projection = description.get("Projection") or {}
        return cls(
            keys=tuple(k["AttributeName"] for k in description["KeySchema"]),
            projection=projection.get("ProjectionType", "ALL"),
            include=tuple(projection.get("NonKeyAttributes", ())),
        )

    def entry(self, item: Item | None, table_keys: Iterable[str]) -> dict[str, Any] | None:
        """What the index holds for ``item``: None when the item lacks an index key."""
        if not item or any(k not in item for k in self.keys):
            return None
        if self.projection == "ALL":
            return dict(item)
        names = {*self.keys, *table_keys, *(self.include if self.projection == "INCLUDE" else ())}
        return {k: v for k, v in item.items() if k in names}


def units(size: int) -> int:
    """Write request units of one write of ``size`` bytes (at least one)."""
    return max(1, math.ceil(size / KB))


def write_units(
    before: Item | None,
    after: Item | None,
    *,
    indexes: Iterable[Index] = (),
    table_keys: Iterable[str] = (),
) -> int:
    """The write request units of one write that took ``before`` to ``after`` (None: no
    item), indexes included. A write that changed nothing (a failed condition) bills the
    table's part alone."""
    keys = tuple(table_keys)
    total = units(max(item_size(before), item_size(after)))
    for index in indexes:
        old, new = index.entry(before, keys), index.entry(after, keys)
        if old == new:
            continue
        if (
            old is not None and new is not None and any(old[k] != new[k] for k in index.keys)
        ):  # the entry moves: deleted under the old key, put under the new one
            total += units(item_size(old)) + units(item_size(new))
        else:
            total += units(max(item_size(old), item_size(new)))
    return total


def _number_size(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").lstrip("0").rstrip("0") or "0"
    return 1 + math.ceil(len(digits) / 2)


def _binary(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return base64.b64decode(value)
