"""Issue 18: the other side's worklogs as create/update/delete operations (pure)."""

from __future__ import annotations

from msgspec.structs import replace

from chalicelib.rules.worklogs import attributed_comment, merge_worklogs, worklog_hash
from tests.unit.rules.script_helpers import context

WL1 = {
    "id": "w1",
    "started": "2026-12-01T09:30:00.000+0100",
    "seconds": 3600,
    "comment": {"format": "text", "value": "fixed the printer"},
    "author": {"id": "acc-alice", "name": "Alice Smith"},
    "updated": "2026-12-01T10:30:00.000+0100",
}
WL2 = {**WL1, "id": "w2", "seconds": 600, "comment": None}


def ctx(worklogs, *, worklog_map=None, previous=None, fmt="wiki"):
    base = context({"key": "ALPHA-1", "worklogs": worklogs}, previous=previous, fmt=fmt)
    return replace(base, worklog_map=worklog_map or {})


def test_new_worklogs_are_created_with_the_attribution_line():
    ops = merge_worklogs(ctx([WL1, WL2]))
    assert [(op.action, op.remote_id) for op in ops] == [("create", "w1"), ("create", "w2")]
    first = ops[0]
    assert (first.started, first.seconds, first.local_id) == (WL1["started"], 3600, None)
    assert first.comment.format == "wiki"
    assert first.comment.value == "_Logged by Alice Smith on Acme_\n\nfixed the printer"
    assert ops[1].comment.value == "_Logged by Alice Smith on Acme_"
    assert first.hash == worklog_hash(WL1)


def test_the_attribution_in_each_format():
    adf = attributed_comment(WL1, "Acme", "adf")
    assert adf.format == "adf" and adf.value["type"] == "doc"
    lead = adf.value["content"][0]["content"][0]
    assert lead["text"] == "Logged by Alice Smith on Acme"
    assert "fixed the printer" in str(adf.value["content"][1:])
    text = attributed_comment({**WL1, "author": None}, "Acme", "text")
    assert text.value.startswith("Logged by someone on Acme\n\n")


def test_unchanged_worklogs_are_left_alone_and_changed_ones_updated():
    mapped = {
        "w1": {"local_id": "L1", "hash": worklog_hash(WL1)},
        "w2": {"local_id": "L2", "hash": worklog_hash(WL2)},
    }
    assert merge_worklogs(ctx([WL1, WL2], worklog_map=mapped)) == ()
    (op,) = merge_worklogs(ctx([WL1, {**WL2, "seconds": 900}], worklog_map=mapped))
    assert (op.action, op.remote_id, op.local_id, op.seconds) == ("update", "w2", "L2", 900)


def test_a_worklog_no_longer_there_is_deleted_by_the_map_or_the_previous_replica():
    mapped = {"w1": {"local_id": "L1", "hash": worklog_hash(WL1)}}
    (op,) = merge_worklogs(ctx([], worklog_map=mapped))
    assert (op.action, op.remote_id, op.local_id) == ("delete", "w1", "L1")
    # without the map (the worker resolves the local id from the twin's own map)
    ops = merge_worklogs(ctx([WL2], previous={"worklogs": [WL1, WL2]}))
    assert [(o.action, o.remote_id, o.local_id) for o in ops] == [
        ("create", "w2", None),
        ("delete", "w1", None),
    ]


def test_a_chosen_list_replaces_the_replicas():
    ops = merge_worklogs(ctx([WL1, WL2]), [WL2])
    assert [(op.action, op.remote_id) for op in ops] == [("create", "w2")]
