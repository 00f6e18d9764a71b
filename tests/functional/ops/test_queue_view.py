"""The sync queue view: what waits in a connection, and for how long."""

from __future__ import annotations

from chalicelib.trackers.base import IssueFields


def test_pending_outgoing_and_incoming_entries_and_their_age(ops):
    key, _other = ops.sync_pair()
    status, empty = ops.api("GET", ops.conn("/queue"))
    assert status == 200
    assert empty["outgoing"] == {"pending": 0, "oldest_age_s": None}
    assert empty["incoming"]["pending"] == 0 and empty["open_errors"] == 0
    assert empty["peer"]["local"] is True and empty["peer"]["behind"] is None

    ops.tracker.update_issue(key, IssueFields(summary="changed"))
    ops.webhook(key)
    ops.pump.runner.drain_once(
        next(s for s in ops.pump.sources if s.name == "ingest"), ops.pump.resources.ingest_queue_url
    )
    waiting = ops.api("GET", ops.conn("/queue"))[1]
    assert waiting["outgoing"]["pending"] == 1 and waiting["outgoing"]["oldest_age_s"] >= 0
    ops.pump.runner.drain_once(
        next(s for s in ops.pump.sources if s.name == "deliver"),
        ops.pump.resources.deliver_queue_url,
    )
    there = ops.api("GET", f"/api/v1/connections/{ops.other_id}/queue")[1]
    assert there["incoming"]["pending"] == 1
    ops.pump.drain()
    assert ops.api("GET", f"/api/v1/connections/{ops.other_id}/queue")[1]["incoming"] == {
        "pending": 0,
        "held": 0,
        "waiting": 0,
        "oldest_age_s": None,
        "waiting_for_parent": [],
    }


def test_unknown_connection_is_a_404(ops):
    status, body = ops.api("GET", "/api/v1/connections/nope/queue")
    assert (status, body["error"]["code"]) == (404, "connection_not_found")
