"""Issue 19: an edit our unseen write replaced, found in the changelog and decided.

The pure parts (:mod:`chalicelib.rules.recovery`, :func:`chalicelib.rules.merge.recover_local`),
then two ends simulated with nothing but the pure functions, as in ``test_merge.py``, whose
apply writes without looking and whose reads recover from a changelog.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from chalicelib.rules import merge, recovery
from chalicelib.rules.merge import Register, Stamp
from chalicelib.trackers.base import Body, FieldChange, Issue

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
BOT = "bot"


def at(seconds: float) -> str:
    return merge.stamp_time((T0 + timedelta(seconds=seconds)).isoformat())


def change(seconds: float, who: str, text: str, name: str = "summary") -> FieldChange:
    return FieldChange(name, at(seconds), who, to_string=text)


# --- finding the overwritten edit -------------------------------------------------------------


def test_a_persons_change_after_the_last_read_that_ours_followed_is_found():
    history = [change(1, "bob", "Read already"), change(5, "bob", "Bob's"), change(6, BOT, "Ours")]
    found = recovery.overwritten(history, since=at(1), ours=BOT)
    assert found == {"summary": history[1]}


def test_a_change_read_before_our_write_is_not_found_again():
    history = [change(5, "bob", "Bob's"), change(6, BOT, "Ours")]
    assert recovery.overwritten(history, since=at(5), ours=BOT) == {}  # read at 5
    assert recovery.overwritten(history, since=at(6), ours=BOT) == {}


def test_a_persons_latest_change_is_an_ordinary_edit_not_a_recovery():
    history = [change(5, BOT, "Ours"), change(6, "bob", "Bob's")]
    assert recovery.overwritten(history, since=at(1), ours=BOT) == {}


def test_the_last_persons_change_before_our_last_write_is_the_one_found():
    history = [
        change(2, "bob", "First"),
        change(3, BOT, "Ours 1"),
        change(4, None, "Anonymous"),  # an anonymous author is a person, not us
        change(5, BOT, "Ours 2"),
        change(6, BOT, "Bug", name="issuetype"),
    ]
    assert recovery.overwritten(history, since=at(1), ours=BOT) == {"summary": history[2]}


def test_the_recoverable_fields_in_replica_form():
    found = {
        "summary": change(2, "bob", "Bob's"),
        "issuetype": change(3, "bob", "Bug", name="issuetype"),
        "description": change(4, "bob", "h1. Steps", name="description"),
        "priority": change(5, "bob", "High", name="priority"),
    }
    assert recovery.replica_values(found, "wiki") == {
        "summary": ("Bob's", at(2)),
        "type": ({"name": "Bug"}, at(3)),
        "description": ({"format": "wiki", "value": "h1. Steps"}, at(4)),
    }
    # Cloud's changelog gives an ADF description as text: not recovered (it keeps the look)
    assert "description" not in recovery.replica_values(found, "adf")
    assert recovery.can_write_unseen({"summary", "type"}, "adf")
    assert recovery.can_write_unseen({"description"}, "wiki")
    assert not recovery.can_write_unseen({"description"}, "adf")
    assert not recovery.can_write_unseen({"summary", "status"}, "wiki")
    assert not recovery.can_write_unseen({"labels"}, "wiki")


def test_an_issue_shows_the_recovered_values():
    issue = Issue("1", "OPS-1", "OPS", "u", "Ours", Body("wiki", "x"), "Task")
    shown = recovery.showing(
        issue,
        {"summary": "Bob's", "type": {"name": "Bug"}, "description": None},
    )
    assert (shown.summary, shown.issue_type, shown.description) == ("Bob's", "Bug", None)
    assert recovery.current_values(shown) == {
        "summary": "Bob's",
        "type": {"name": "Bug"},
        "description": None,
    }


# --- deciding it -------------------------------------------------------------------------------


def ours(value: str, seconds: float) -> Register:
    """The register an apply wrote here: the other end's value, ``local`` what we wrote."""
    digest = merge.value_hash("summary", value)
    return Register(digest, Stamp(at(seconds), "a"), None, digest, value)


