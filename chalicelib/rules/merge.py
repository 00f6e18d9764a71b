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
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from msgspec.structs import replace

from chalicelib.rules.orset import ORSet
from chalicelib.rules.replica import FIELDS, NAME_LISTS, PEOPLE, body_hash
from chalicelib.trackers.base import utc_time

SHOWN_MAX = 300  # characters of a value kept for the conflict record (display only)
SETS = NAME_LISTS  # observed-remove sets: every add and remove of both ends is kept


class Stamp(msgspec.Struct, frozen=True, order=True):
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


class Register(msgspec.Struct, frozen=True):
    value: str
    stamp: Stamp
    parent: Stamp | None = None
    local: str | None = None
    shown: str = ""
    members: ORSet | None = None  # a set field (labels): every add and remove, by tag
    reported: frozenset[str] = frozenset()  # our set changes already reported in a conflict

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "v": self.value,
            "s": self.stamp.to_json(),
            "p": self.parent.to_json() if self.parent else None,
            "l": self.local,
            "show": self.shown,
        }
        if self.members is not None:
            data["o"] = self.members.to_json()
        if self.reported:
            data["r"] = sorted(self.reported)
        return data

    @classmethod
    def from_json(cls, data: Any) -> Register | None:
        if not isinstance(data, Mapping):
            return None
        stamp = Stamp.from_json(data.get("s"))
        if stamp is None or not isinstance(data.get("v"), str):
            return None
        local = data.get("l")
        reported = data.get("r")
        return cls(
            value=data["v"],
            stamp=stamp,
            parent=Stamp.from_json(data.get("p")),
            local=local if isinstance(local, str) else None,
            shown=str(data.get("show") or ""),
            members=ORSet.from_json(data.get("o")),
            reported=frozenset(str(x) for x in reported)
            if isinstance(reported, list)
            else frozenset(),
        )


State = dict[str, Register]


class Conflict(msgspec.Struct, frozen=True):
    """The same field changed on both ends before either saw the other's change."""

    field: str
    local: str
    remote: str
    winner: str  # "local" | "remote" | "both" (a set field: adds and removes of both kept)
    local_stamp: Stamp
    remote_stamp: Stamp
    value: str = ""  # the value both ends now have (shortened)

    def to_json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "local_value": self.local,
            "remote_value": self.remote,
            "winner": self.winner,
            "value": self.value,
            "local_changed_at": self.local_stamp.at,
            "remote_changed_at": self.remote_stamp.at,
        }


class MergeResult(msgspec.Struct, frozen=True):
    state: State
    write: frozenset[str]  # fields whose remote value is to be written here
    conflicts: tuple[Conflict, ...] = ()
    # merged values to write instead
    values: Mapping[str, Any] = msgspec.field(default_factory=dict)
    send_back: frozenset[str] = frozenset()  # kept here by a rule: to be sent again


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
        if fmt == "wiki":
            text = raw
        else:  # the converters are imported where a body is not wiki already (issue 19)
            from chalicelib.trackers.formats import convert

            text = convert(str(fmt), raw, "wiki")
    except (ValueError, TypeError, KeyError, AttributeError):
        return value  # odd content: compared as it is
    lines = [line.rstrip() for line in str(text).replace("\r\n", "\n").split("\n")]
    return "\n".join(lines).strip() or None


def normal(name: str, value: Any) -> Any:
    """The comparable form of a replica field's value."""
    if name in ("description", "environment"):
        return _body_text(value)
    if name in PEOPLE and isinstance(value, Mapping):
        return value.get("id") or None  # the account, whatever its name shows now
    if name == "parent" and isinstance(value, Mapping):
        return value.get("key") or None
    if name in SETS and isinstance(value, list):
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
    """A tracker time (``2026-12-02T17:05:01.123+0100``) as UTC with milliseconds (now,
    when there is none)."""
    return utc_time(updated or "") or utc_time(datetime.now(UTC).isoformat()) or ""


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
    stamps: dict[str, Any] = {}
    for name, r in sorted(state.items()):
        item: dict[str, Any] = {
            "at": r.stamp.at,
            "origin": r.stamp.origin,
            "after": r.parent.to_json() if r.parent else None,
        }
        if r.members is not None:
            item["set"] = r.members.to_json()
        stamps[name] = item
    return stamps


