"""Field merge: every synced field is a last-writer-wins register, the same on both ends.

Pure (no AWS, no HTTP): ingest and apply call it with the twin's stored state and a
replica, and store what it returns. ``docs/adr/0004-field-merge.md`` explains the choice.

State per twin and field (:class:`Register`):

- ``value``: hash of the register's value, in the form of the end that wrote it;
- ``stamp``: who made it and when (:class:`Stamp`: the tracker's time of the change, then
  the origin end's id), a total order both ends compute alike;
- ``parent``: the stamp of the register that the change replaced, so a change made after
  seeing the other side's value is a successor, never a conflict, whatever the clocks say;
- ``local``: hash of the value as *this* end's outgoing rule shows it while its tracker
  holds the register's value (what we wrote, or what we read and sent). ``None`` means
  "not known yet": the next value read is taken as ours.

Outgoing (:func:`observe_local`): a field whose value differs from ``local`` (and from
``value``) was edited here: a new register stamped with the issue's ``updated``.
Incoming (:func:`merge_remote`): a register equal to ours, older than ours or our own
parent changes nothing; one made on top of ours wins; two made concurrently (neither saw
the other) are a **conflict** and the later stamp wins on both ends. So an echo of an
older value never overwrites a newer edit, an edit made on one side only is never lost,
and both ends reach the same value whatever the delivery order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.rules.replica import FIELDS, body_hash

SHOWN_MAX = 300  # characters of a value kept for the conflict record (display only)


@dataclass(frozen=True, order=True)
class Stamp:
    """When a value was made (UTC, milliseconds) and by which end: a total order."""

    at: str
    origin: str

    def to_json(self) -> list[str]:
        return [self.at, self.origin]

    @classmethod
    def from_json(cls, data: Any) -> Stamp | None:
        if (
            isinstance(data, list | tuple)
            and len(data) == 2
            and all(isinstance(x, str) for x in data)
        ):
            return cls(data[0], data[1])
        return None


@dataclass(frozen=True)
class Register:
    value: str
    stamp: Stamp
    parent: Stamp | None = None
    local: str | None = None
    shown: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "v": self.value,
            "s": self.stamp.to_json(),
            "p": self.parent.to_json() if self.parent else None,
            "l": self.local,
            "show": self.shown,
        }

    @classmethod
    def from_json(cls, data: Any) -> Register | None:
        if not isinstance(data, Mapping):
            return None
        stamp = Stamp.from_json(data.get("s"))
        if stamp is None or not isinstance(data.get("v"), str):
            return None
        local = data.get("l")
        return cls(
            value=data["v"],
            stamp=stamp,
            parent=Stamp.from_json(data.get("p")),
            local=local if isinstance(local, str) else None,
            shown=str(data.get("show") or ""),
        )


State = dict[str, Register]


@dataclass(frozen=True)
class Conflict:
    """The same field changed on both ends before either saw the other's change."""

    field: str
    local: str
    remote: str
    winner: str  # "local" | "remote"
    local_stamp: Stamp
    remote_stamp: Stamp

    def to_json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "local_value": self.local,
            "remote_value": self.remote,
            "winner": self.winner,
            "local_changed_at": self.local_stamp.at,
            "remote_changed_at": self.remote_stamp.at,
        }


@dataclass(frozen=True)
class MergeResult:
    state: State
    write: frozenset[str]  # fields whose remote value is to be written here
    conflicts: tuple[Conflict, ...] = ()


# --- values ------------------------------------------------------------------------------


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _body_text(value: Any) -> Any:
    """A body in one form whatever the tracker's format (wiki markup, whitespace trimmed),
    so that the same text written as ADF on one side and wiki on the other is equal."""
    if not isinstance(value, Mapping):
        return value
    fmt, raw = value.get("format"), value.get("value")
    if raw in (None, "") or (isinstance(raw, Mapping) and not raw.get("content")):
        return None
    try:
        from chalicelib.trackers.formats import convert

        text = raw if fmt == "wiki" else convert(str(fmt), raw, "wiki")
    except (ValueError, TypeError, KeyError, AttributeError):
        return value  # odd content: compared as it is
    lines = [line.rstrip() for line in str(text).replace("\r\n", "\n").split("\n")]
    return "\n".join(lines).strip() or None


def normal(name: str, value: Any) -> Any:
    """The comparable form of a replica field's value."""
    if name == "description":
        return _body_text(value)
    if name == "labels" and isinstance(value, list):
        return sorted({str(x) for x in value})
    if name in ("summary",) and isinstance(value, str):
        return value.strip()
    if value in ({}, [], ""):
        return None
    return value


