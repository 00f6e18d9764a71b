"""The drift comparison (pure): what is drift, what is merely in flight, who repairs."""

from __future__ import annotations

import pytest

from chalicelib.ops.drift import FieldView, InvalidView, TwinView, compare, parse_batch

S1 = ("2026-01-02T10:00:00.000Z", "a#c")
S2 = ("2026-01-02T11:00:00.000Z", "b#c")


def view(key, twin, *, summary=("h1", "h1", S1, "h1"), **kw):
    current, value, stamp, local = summary
    fields = {"summary": FieldView(current, value, stamp, local)}
    return TwinView(key, twin, fields=fields, sent_version=1, applied_version=1, **kw)


def test_equal_ends_are_clean():
    assert compare(view("A-1", "B-1"), view("B-1", "A-1")).state == "clean"


def test_a_tracker_that_differs_from_its_register_is_repaired_from_the_other_end():
    there = view("B-1", "A-1", summary=("h9", "h1", S1, "h1"))
    finding = compare(view("A-1", "B-1"), there)
    assert (finding.state, finding.fields) == ("drifted", ("summary",))
    assert finding.plan.here.fields == ("summary",) and finding.plan.here.after == {"summary": S1}
    assert not finding.plan.there.acts


def test_the_later_register_is_the_source_when_the_registers_disagree():
    there = view("B-1", "A-1", summary=("h2", "h2", S2, "h2"))
    finding = compare(view("A-1", "B-1"), there)
    assert finding.plan.there.fields == ("summary",) and not finding.plan.here.fields


@pytest.mark.parametrize(
    "here, there",
    [
        (view("A-1", "B-1", pending=True), view("B-1", "A-1")),
        (view("A-1", "B-1"), TwinView("B-1", "A-1", sent_version=1, applied_version=0)),
        (view("A-1", "B-1", summary=("h9", "h1", S1, "h1"), unread=True), view("B-1", "A-1")),
        (view("A-1", "B-1", comments=("c1",), unread=True), view("B-1", "A-1")),
    ],
    ids=["entries", "versions", "unread edit", "unread comment"],
)
def test_what_is_in_flight_is_pending_not_drift(here, there):
    assert compare(here, there).state == "pending"


def test_a_comment_without_a_mirror_is_resent_by_its_owner():
    here = view("A-1", "B-1", comments=("c1", "c2"))
    there = view("B-1", "A-1", have_comments=("c1",))
    finding = compare(here, there)
    assert finding.comments_missing_there == ("c2",) and finding.plan.here.resend
    assert not finding.plan.there.acts


def test_a_view_round_trips_and_bad_batches_are_refused():
    original = view("A-1", "B-1", comments=("c1",), have_attachments=("a1",))
    assert parse_batch([original.to_json()]) == [original]
    for bad in ([], [{"key": 1}], [{"key": "A-1", "fields": {"summary": {}}}], [{}] * 51):
        with pytest.raises(InvalidView):
            parse_batch(bad)