def read_stamps(
    replica: Mapping[str, Any],
    state: Mapping[str, Register],
    *,
    fallback_origin: str,
    previous: Mapping[str, Any] | None = None,
) -> dict[str, tuple[Stamp, Stamp | None, ORSet | None]]:
    """Each field's (stamp, parent, set state) from ``replica.stamps``.

    A replica without stamps (a node before the merge) is read as protocol 1 always was: a
    field equal to the last replica applied is unchanged over there (our register's own
    stamp), any other is a change made after ours (a successor, stamped ``updated``)."""
    raw = replica.get("stamps")
    at = stamp_time(str(replica.get("updated") or ""))
    result: dict[str, tuple[Stamp, Stamp | None, ORSet | None]] = {}
    for name in FIELDS:
        item = raw.get(name) if isinstance(raw, Mapping) else None
        mine = state.get(name)
        if isinstance(item, Mapping):
            result[name] = (
                Stamp(str(item["at"]), str(item["origin"])),
                Stamp.from_json(item.get("after")),
                ORSet.from_json(item.get("set")),
            )
        elif mine is None:
            result[name] = (Stamp(at, fallback_origin), None, None)
        elif previous is not None and value_hash(name, previous.get(name)) == value_hash(
            name, replica.get(name)
        ):
            result[name] = (mine.stamp, mine.parent, mine.members)
        else:
            result[name] = (Stamp(_later(at, mine.stamp.at), fallback_origin), mine.stamp, None)
    return result


# --- outgoing: what changed here ------------------------------------------------------------


def _later(at: str, than: str) -> str:
    """``at``, or one millisecond after ``than`` when it is not later: a change made after
    seeing a value always has the later stamp, whatever the two trackers' clocks say."""
    if at > than:
        return at
    moment = datetime.fromisoformat(than.replace("Z", "+00:00")) + timedelta(milliseconds=1)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# the changelog names of the replica fields (custom ``fields``: the time)
CHANGELOG_NAMES = {
    "summary": "summary",
    "description": "description",
    "type": "issuetype",
    "labels": "labels",
    "priority": "priority",
    "status": "status",
    # issue 18: as Jira's changelog names them (``field``)
    "components": "Component",
    "fix_versions": "Fix Version",
    "affects_versions": "Version",
    "due_date": "duedate",
    "environment": "environment",
    "resolution": "resolution",
    "assignee": "assignee",
    "reporter": "reporter",
    "parent": "Parent",
}


def change_times(updated: str, changed_at: Mapping[str, str]) -> dict[str, str]:
    """When each replica field last changed: its changelog time when the tracker said
    (the issue's ``updated`` moves with any change, ours too), else ``updated``."""
    default = stamp_time(updated)
    return {
        name: stamp_time(changed_at[CHANGELOG_NAMES[name]])
        if CHANGELOG_NAMES.get(name) in changed_at
        else default
        for name in FIELDS
    }


def observe_local(
    state: Mapping[str, Register],
    replica: Mapping[str, Any],
    *,
    at: str,
    origin: str,
    at_of: Mapping[str, str] | None = None,
) -> tuple[State, list[str]]:
    """The registers after reading this end's issue as ``replica``; and the fields that
    were edited here since (each a new register stamped by ``origin`` with the time of its
    change, ``at_of[field]``, else ``at``)."""
    new: State = dict(state)
    changed: list[str] = []
    for name in FIELDS:
        value = replica.get(name)
        digest = value_hash(name, value)
        current = state.get(name)
        when = (at_of or {}).get(name, at)
        if current is None:
            stamp = Stamp(when, origin)
            members = _observe_set(name, None, value, stamp)
            new[name] = Register(digest, stamp, None, digest, _shown(value), members)
            changed.append(name)
        elif digest == current.local:
            continue
        elif current.local is None or digest == current.value:
            # our own write seen for the first time, or the agreed value itself
            new[name] = replace(current, local=digest)
        else:
            stamp = Stamp(_later(when, current.stamp.at), origin)
            members = _observe_set(name, current.members, value, stamp)
            new[name] = Register(
                digest, stamp, current.stamp, digest, _shown(value), members, current.reported
            )
            changed.append(name)
    return new, changed