def value_hash(name: str, value: Any) -> str:
    return hashlib.sha256(_canonical(normal(name, value)).encode()).hexdigest()[:32]


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else _canonical(value)
    return text if len(text) <= SHOWN_MAX else text[: SHOWN_MAX - 1] + "…"


def stamp_time(updated: str | None) -> str:
    """A tracker time (``2026-12-02T17:05:01.123+0100``) as UTC with milliseconds."""
    if updated:
        text = updated.strip().replace("Z", "+00:00")
        if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
            text = text[:-2] + ":" + text[-2:]  # Jira's +0100
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            moment = None
        if moment is not None:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- stored state --------------------------------------------------------------------------


def load(data: Any) -> State:
    state: State = {}
    if isinstance(data, Mapping):
        for name, raw in data.items():
            register = Register.from_json(raw)
            if register is not None:
                state[str(name)] = register
    return state


def dump(state: Mapping[str, Register]) -> dict[str, Any]:
    return {name: register.to_json() for name, register in sorted(state.items())}


def stamps_json(state: Mapping[str, Register]) -> dict[str, Any]:
    """What a replica carries about its fields (contract addition ``replica.stamps``)."""
    return {
        name: {
            "at": r.stamp.at,
            "origin": r.stamp.origin,
            "after": r.parent.to_json() if r.parent else None,
        }
        for name, r in sorted(state.items())
    }


def read_stamps(
    replica: Mapping[str, Any],
    state: Mapping[str, Register],
    *,
    fallback_origin: str,
    previous: Mapping[str, Any] | None = None,
) -> dict[str, tuple[Stamp, Stamp | None]]:
    """Each field's (stamp, parent) from ``replica.stamps``.

    A replica without stamps (a node before the merge) is read as protocol 1 always was: a
    field equal to the last replica applied is unchanged over there (our register's own
    stamp), any other is a change made after ours (a successor, stamped ``updated``)."""
    raw = replica.get("stamps")
    at = stamp_time(str(replica.get("updated") or ""))
    result: dict[str, tuple[Stamp, Stamp | None]] = {}
    for name in FIELDS:
        item = raw.get(name) if isinstance(raw, Mapping) else None
        mine = state.get(name)
        if isinstance(item, Mapping):
            result[name] = (
                Stamp(str(item["at"]), str(item["origin"])),
                Stamp.from_json(item.get("after")),
            )
        elif mine is None:
            result[name] = (Stamp(at, fallback_origin), None)
        elif previous is not None and value_hash(name, previous.get(name)) == value_hash(
            name, replica.get(name)
        ):
            result[name] = (mine.stamp, mine.parent)
        else:
            result[name] = (Stamp(_later(at, mine.stamp.at), fallback_origin), mine.stamp)
    return result


# --- outgoing: what changed here ------------------------------------------------------------


def _later(at: str, than: str) -> str:
    """``at``, or one millisecond after ``than`` when it is not later: a change made after
    seeing a value always has the later stamp, whatever the two trackers' clocks say."""
    if at > than:
        return at
    moment = datetime.fromisoformat(than.replace("Z", "+00:00")) + timedelta(milliseconds=1)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def observe_local(
    state: Mapping[str, Register], replica: Mapping[str, Any], *, at: str, origin: str
) -> tuple[State, list[str]]:
    """The registers after reading this end's issue as ``replica``; and the fields that
    were edited here since (each a new register stamped ``at`` by ``origin``)."""
    new: State = dict(state)
    changed: list[str] = []
    for name in FIELDS:
        value = replica.get(name)
        digest = value_hash(name, value)
        current = state.get(name)
        if current is None:
            new[name] = Register(digest, Stamp(at, origin), None, digest, _shown(value))
            changed.append(name)
        elif digest == current.local:
            continue
        elif current.local is None or digest == current.value:
            # our own write seen for the first time, or the agreed value itself
            new[name] = replace(current, local=digest)
        else:
            stamp = Stamp(_later(at, current.stamp.at), origin)
            new[name] = Register(digest, stamp, current.stamp, digest, _shown(value))
            changed.append(name)
    return new, changed


# --- incoming: what to write here ------------------------------------------------------------


def _concurrent(winner: Register, loser: Register) -> bool:
    """Was ``loser`` made without seeing ``winner``'s line (a real conflict), rather than
    being an older value of the same line (stale)?"""
    if winner.stamp.origin == loser.stamp.origin:
        return False  # one end's own later value
    return winner.parent is None or loser.stamp > winner.parent


