"""The link back: each synced issue carries a remote link to its twin, gone when syncing stops.

(A local connection: both ends in one tracker, projects OPS and SUP.)
"""

from __future__ import annotations

from chalicelib.trackers.base import IssueFields, PermissionDenied


def links(ops, key):
    return {g: (x.title, x.url) for g, x in ops.tracker.links.get(key, {}).items()}


def test_both_issues_of_a_twin_link_to_each_other_once(ops):
    key, other = ops.sync_pair("Printer on fire")
    mine, theirs = ops.tracker.issues[key], ops.tracker.issues[other]
    assert links(ops, key) == {
        f"twinsync:{ops.connection_id}": (f"Synced with {other} by Twinsync", theirs.url)
    }
    assert links(ops, other) == {
        f"twinsync:{ops.other_id}": (f"Synced with {key} by Twinsync", mine.url)
    }
    placed = ops.tracker.calls.count("put_remote_link")
    assert placed == 2
    # later changes do not place it again
    ops.tracker.update_issue(key, IssueFields(summary="Printer fixed"))
    ops.webhook(key)
    ops.pump.drain()
    assert ops.tracker.issues[other].summary == "Printer fixed"
    assert ops.tracker.calls.count("put_remote_link") == placed


def test_stopping_removes_both_links_and_syncing_again_brings_them_back(ops):
    key, other = ops.sync_pair("Printer on fire")
    assert ops.api("DELETE", ops.conn(f"/twins/{key}"))[0] == 204
    ops.pump.drain()
    assert links(ops, key) == {} and links(ops, other) == {}
    assert {key, other} <= set(ops.tracker.issues)  # both issues stay

    assert ops.api("POST", ops.conn("/sync"), {"issue_key": key})[0] == 202
    ops.pump.drain()
    assert set(links(ops, key)) == {f"twinsync:{ops.connection_id}"}
    assert set(links(ops, other)) == {f"twinsync:{ops.other_id}"}


def test_a_tracker_that_refuses_remote_links_still_syncs_and_a_later_apply_places_them(ops):
    ops.tracker.refuse["put_remote_link"] = PermissionDenied("no link permission", status=403)
    key, other = ops.sync_pair("Printer on fire")
    assert ops.tracker.issues[other].summary == "Printer on fire"
    assert links(ops, key) == {} and links(ops, other) == {}
    _, errors = ops.api("GET", "/api/v1/errors")
    assert errors == []

    del ops.tracker.refuse["put_remote_link"]
    ops.tracker.update_issue(key, IssueFields(summary="Printer fixed"))
    ops.webhook(key)
    ops.pump.drain()
    assert set(links(ops, other)) == {f"twinsync:{ops.other_id}"}  # its apply placed it


def test_deleting_the_connection_takes_the_links_off_every_twin_a_page_at_a_time(ops, monkeypatch):
    from chalicelib.ops import teardown

    monkeypatch.setattr(teardown, "PAGE", 2)  # five twins: three pages
    pairs = [ops.sync_pair(f"Printer {n}") for n in range(5)]
    keys = [key for pair in pairs for key in pair]
    assert all(links(ops, key) for key in keys)
    assert ops.api("DELETE", f"/api/v1/connections/{ops.connection_id}")[0] == 204
    ops.pump.drain()
    assert {key: links(ops, key) for key in keys} == {key: {} for key in keys}
    assert set(keys) <= set(ops.tracker.issues)  # the issues stay
    removed = ops.tracker.calls.count("delete_remote_link")
    ops.pump.drain()  # nothing is queued twice
    assert ops.tracker.calls.count("delete_remote_link") == removed == len(keys)