def _observe_set(name: str, members: ORSet | None, value: Any, stamp: Stamp) -> ORSet | None:
    if name not in SETS:
        return None
    now = value if isinstance(value, list) else []
    return (members or ORSet()).observe(now, tag=f"{stamp.at}|{stamp.origin}")


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
    prefer: Mapping[str, str] | None = None,
) -> MergeResult:
    """Which of the replica's fields to write here, the registers afterwards, and the
    conflicts decided. ``baseline``: the replica describes an issue that already matches
    ours as far as we know (a link or a connect): registers are adopted, nothing written.
    ``repair`` (a drift repair, ``replica.repair``): those fields' registers are adopted
    and written whatever the stamps say, because this end's tracker no longer shows what
    its register claims (the register cannot tell that the tracker drifted). ``prefer``:
    field → ``local``/``remote``, the side whose value a conflict keeps instead of the
    later one (Visual's ``on_conflict: keep``; both ends hold the same rule).

    The outcome per field is the register with the greatest stamp (a join: commutative,
    associative, idempotent), so both ends reach the same value in any delivery order."""
    stamps = read_stamps(replica, state, fallback_origin=fallback_origin, previous=previous)
    forced = set() if baseline else set(repair)
    new: State = dict(state)
    write: set[str] = set()
    conflicts: list[Conflict] = []
    values: dict[str, Any] = {}
    send_back: set[str] = set()
    for name in FIELDS:
        value = replica.get(name)
        stamp, parent, members = stamps[name]
        mine = state.get(name)
        theirs = Register(
            value_hash(name, value),
            stamp,
            parent,
            mine.local if mine else None,
            _shown(value),
            members,
        )
        outcome = _merge_field(
            name,
            mine,
            theirs,
            baseline=baseline,
            forced=name in forced,
            prefer=(prefer or {}).get(name),
        )
        new[name] = outcome.register
        if outcome.write:
            write.add(name)
            if outcome.value is not None:
                values[name] = outcome.value
        if outcome.conflict is not None:
            conflicts.append(outcome.conflict)
        if outcome.send_back:
            send_back.add(name)
    return MergeResult(new, frozenset(write), tuple(conflicts), values, frozenset(send_back))


class _Outcome(msgspec.Struct, frozen=True):
    register: Register
    write: bool = False
    conflict: Conflict | None = None
    value: Any = None  # what to write instead of the replica's value (a joined set)
    send_back: bool = False  # ours kept by a rule: send it to the other end again


def _merge_field(
    name: str,
    mine: Register | None,
    theirs: Register,
    *,
    baseline: bool,
    forced: bool,
    prefer: str | None = None,
) -> _Outcome:
    """One field: the register both ends keep, and whether this end writes it."""
    if forced:
        return _Outcome(theirs, write=True)
    if mine is None:
        return _Outcome(theirs, write=not baseline)
    # a join keeps the later stamp, so the same stamp can carry more members: the other
    # end's concurrent adds, which this end must still learn
    if (
        name in SETS
        and mine.members is not None
        and theirs.members is not None
        and (theirs.stamp != mine.stamp or theirs.members != mine.members)
    ):
        return _join_sets(name, mine, mine.members, theirs, theirs.members, baseline=baseline)
    if theirs.stamp == mine.stamp:
        return _Outcome(mine)  # our own register (an echo), or one we already have
    if theirs.stamp < mine.stamp:  # older: ours stays, unless the rule keeps theirs
        lost = theirs.value != mine.value and not baseline and _concurrent(mine, theirs)
        if lost and prefer == "remote":  # their value is kept: their end sends it again
            return _Outcome(mine, conflict=_conflict(name, mine, theirs, winner="remote"))
        return _Outcome(
            mine, conflict=_conflict(name, mine, theirs, winner="local") if lost else None
        )
    if baseline or theirs.value == mine.value:
        return _Outcome(theirs)  # the same value (or a link): a later stamp, nothing to write
    if not _concurrent(theirs, mine):
        return _Outcome(theirs, write=True)
    if prefer == "local":
        # the rule keeps ours although theirs is later: ours again, as an edit made after
        # seeing theirs (so every end takes it, whatever the clocks), to be sent back
        again = replace(
            mine,
            stamp=Stamp(_later(theirs.stamp.at, theirs.stamp.at), mine.stamp.origin),
            parent=theirs.stamp,
        )
        conflict = _conflict(name, mine, theirs, winner="local")
        return _Outcome(again, conflict=conflict, send_back=True)
    return _Outcome(theirs, write=True, conflict=_conflict(name, mine, theirs, winner="remote"))