def merge_remote(
    state: Mapping[str, Register],
    replica: Mapping[str, Any],
    *,
    fallback_origin: str,
    baseline: bool = False,
    previous: Mapping[str, Any] | None = None,
    repair: Iterable[str] = (),
) -> MergeResult:
    """Which of the replica's fields to write here, the registers afterwards, and the
    conflicts decided. ``baseline``: the replica describes an issue that already matches
    ours as far as we know (a link or a connect): registers are adopted, nothing written.
    ``repair`` (a drift repair, ``replica.repair``): those fields' registers are adopted
    and written whatever the stamps say, because this end's tracker no longer shows what
    its register claims (the register cannot tell that the tracker drifted).

    The outcome per field is the register with the greatest stamp (a join: commutative,
    associative, idempotent), so both ends reach the same value in any delivery order."""
    stamps = read_stamps(replica, state, fallback_origin=fallback_origin, previous=previous)
    forced = set() if baseline else set(repair)
    new: State = dict(state)
    write: set[str] = set()
    conflicts: list[Conflict] = []
    for name in FIELDS:
        value = replica.get(name)
        digest = value_hash(name, value)
        stamp, parent = stamps[name]
        mine = state.get(name)
        theirs = Register(digest, stamp, parent, mine.local if mine else None, _shown(value))
        if name in forced:
            new[name] = theirs
            write.add(name)
            continue
        if mine is None:
            new[name] = theirs
            if not baseline:
                write.add(name)
            continue
        if stamp <= mine.stamp:
            lost = stamp < mine.stamp and digest != mine.value and not baseline
            if lost and _concurrent(mine, theirs):
                conflicts.append(_conflict(name, mine, theirs, winner="local"))
            continue  # our own register (an echo), or older: ours stays
        new[name] = theirs
        if baseline or digest == mine.value:
            continue  # the same value (or a link): a later stamp, nothing to write
        write.add(name)
        if _concurrent(theirs, mine):
            conflicts.append(_conflict(name, mine, theirs, winner="remote"))
    return MergeResult(new, frozenset(write), tuple(conflicts))


def _conflict(name: str, mine: Register, theirs: Register, *, winner: str) -> Conflict:
    return Conflict(
        field=name,
        local=mine.shown,
        remote=theirs.shown,
        winner=winner,
        local_stamp=mine.stamp,
        remote_stamp=theirs.stamp,
    )


def settled_hashes(replica: Mapping[str, Any], write: frozenset[str]) -> dict[str, str]:
    """``previous_hashes`` for the incoming rules: a field the merge does not write looks
    unchanged (its hash is the replica's own), so every mode writes only what it decided."""
    return {name: "" if name in write else body_hash(replica.get(name)) for name in FIELDS}


def after_write(state: Mapping[str, Register], written: Mapping[str, Any]) -> State:
    """Registers with ``local`` set to the written values (replica form), so our own write
    read back later is recognised as ours, not as an edit made here."""
    new: State = dict(state)
    for name, value in written.items():
        if name in new:
            new[name] = replace(new[name], local=value_hash(name, value))
    return new


def force_local(
    state: Mapping[str, Register],
    replica: Mapping[str, Any],
    names: Iterable[str],
    *,
    at: str,
    origin: str,
    after: Iterable[Stamp] = (),
) -> State:
    """Fresh registers for ``names`` holding this end's value as read now (a drift repair):
    stamped later than this end's register and every stamp in ``after`` (the other end's),
    so both ends take them as the latest value."""
    new: State = dict(state)
    for name in names:
        if name not in FIELDS:
            continue
        value = replica.get(name)
        digest = value_hash(name, value)
        current = state.get(name)
        latest = max([*after, *([current.stamp] if current else [])], default=None)
        stamp = Stamp(_later(at, latest.at) if latest else at, origin)
        parent = current.stamp if current else None
        new[name] = Register(digest, stamp, parent, digest, _shown(value))
    return new


def unknown_local(state: Mapping[str, Register], names: Iterable[str]) -> State:
    """Mark fields written here in a form we cannot predict: the next value read is ours."""
    new: State = dict(state)
    for name in names:
        if name in new:
            new[name] = replace(new[name], local=None)
    return new


__all__ = [
    "FIELDS",
    "Conflict",
    "MergeResult",
    "Register",
    "Stamp",
    "after_write",
    "dump",
    "force_local",
    "load",
    "merge_remote",
    "observe_local",
    "read_stamps",
    "settled_hashes",
    "stamp_time",
    "stamps_json",
    "unknown_local",
    "value_hash",
]
