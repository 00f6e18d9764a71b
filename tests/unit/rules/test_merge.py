"""The field merge: the same result on both ends whatever the order, no one-sided edit lost.

Two ends are simulated with nothing but the pure merge functions: each has a tracker
(field values), registers, and an inbox of replicas from the other end that arrive in an
order the test (or hypothesis) picks; a replica older than one already applied is dropped,
as apply does by version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.rules import merge
from chalicelib.rules.merge import Stamp
from chalicelib.rules.orset import ORSet

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def at(seconds: float) -> str:
    return merge.stamp_time((T0 + timedelta(seconds=seconds)).isoformat())


@dataclass
class End:
    name: str
    values: dict = field(default_factory=lambda: {"summary": "Printer on fire", "labels": []})
    state: merge.State = field(default_factory=dict)
    inbox: list = field(default_factory=list)
    version_sent: int = 0
    version_applied: int = 0
    conflicts: list = field(default_factory=list)
    skew: float = 0.0  # this tracker's clock, relative to the other's
    clock: float = 0.0
    prefer: dict = field(default_factory=dict)  # field -> the side a conflict keeps

    def replica(self) -> dict:
        return {"summary": self.values["summary"], "labels": list(self.values["labels"])}

    def edit(self, name: str, value) -> None:
        self.values[name] = sorted(value) if name == "labels" else value  # Jira sorts labels
        self.clock += 1

    def ingest(self, other: End) -> None:
        """Read the issue; send a replica when a field was edited here."""
        replica = self.replica()
        self.state, changed = merge.observe_local(
            self.state, replica, at=at(self.clock + self.skew), origin=self.name
        )
        if changed:
            self.version_sent += 1
            other.inbox.append(
                {**replica, "version": self.version_sent, "stamps": merge.stamps_json(self.state)}
            )

    def apply(self, index: int = 0) -> bool:
        replica = self.inbox.pop(index)
        if replica["version"] <= self.version_applied:
            return False  # not newer: dropped
        self.version_applied = replica["version"]
        result = merge.merge_remote(self.state, replica, fallback_origin="peer", prefer=self.prefer)
        incoming = {**replica, **result.values}  # a set merged from both sides
        written = {name: incoming[name] for name in result.write if name in self.values}
        if "labels" in written:
            written["labels"] = sorted(written["labels"])
        self.values.update(written)
        self.state = merge.after_write(result.state, written)
        self.conflicts.extend(c.to_json() for c in result.conflicts)
        return bool(result.send_back)

    def receive(self, other: End, index: int = 0) -> None:
        """Apply the next replica; a value kept here by a rule is sent back at once."""
        if self.apply(index):
            self.version_sent += 1
            replica = self.replica()
            stamps = merge.stamps_json(self.state)
            other.inbox.append({**replica, "version": self.version_sent, "stamps": stamps})


def settle(a: End, b: End) -> None:
    """Deliver everything, read both issues again, until nothing moves."""
    for _ in range(10):
        while a.inbox or b.inbox:
            if a.inbox:
                a.receive(b)
            if b.inbox:
                b.receive(a)
        a.ingest(b)
        b.ingest(a)
        if not a.inbox and not b.inbox:
            return
    raise AssertionError("the two ends keep sending each other changes")


def pair() -> tuple[End, End]:
    a, b = End("a"), End("b")
    a.ingest(b)  # first sync: b creates its twin from a's replica
    b.apply()
    b.ingest(a)
    settle(a, b)
    return a, b


# --- the reported losses, one by one --------------------------------------------------------


def test_an_echo_of_an_older_value_does_not_overwrite_a_newer_edit():
    a, b = pair()
    b.edit("summary", "Renamed by Bob")
    b.ingest(a)
    a.apply()  # a now shows Bob's title
    a.edit("labels", ["customer"])  # Alice changes something else: a's replica carries the title
    a.ingest(b)
    b.edit("summary", "Renamed again by Bob")  # not yet read on b
    b.apply()  # the echo of Bob's first title
    assert b.values["summary"] == "Renamed again by Bob"
    settle(a, b)
    assert a.values["summary"] == b.values["summary"] == "Renamed again by Bob"
    assert a.values["labels"] == b.values["labels"] == ["customer"]
    assert a.conflicts == b.conflicts == []


def test_our_own_write_read_back_is_not_an_edit_made_here():
    a, b = pair()
    a.edit("summary", "From a")
    a.ingest(b)
    b.apply()
    b.ingest(a)  # b reads what it wrote
    assert a.inbox == []


def test_an_edit_made_right_after_an_apply_is_sent():
    a, b = pair()
    a.edit("summary", "From a")
    a.ingest(b)
    b.apply()
    b.edit("summary", "Bob, right after")  # before b read the issue again
    b.ingest(a)
    assert [r["summary"] for r in a.inbox] == ["Bob, right after"]
    settle(a, b)
    assert a.values["summary"] == b.values["summary"] == "Bob, right after"
    assert a.conflicts == b.conflicts == []


def test_the_same_field_changed_on_both_sides_ends_as_the_later_change_on_both():
    a, b = pair()
    a.edit("summary", "Alice's")
    a.ingest(b)
    b.clock = a.clock + 5
    b.edit("summary", "Bob's, later")
    b.ingest(a)
    settle(a, b)
    assert a.values["summary"] == b.values["summary"] == "Bob's, later"
    (on_a,) = a.conflicts
    (on_b,) = b.conflicts
    assert on_a["winner"] == "remote" and on_b["winner"] == "local"
    assert on_a["remote_value"] == on_b["local_value"] == "Bob's, later"
    assert on_a["local_value"] == on_b["remote_value"] == "Alice's"


def test_a_conflict_keeps_the_side_the_rule_names_even_when_it_changed_earlier():
    a, b = pair()
    a.prefer, b.prefer = {"summary": "local"}, {"summary": "remote"}
    a.edit("summary", "Alice's, earlier")
    a.ingest(b)
    b.clock = a.clock + 5
    b.edit("summary", "Bob's, later")
    b.ingest(a)
    settle(a, b)
    assert a.values["summary"] == b.values["summary"] == "Alice's, earlier"
    assert [c["value"] for c in a.conflicts] == [c["value"] for c in b.conflicts]
    b.edit("summary", "Bob, after seeing Alice's")  # not a conflict: a later edit wins
    b.ingest(a)
    settle(a, b)
    assert a.values["summary"] == b.values["summary"] == "Bob, after seeing Alice's"


def test_a_rule_on_one_end_only_still_keeps_that_ends_value_on_both():
    a, b = pair()
    a.prefer = {"summary": "local"}  # Script mode's conflict_rules on a; b has none
    a.edit("summary", "Alice's, earlier")
    a.ingest(b)
    b.clock = a.clock + 5
    b.edit("summary", "Bob's, later")
    b.ingest(a)
    settle(a, b)
    assert a.values["summary"] == b.values["summary"] == "Alice's, earlier"


def test_a_change_made_after_seeing_the_other_sides_value_wins_whatever_the_clocks():
    a, b = pair()
    b.skew = -3600  # b's tracker clock an hour behind
    a.edit("summary", "From a")
    a.ingest(b)
    b.apply()
    b.edit("summary", "Bob saw it, then changed it")
    b.ingest(a)
    settle(a, b)
    assert a.values["summary"] == b.values["summary"] == "Bob saw it, then changed it"
    assert a.conflicts == b.conflicts == []


def test_a_replica_without_stamps_is_read_as_protocol_1():
    _, b = pair()
    old = {"summary": "From an older node", "labels": [], "version": 99}
    b.inbox.append(old)
    b.apply()
    assert b.values["summary"] == "From an older node"


def test_stamps_order_by_time_then_origin():
    assert Stamp(at(1), "a") < Stamp(at(2), "a") < Stamp(at(2), "b")
    assert merge.stamp_time("2026-12-02T13:00:00.000+0100") == "2026-12-02T12:00:00.000Z"


def test_the_same_text_in_adf_and_wiki_is_the_same_value():
    wiki = {"format": "wiki", "value": "It *smokes*.\n"}
    adf = {
        "format": "adf",
        "value": {
            "type": "doc",
            "version": 1,
            "content": [
                {
                    "type": "paragraph",
                    "content": [
                        {"type": "text", "text": "It "},
                        {"type": "text", "text": "smokes", "marks": [{"type": "strong"}]},
                        {"type": "text", "text": "."},
                    ],
                }
            ],
        },
    }
    assert merge.value_hash("description", wiki) == merge.value_hash("description", adf)
    assert merge.value_hash("description", None) == merge.value_hash(
        "description", {"format": "wiki", "value": ""}
    )


def test_stored_state_round_trips():
    a, _ = pair()
    assert merge.load(merge.dump(a.state)) == a.state
    assert merge.load({"summary": {"v": 1}}) == {}  # damaged entries are dropped


# --- properties -------------------------------------------------------------------------------

SUMMARIES = st.sampled_from(["one", "two", "three", "four"])
LABELS = st.lists(st.sampled_from(["x", "y", "z"]), max_size=2, unique=True)
STEP = st.one_of(
    st.tuples(st.just("edit"), st.sampled_from("ab"), st.just("summary"), SUMMARIES),
    st.tuples(st.just("edit"), st.sampled_from("ab"), st.just("labels"), LABELS),
    st.tuples(st.just("ingest"), st.sampled_from("ab"), st.none(), st.none()),
    st.tuples(st.just("deliver"), st.sampled_from("ab"), st.integers(0, 3), st.none()),
)


def run(steps, skew: float, keep_a: str = "") -> tuple[End, End, dict]:
    a, b = pair()
    if keep_a == "visual":  # on_conflict: keep for a's side, a document both ends hold
        a.prefer, b.prefer = {"summary": "local"}, {"summary": "remote"}
    elif keep_a == "script":  # conflict_rules on a's end only: b does not know the rule
        a.prefer = {"summary": "local"}
    b.skew = skew + 0.5  # the two trackers' times never coincide to the millisecond
    ends = {"a": a, "b": b}
    last_edit: dict = {}
    for kind, who, what, value in steps:
        me, other = ends[who], ends["b" if who == "a" else "a"]
        if kind == "edit":
            me.edit(what, value)
            last_edit[what] = last_edit.get(what, set()) | {who}
        elif kind == "ingest":
            me.ingest(other)
        elif me.inbox:
            me.receive(other, min(what, len(me.inbox) - 1))  # out of order: older ones dropped
    settle(a, b)
    return a, b, last_edit


@settings(max_examples=300, deadline=None)
@given(
    st.lists(STEP, max_size=30),
    st.sampled_from([0.0, -3600.0, 3600.0]),
    st.sampled_from(["", "visual", "script"]),
)
def test_both_ends_reach_the_same_values_whatever_the_order(steps, skew, keep_a):
    a, b, _ = run(steps, skew, keep_a)
    assert a.values == b.values
    assert {k: (r.value, r.stamp) for k, r in a.state.items() if k in a.values} == {
        k: (r.value, r.stamp) for k, r in b.state.items() if k in b.values
    }


@settings(max_examples=300, deadline=None)
@given(
    st.lists(STEP, max_size=30),
    st.sampled_from([0.0, -3600.0, 3600.0]),
    st.sampled_from(["", "visual", "script"]),
)
def test_a_field_edited_on_one_side_only_keeps_its_last_edit(steps, skew, keep_a):
    a, b, edited = run(steps, skew, keep_a)
    ends = {"a": a, "b": b}
    for name, who in edited.items():
        if len(who) == 1:
            (side,) = who
            mine = [s for s in steps if s[0] == "edit" and s[1] == side and s[2] == name]
            last = sorted(mine[-1][3]) if name == "labels" else mine[-1][3]
            assert a.values[name] == b.values[name] == ends[side].values[name] == last


@settings(max_examples=300, deadline=None)
@given(st.lists(STEP, max_size=30))
def test_every_conflict_is_decided_the_same_way_on_both_ends(steps):
    """A conflict both ends saw (the same two changes) has the same outcome on both. (An end
    can also see a value the other end itself replaced before the two met: that one is
    recorded where it was seen, and the final values agree all the same.)"""
    a, b, _ = run(steps, 0.0)
    registers = [c for c in a.conflicts if c["field"] not in merge.SETS]
    on_a = _by_changes(registers)
    on_b = _by_changes([c for c in b.conflicts if c["field"] not in merge.SETS])
    for pair_of_changes in set(on_a) & set(on_b):
        assert on_a[pair_of_changes] == on_b[pair_of_changes]


def _by_changes(conflicts: list[dict]) -> dict:
    return {
        (c["field"], frozenset((c["local_changed_at"], c["remote_changed_at"]))): c["value"]
        for c in conflicts
    }


def test_labels_changed_on_both_sides_keep_the_adds_and_removes_of_both():
    a, b = pair()
    a.edit("labels", ["backend", "customer"])
    a.ingest(b)
    b.apply()
    b.ingest(a)
    settle(a, b)  # both: backend, customer
    a.edit("labels", ["backend", "urgent"])  # Alice: - customer, + urgent
    a.ingest(b)
    b.edit("labels", ["backend", "customer", "ios"])  # Bob: + ios
    b.ingest(a)
    settle(a, b)
    assert a.values["labels"] == b.values["labels"] == ["backend", "ios", "urgent"]
    assert [c["winner"] for c in a.conflicts] == [c["winner"] for c in b.conflicts] == ["both"]
    assert a.conflicts[0]["value"] == b.conflicts[0]["value"] == '["backend","ios","urgent"]'


def test_a_label_added_on_one_side_while_removed_on_the_other_survives():
    a, b = pair()
    a.edit("labels", ["x"])
    a.ingest(b)
    settle(a, b)
    a.edit("labels", [])  # Alice removes x
    a.ingest(b)
    b.edit("labels", ["x", "y"])  # Bob, not knowing, adds y (x untouched)
    b.ingest(a)
    settle(a, b)
    assert a.values["labels"] == b.values["labels"] == ["y"]
    c = ORSet().observe(["x"], "t1")
    removed, readded = c.observe([], "t2"), c.observe([], "t2").observe(["x"], "t3")
    assert removed.join(c).members() == [] and readded.join(c).members() == ["x"]
    assert readded.knows(removed) and not removed.knows(readded)
    assert c.observe(["x", "y"], "t4").observe(["x"], "t5").members() == ["x"]


def test_a_field_is_stamped_with_its_own_change_time_not_the_issues():
    times = merge.change_times(
        "2026-12-02T12:00:09.000+0000", {"summary": "2026-12-02T12:00:01.000Z"}
    )
    assert times["summary"] == "2026-12-02T12:00:01.000Z"  # our later comment moved `updated`
    assert times["description"] == "2026-12-02T12:00:09.000Z"


def test_an_add_made_on_both_ends_is_learnt_even_when_the_stamps_match():
    """Found by hypothesis: both ends add the same label; b joins a's add and keeps a's
    (later) stamp, so b's replica carries a's stamp with both adds. a must still learn b's
    add (its register has the same stamp but fewer members), else a's later remove takes
    out only its own add and the ends disagree for ever."""
    steps = [
        ("edit", "a", "summary", "one"),
        ("edit", "a", "labels", ["x"]),
        ("edit", "b", "labels", ["x"]),
        ("ingest", "a", None, None),
        ("ingest", "b", None, None),
        ("deliver", "b", 0, None),
        ("edit", "b", "summary", "two"),
        ("ingest", "b", None, None),
        ("edit", "a", "labels", []),
        ("deliver", "a", 1, None),
    ]
    a, b, _ = run(steps, 0.0)
    assert a.values == b.values == {"summary": "two", "labels": []}