def _join_sets(
    name: str, mine: Register, ours: ORSet, theirs: Register, other: ORSet, *, baseline: bool
) -> _Outcome:
    """A set field: the union of both ends' adds and removes (an observed-remove set).

    Both ends compute the same join, so they show the same members; it is a conflict when
    each end had changes the other had not seen (reported once per change of ours)."""
    joined = ours.join(other)
    members = joined.members()
    later = mine if mine.stamp > theirs.stamp else theirs
    register = Register(
        value_hash(name, members),
        later.stamp,
        later.parent,
        mine.local,
        _shown(members),
        joined,
        mine.reported,
    )
    conflict = None
    mine_unseen = _tags(ours) - _tags(other)
    if (
        not baseline
        and not other.knows(ours)
        and not ours.knows(other)
        and not mine_unseen <= mine.reported
    ):
        conflict = _conflict(name, mine, theirs, winner="both", value=register.shown)
        register = replace(register, reported=mine.reported | mine_unseen)
    write = not baseline and members != ours.members()
    return _Outcome(register, write, conflict, members if write else None)


def _tags(members: ORSet) -> frozenset[str]:
    return frozenset(t for tags in members.adds.values() for t in tags) | members.gone


def _conflict(
    name: str, mine: Register, theirs: Register, *, winner: str, value: str | None = None
) -> Conflict:
    if value is None:
        value = mine.shown if winner == "local" else theirs.shown
    return Conflict(
        field=name,
        local=mine.shown,
        remote=theirs.shown,
        winner=winner,
        local_stamp=mine.stamp,
        remote_stamp=theirs.stamp,
        value=value,
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
        members = _observe_set(name, current.members if current else None, value, stamp)
        new[name] = Register(digest, stamp, parent, digest, _shown(value), members)
    return new


class Recovered(msgspec.Struct, frozen=True):
    """Edits made here that our write replaced before this end read them
    (:func:`recover_local`)."""

    sent: State  # the recovered edits' registers, as the replica to the other end carries them
    state: State  # each recovered field's register once decided (to store)
    write: Mapping[str, Any]  # recovered values that won: written back to the tracker here
    conflicts: tuple[Conflict, ...]


def recover_local(
    state: Mapping[str, Register],
    found: Mapping[str, tuple[Any, str]],
    current: Mapping[str, Any],
    *,
    origin: str,
) -> Recovered:
    """Decide each overwritten edit ``found`` (field -> its value and changelog time, see
    :mod:`chalicelib.rules.recovery`) against the register our write came from.

    A field is recovered only while the tracker still shows what we wrote (``current``
    hashes to the register's ``local``; a later edit is an ordinary one) and the edit's
    value is another. The edit becomes a register stamped with its changelog time by
    ``origin`` and no parent (the person never saw the value we wrote): concurrent with
    ours, so both ends decide it as a conflict by stamp. Later than ours: it wins, is
    written back here and sent. Earlier: ours stays; it is still sent, so the other end
    records the same conflict (its value loses there too)."""
    sent: State = {}
    decided: State = {}
    write: dict[str, Any] = {}
    conflicts: list[Conflict] = []
    for name, (value, at) in sorted(found.items()):
        register = state.get(name)
        if register is None or register.local is None or name in SETS:
            continue
        if value_hash(name, current.get(name)) != register.local:
            continue  # edited again since our write, or not our write: an ordinary edit
        digest = value_hash(name, value)
        if digest == register.local:
            continue  # the person had made the value we then wrote: nothing lost
        edit = Register(digest, Stamp(stamp_time(at), origin), None, digest, _shown(value))
        sent[name] = edit
        if edit.stamp > register.stamp:
            decided[name] = edit
            write[name] = value
            conflicts.append(_conflict(name, edit, register, winner="local"))
        else:
            decided[name] = register
            conflicts.append(_conflict(name, edit, register, winner="remote"))
    return Recovered(sent, decided, write, tuple(conflicts))


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
    "Recovered",
    "Register",
    "Stamp",
    "after_write",
    "dump",
    "force_local",
    "load",
    "merge_remote",
    "observe_local",
    "read_stamps",
    "recover_local",
    "settled_hashes",
    "stamp_time",
    "stamps_json",
    "unknown_local",
    "value_hash",
]
