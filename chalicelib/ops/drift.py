"""Drift: do the two ends of a twin still agree? (pure: no AWS, no tracker, no HTTP)

Each end describes its half of a twin as a :class:`TwinView`: per synced field the hash of
the value its outgoing rule shows *now* and its merge register (value ``v``, stamp ``s``,
local hash ``l``, ADR 0004); the ids of the comments and attachments it sends; the other
end's ids it holds a mirror of (a mapped mirror that is gone from the tracker does not
count); its versions and whether anything is under way. :func:`compare` decides:

- **pending** (never called drift): entries of the twin wait in an outbox or inbox, one
  end sent a version the other has not applied, or a difference comes from an end whose
  issue changed since ingest last read it (a webhook or the sweep is about to send it);
- **drifted**, per field: the two registers differ (value or stamp), or an end's tracker no
  longer shows what its register says (current hash != ``l``); per comment or
  attachment: one end's item has no mirror on the other;
- **unmatched**: the other end has no twin for it (or its issue is gone).

For a drifted twin :func:`compare` also plans the repair (:class:`RepairPlan`): for each
drifted field the end whose tracker holds the right value is the *source*; it takes a
fresh register (later than both ends' stamps) and resends with ``replica.repair`` naming
the field, so the other end writes it whatever the stamps say. A missing mirror is
resent by its owner after the receiving end forgot the mirror it lost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from chalicelib.rules.replica import FIELDS

MAX_BATCH = 50


class InvalidView(ValueError):
    """A twin view that does not have the documented shape; the message says where."""


# --- what one end says about its half ------------------------------------------------------


class FieldView(msgspec.Struct, frozen=True):
    hash: str  # the value as this end's outgoing rule shows it now
    value: str | None = None  # register ``v``
    stamp: tuple[str, str] | None = None  # register ``s`` (at, origin)
    local: str | None = None  # register ``l``

    def to_json(self) -> dict[str, Any]:
        return {
            "hash": self.hash,
            "value": self.value,
            "stamp": list(self.stamp) if self.stamp else None,
            "local": self.local,
        }

    @classmethod
    def from_json(cls, data: Any, where: str) -> FieldView:
        if not isinstance(data, Mapping) or not isinstance(data.get("hash"), str):
            raise InvalidView(f"{where} must be {{hash, value, stamp, local}}")
        stamp = data.get("stamp")
        if stamp is not None and not (
            isinstance(stamp, list) and len(stamp) == 2 and all(isinstance(x, str) for x in stamp)
        ):
            raise InvalidView(f"{where}.stamp must be [at, origin] or null")
        return cls(
            hash=data["hash"],
            value=_opt_str(data.get("value"), f"{where}.value"),
            stamp=(stamp[0], stamp[1]) if stamp else None,
            local=_opt_str(data.get("local"), f"{where}.local"),
        )


class TwinView(msgspec.Struct, frozen=True):
    key: str  # this end's issue
    twin_key: str | None  # the other end's issue
    found: bool = True  # False: no twin here (or its issue is gone)
    fields: Mapping[str, FieldView] = msgspec.field(default_factory=dict)
    comments: tuple[str, ...] = ()  # ids this end sends now
    attachments: tuple[str, ...] = ()
    have_comments: tuple[str, ...] = ()  # the other end's ids with a live mirror here
    have_attachments: tuple[str, ...] = ()
    sent_version: int = 0
    applied_version: int = 0
    pending: bool = False  # outbox or inbox entries of this twin under way here
    unread: bool = False  # the issue changed since ingest last read it

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "twin_key": self.twin_key,
            "found": self.found,
            "fields": {name: view.to_json() for name, view in sorted(self.fields.items())},
            "comments": list(self.comments),
            "attachments": list(self.attachments),
            "have_comments": list(self.have_comments),
            "have_attachments": list(self.have_attachments),
            "sent_version": self.sent_version,
            "applied_version": self.applied_version,
            "pending": self.pending,
            "unread": self.unread,
        }

    @classmethod
    def from_json(cls, data: Any, where: str = "item") -> TwinView:
        if not isinstance(data, Mapping):
            raise InvalidView(f"{where} must be an object")
        key = data.get("key")
        found = _bool(data.get("found", True), f"{where}.found")
        if not isinstance(key, str) or (found and not key):
            raise InvalidView(f"{where}.key must be an issue key")
        raw_fields = data.get("fields", {})
        if not isinstance(raw_fields, Mapping):
            raise InvalidView(f"{where}.fields must be an object")
        return cls(
            key=key,
            twin_key=_opt_str(data.get("twin_key"), f"{where}.twin_key"),
            found=found,
            fields={
                str(name): FieldView.from_json(value, f"{where}.fields.{name}")
                for name, value in raw_fields.items()
                if name in FIELDS
            },
            comments=_ids(data.get("comments"), f"{where}.comments"),
            attachments=_ids(data.get("attachments"), f"{where}.attachments"),
            have_comments=_ids(data.get("have_comments"), f"{where}.have_comments"),
            have_attachments=_ids(data.get("have_attachments"), f"{where}.have_attachments"),
            sent_version=_int(data.get("sent_version", 0), f"{where}.sent_version"),
            applied_version=_int(data.get("applied_version", 0), f"{where}.applied_version"),
            pending=_bool(data.get("pending", False), f"{where}.pending"),
            unread=_bool(data.get("unread", False), f"{where}.unread"),
        )


def _opt_str(value: Any, where: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidView(f"{where} must be a string or null")
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidView(f"{where} must be true or false")
    return value


def _int(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidView(f"{where} must be a whole number")
    return value


def _ids(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise InvalidView(f"{where} must be a list of ids")
    return tuple(value)


def parse_batch(items: Any) -> list[TwinView]:
    """``{items: [view...]}`` of a drift call: 1 to :data:`MAX_BATCH` views."""
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
        raise InvalidView(f"items must be a list of 1 to {MAX_BATCH} twin views")
    return [TwinView.from_json(item, f"items[{i}]") for i, item in enumerate(items)]


# --- the repair of one drifted twin ----------------------------------------------------------


class EndRepair(msgspec.Struct, frozen=True):
    """What one end does: fields to take a fresh register for and send with
    ``replica.repair`` (later than ``after``, the other end's stamps), and whether to resend
    its replica (comments or attachments the other end lacks)."""

    fields: tuple[str, ...] = ()
    after: Mapping[str, tuple[str, str]] = msgspec.field(default_factory=dict)
    resend: bool = False

    @property
    def acts(self) -> bool:
        return bool(self.fields or self.resend)

    def to_json(self) -> dict[str, Any]:
        return {
            "fields": list(self.fields),
            "after": {name: list(stamp) for name, stamp in sorted(self.after.items())},
            "resend": self.resend,
        }

    @classmethod
    def from_json(cls, data: Any, where: str = "repair") -> EndRepair:
        if not isinstance(data, Mapping):
            raise InvalidView(f"{where} must be an object")
        names = _ids(data.get("fields"), f"{where}.fields")
        if any(name not in FIELDS for name in names):
            raise InvalidView(f"{where}.fields must name fields out of {FIELDS}")
        after = data.get("after") or {}
        if not isinstance(after, Mapping) or not all(
            isinstance(v, list) and len(v) == 2 and all(isinstance(x, str) for x in v)
            for v in after.values()
        ):
            raise InvalidView(f"{where}.after must map field names to [at, origin]")
        return cls(
            fields=names,
            after={str(k): (v[0], v[1]) for k, v in after.items()},
            resend=_bool(data.get("resend", False), f"{where}.resend"),
        )


class RepairPlan(msgspec.Struct, frozen=True):
    here: EndRepair = msgspec.field(default_factory=EndRepair)
    there: EndRepair = msgspec.field(default_factory=EndRepair)


# --- the comparison -------------------------------------------------------------------------


class Finding(msgspec.Struct, frozen=True):
    """The outcome for one twin, as this end (``here``) sees it."""

    local_key: str
    remote_key: str | None
    state: str  # clean | drifted | pending | unmatched
    fields: tuple[str, ...] = ()
    comments_missing_here: tuple[str, ...] = ()
    comments_missing_there: tuple[str, ...] = ()
    attachments_missing_here: tuple[str, ...] = ()
    attachments_missing_there: tuple[str, ...] = ()
    reason: str | None = None
    plan: RepairPlan = msgspec.field(default_factory=RepairPlan)

    def report(self) -> dict[str, Any]:
        """The entry in the job's result (what an admin reads)."""
        entry: dict[str, Any] = {
            "local_key": self.local_key,
            "remote_key": self.remote_key,
            "state": self.state,
            "fields": list(self.fields),
            "comments": {
                "missing_here": list(self.comments_missing_here),
                "missing_there": list(self.comments_missing_there),
            },
            "attachments": {
                "missing_here": list(self.attachments_missing_here),
                "missing_there": list(self.attachments_missing_there),
            },
        }
        if self.reason:
            entry["reason"] = self.reason
        return entry

    def to_json(self) -> dict[str, Any]:
        """The stored form: the report plus the repair plan."""
        return {
            **self.report(),
            "plan": {"here": self.plan.here.to_json(), "there": self.plan.there.to_json()},
        }


def stored_plan(data: Mapping[str, Any]) -> RepairPlan:
    plan = data.get("plan") or {}
    return RepairPlan(
        here=EndRepair.from_json(plan.get("here") or {}),
        there=EndRepair.from_json(plan.get("there") or {}),
    )


def _in_flight(here: TwinView, there: TwinView) -> str | None:
    if here.pending or there.pending:
        return "entries of this twin are waiting in an outbox or inbox"
    if here.sent_version != there.applied_version:
        return f"version {here.sent_version} sent here, {there.applied_version} applied there"
    if there.sent_version != here.applied_version:
        return f"version {there.sent_version} sent there, {here.applied_version} applied here"
    return None


def _off(view: FieldView | None) -> bool:
    """The tracker no longer shows what the register says (``l`` unknown: not judged)."""
    return view is not None and view.local is not None and view.hash != view.local


def _disagree(mine: FieldView, theirs: FieldView) -> bool:
    """The two registers differ: a change one end has and the other never merged."""
    return (mine.value, mine.stamp) != (theirs.value, theirs.stamp)


def _source(name: str, here: TwinView, there: TwinView) -> str:
    """Which end's tracker holds the value both are to have: ``here`` or ``there``."""
    mine, theirs = here.fields.get(name), there.fields.get(name)
    mine_off, theirs_off = _off(mine), _off(theirs)
    if mine_off != theirs_off:
        return "there" if mine_off else "here"
    mine_stamp = mine.stamp if mine else None
    theirs_stamp = theirs.stamp if theirs else None
    if theirs_stamp is not None and (mine_stamp is None or theirs_stamp > mine_stamp):
        return "there"  # the later register wins, as the merge would decide
    return "here"


def _fields(here: TwinView, there: TwinView) -> tuple[list[str], list[str]]:
    """Drifted fields, and fields that differ only because an edit is not read yet."""
    drifted: list[str] = []
    unread: list[str] = []
    for name in FIELDS:
        mine, theirs = here.fields.get(name), there.fields.get(name)
        if mine is None or theirs is None:
            continue  # a field one end does not track: nothing to compare
        if (_off(mine) and here.unread) or (_off(theirs) and there.unread):
            unread.append(name)
        elif _off(mine) or _off(theirs) or _disagree(mine, theirs):
            drifted.append(name)
    return drifted, unread


def _missing(sent: Sequence[str], have: Sequence[str]) -> tuple[str, ...]:
    held = set(have)
    return tuple(item for item in sent if item not in held)


def compare(here: TwinView, there: TwinView) -> Finding:
    """How the twin stands, and (when drifted) the repair that makes both ends equal."""
    if not here.found or not there.found:
        side = "here" if not here.found else "on the other end"
        return Finding(here.key, here.twin_key, "unmatched", reason=f"no twin or issue {side}")
    waiting = _in_flight(here, there)
    if waiting:
        return Finding(here.key, here.twin_key, "pending", reason=waiting)
    drifted, unread = _fields(here, there)
    c_here = _missing(there.comments, here.have_comments)
    c_there = _missing(here.comments, there.have_comments)
    a_here = _missing(there.attachments, here.have_attachments)
    a_there = _missing(here.attachments, there.have_attachments)
    if unread or ((c_there or a_there) and here.unread) or ((c_here or a_here) and there.unread):
        return Finding(
            here.key, here.twin_key, "pending", reason="an edit is not read by ingest yet"
        )
    if not (drifted or c_here or c_there or a_here or a_there):
        return Finding(here.key, here.twin_key, "clean")
    sources = {name: _source(name, here, there) for name in drifted}
    from_here = tuple(name for name in drifted if sources[name] == "here")
    from_there = tuple(name for name in drifted if sources[name] == "there")
    plan = RepairPlan(
        here=EndRepair(
            fields=from_here,
            after=_stamps(there, from_here),
            resend=bool(from_here or c_there or a_there),
        ),
        there=EndRepair(
            fields=from_there,
            after=_stamps(here, from_there),
            resend=bool(from_there or c_here or a_here),
        ),
    )
    return Finding(
        here.key,
        here.twin_key,
        "drifted",
        fields=tuple(drifted),
        comments_missing_here=c_here,
        comments_missing_there=c_there,
        attachments_missing_here=a_here,
        attachments_missing_there=a_there,
        plan=plan,
    )


def _stamps(view: TwinView, names: Sequence[str]) -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    for name in names:
        item = view.fields.get(name)
        if item is not None and item.stamp is not None:
            found[name] = item.stamp
    return found