def test_a_later_edit_wins_is_written_back_and_both_ends_record_the_conflict():
    state = {"summary": ours("Alice's", 3)}
    result = merge.recover_local(
        state, {"summary": ("Bob's", at(4))}, {"summary": "Alice's"}, origin="b"
    )
    edit = result.sent["summary"]
    assert (edit.stamp, edit.parent) == (Stamp(at(4), "b"), None)
    assert result.state["summary"] == edit and result.write == {"summary": "Bob's"}
    (conflict,) = result.conflicts
    assert (conflict.winner, conflict.local, conflict.remote) == ("local", "Bob's", "Alice's")
    # the other end takes it as a concurrent change that is later: a conflict there too
    there = merge.merge_remote(
        state, {"summary": "Bob's", "stamps": merge.stamps_json(result.sent)}, fallback_origin="b"
    )
    assert "summary" in there.write and there.conflicts[0].winner == "remote"


def test_an_earlier_edit_loses_keeps_ours_and_is_still_sent_for_the_record():
    state = {"summary": ours("Alice's", 5)}
    result = merge.recover_local(
        state, {"summary": ("Bob's", at(4))}, {"summary": "Alice's"}, origin="b"
    )
    assert result.state["summary"] == state["summary"] and result.write == {}
    assert result.sent["summary"].stamp == Stamp(at(4), "b")
    (conflict,) = result.conflicts
    assert (conflict.winner, conflict.value) == ("remote", "Alice's")
    there = merge.merge_remote(
        state, {"summary": "Bob's", "stamps": merge.stamps_json(result.sent)}, fallback_origin="b"
    )
    assert "summary" not in there.write and there.conflicts[0].winner == "local"


def test_nothing_is_recovered_once_the_tracker_no_longer_shows_our_write_or_the_same_value():
    state = {"summary": ours("Alice's", 3)}
    edited_again = merge.recover_local(
        state, {"summary": ("Bob's", at(4))}, {"summary": "Bob's again"}, origin="b"
    )
    same = merge.recover_local(
        state, {"summary": ("Alice's", at(4))}, {"summary": "Alice's"}, origin="b"
    )
    for result in (edited_again, same):
        assert (result.sent, result.state, result.write, result.conflicts) == ({}, {}, {}, ())


# --- two ends, apply writing unseen ------------------------------------------------------------


@dataclass
class Site:
    """One end: its tracker's summary and changelog, registers, inbox from the other end."""

    name: str
    summary: str = "Printer on fire"
    changelog: list = field(default_factory=list)
    last_read: str | None = None
    state: merge.State = field(default_factory=dict)
    inbox: list = field(default_factory=list)
    sent: int = 0
    applied: int = 0
    conflicts: list = field(default_factory=list)
    clock: float = 0.0
    skew: float = 0.0
    unread: bool = False  # a person's edit this end has not read yet
    overwritten: str | None = None  # such an edit, then replaced by our write
    must_record: list = field(default_factory=list)

    def now(self) -> str:
        return at(self.clock + self.skew)

    def write(self, value: str, who: str) -> None:
        if who != BOT:
            self.unread, self.overwritten = True, None
        elif self.unread and self.overwritten is None and value != self.summary:
            self.overwritten = self.summary
        self.clock += 1
        self.summary = value
        self.changelog.append(FieldChange("summary", self.now(), who, to_string=value))

    def ingest(self, other: Site) -> None:
        """Read the issue (recovering what our writes replaced unseen); send any edit."""
        found = recovery.replica_values(
            recovery.overwritten(self.changelog, since=self.last_read, ours=BOT), "wiki"
        )
        found = {k: v for k, v in found.items() if k == "summary"}
        if self.overwritten is not None and self.overwritten != self.summary:
            self.must_record.append(self.overwritten)  # (else written back to it: no loss)
        rec = merge.recover_local(self.state, found, {"summary": self.summary}, origin=self.name)
        shown = self.summary
        if "summary" in rec.write:
            self.write(rec.write["summary"], BOT)
        if "summary" in rec.sent:
            shown = found["summary"][0]
        self.last_read = self.now()
        self.unread, self.overwritten = False, None
        replica = {"summary": shown}
        state, changed = merge.observe_local(
            {**self.state, **rec.sent}, replica, at=self.now(), origin=self.name
        )
        self.state = {**state, **rec.state}
        self.conflicts.extend(c.to_json() for c in rec.conflicts)
        if changed or rec.sent:
            self.sent += 1
            stamps = merge.stamps_json({**state})
            other.inbox.append({**replica, "version": self.sent, "stamps": stamps})

    def apply(self, index: int = 0) -> None:
        replica = self.inbox.pop(index)
        if replica["version"] <= self.applied:
            return
        self.applied = replica["version"]
        result = merge.merge_remote(self.state, replica, fallback_origin="peer")
        written = {"summary": replica["summary"]} if "summary" in result.write else {}
        if written:
            self.write(written["summary"], BOT)  # without looking first
        self.state = merge.after_write(result.state, written)
        self.conflicts.extend(c.to_json() for c in result.conflicts)


