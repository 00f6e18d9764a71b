"""Observed-remove set: a set field (labels) that keeps every add and remove of both ends.

Each member carries the tags of the changes that added it; a remove tombstones the tags it
saw. Joining two states is the union of both, and a member is present while one of its
tags is not tombstoned. The join is commutative, associative and idempotent, so both ends
reach the same set whatever the order in which they learn each other's changes, and an
add made concurrently with a remove of the same member survives it (the remove did not
see it). Pure: no AWS, no HTTP.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec


class ORSet(msgspec.Struct, frozen=True):
    adds: Mapping[str, frozenset[str]] = msgspec.field(default_factory=dict)  # member -> add tags
    gone: frozenset[str] = frozenset()  # tombstoned tags

    def members(self) -> list[str]:
        return sorted(m for m, tags in self.adds.items() if tags - self.gone)

    def observe(self, now: Iterable[str], tag: str) -> ORSet:
        """The set as read now: members added get a tag of this change (``tag`` and the
        member), members removed tombstone every tag of theirs that this end has seen."""
        current, wanted = set(self.members()), {str(m) for m in now}
        adds = dict(self.adds)
        gone = set(self.gone)
        for member in wanted - current:
            adds[member] = adds.get(member, frozenset()) | {f"{tag}|{member}"}
        for member in current - wanted:
            gone |= adds[member]
        return ORSet(adds, frozenset(gone)).compact()

    def join(self, other: ORSet) -> ORSet:
        adds = {
            m: self.adds.get(m, frozenset()) | other.adds.get(m, frozenset())
            for m in {*self.adds, *other.adds}
        }
        return ORSet(adds, self.gone | other.gone).compact()

    def knows(self, other: ORSet) -> bool:
        """Has this state seen every add and remove of ``other``?"""
        if not other.gone <= self.gone:
            return False
        return all(
            tags <= self.adds.get(m, frozenset()) | self.gone for m, tags in other.adds.items()
        )

    def compact(self) -> ORSet:
        """Members whose every tag is tombstoned need no entry: the tombstones suffice."""
        return ORSet({m: tags for m, tags in self.adds.items() if tags - self.gone}, self.gone)

    def to_json(self) -> dict[str, Any]:
        return {
            "adds": {m: sorted(tags) for m, tags in sorted(self.adds.items())},
            "gone": sorted(self.gone),
        }

    @classmethod
    def from_json(cls, data: Any) -> ORSet | None:
        if not isinstance(data, Mapping):
            return None
        adds, gone = data.get("adds"), data.get("gone")
        if not isinstance(adds, Mapping) or not isinstance(gone, list):
            return None
        return cls(
            {
                str(m): frozenset(str(t) for t in tags)
                for m, tags in adds.items()
                if isinstance(tags, list)
            },
            frozenset(str(t) for t in gone),
        )