def settled(a: Site, b: Site) -> None:
    for _ in range(10):
        while a.inbox or b.inbox:
            if a.inbox:
                a.apply()
            if b.inbox:
                b.apply()
        a.ingest(b)
        b.ingest(a)
        if not a.inbox and not b.inbox:
            return
    raise AssertionError("the two ends keep sending each other changes")


def sites(skew: float = 0.0) -> tuple[Site, Site]:
    a, b = Site("a"), Site("b", skew=skew + 0.5)
    a.ingest(b)
    b.apply()
    b.ingest(a)
    settled(a, b)
    return a, b


def test_an_edit_overwritten_unseen_is_the_value_on_both_ends_when_it_is_the_later():
    a, b = sites()
    a.write("Alice's", "alice")
    b.write("Bob's", "bob")  # later; b has not read it
    a.ingest(b)
    b.apply()  # Alice's written over Bob's, unseen
    assert b.summary == "Alice's"
    settled(a, b)
    assert a.summary == b.summary == "Bob's"
    assert [c["winner"] for c in a.conflicts] == ["remote"]
    assert [c["winner"] for c in b.conflicts] == ["local"]


SUMMARIES = st.sampled_from(["one", "two", "three"])
STEP = st.one_of(
    st.tuples(st.just("edit"), st.sampled_from("ab"), SUMMARIES),
    st.tuples(st.just("ingest"), st.sampled_from("ab"), st.none()),
    st.tuples(st.just("deliver"), st.sampled_from("ab"), st.integers(0, 3)),
)


def run(steps, skew: float) -> tuple[Site, Site]:
    a, b = sites(skew)
    ends = {"a": a, "b": b}
    for kind, who, what in steps:
        me, other = ends[who], ends["b" if who == "a" else "a"]
        if kind == "edit":
            me.write(what, f"person-{who}")
        elif kind == "ingest":
            me.ingest(other)
        elif me.inbox:
            me.apply(min(what, len(me.inbox) - 1))
    settled(a, b)
    return a, b


@settings(max_examples=300, deadline=None)
@given(st.lists(STEP, max_size=30), st.sampled_from([0.0, -3600.0, 3600.0]))
def test_with_unseen_writes_both_ends_still_reach_the_same_value(steps, skew):
    a, b = run(steps, skew)
    assert a.summary == b.summary
    assert (a.state["summary"].value, a.state["summary"].stamp) == (
        b.state["summary"].value,
        b.state["summary"].stamp,
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(STEP, max_size=30))
def test_an_edit_our_write_replaced_unseen_is_recorded_not_dropped(steps):
    """A person's edit that an apply overwrote before this end read it (and that the
    person did not replace themselves after seeing ours) is found by the next read and
    recorded as a conflict here: never dropped unseen. (The other end records it too,
    unless its own value was that same one by then: no conflict over equal values.)"""
    a, b = run(steps, 0.0)
    for site in (a, b):
        for value in site.must_record:
            assert value in {c["local_value"] for c in site.conflicts}


def test_a_read_showing_other_values_than_the_registers_is_told_apart():
    issue = Issue("1", "OPS-1", "OPS", "u", "Alice's", None, "Task")
    state = {"summary": ours("Alice's", 3)}
    assert not recovery.shows_edits(state, issue)
    assert recovery.shows_edits(state, replace(issue, summary="Bob's"))
    assert not recovery.shows_edits({}, replace(issue, summary="Bob's"))  # nothing known yet
