"""Drift scan and repair on a local connection (OPS ↔ SUP on one node): the comparison of
both ends, the report, the repair, and bad input."""

from __future__ import annotations

from msgspec.structs import replace

from chalicelib.trackers.base import IssueFields
from tests.factories import ALICE, comment


def scan(ops):
    status, body = ops.api("POST", ops.conn("/drift-scan"), {})
    assert status == 202, body
    ops.pump.drain()
    return finished(ops, body["job_id"])


def finished(ops, job_id):
    status, job = ops.api("GET", f"/api/v1/jobs/{job_id}")
    assert status == 200, job
    assert job["state"] == "done", job
    return job


def repair(ops, scan_id):
    status, body = ops.api("POST", ops.conn(f"/drift-scan/{scan_id}/repair"), {})
    assert status == 202, body
    ops.pump.drain()
    return finished(ops, body["job_id"])


def silently_set_summary(ops, key, summary):
    """The tracker holds another value without any change event (a restore, a DB edit):
    ``updated`` stays, no webhook, the sweep cannot see it."""
    ops.tracker.issues[key] = replace(ops.tracker.issues[key], summary=summary)


def add_human_comment(ops, key, cid, text):
    issue = ops.tracker.issues[key]
    ops.tracker.issues[key] = replace(
        issue, comments=(*issue.comments, comment(cid, text, author=ALICE, fmt="wiki"))
    )
    ops.webhook(key)
    ops.pump.drain()


def test_a_healthy_connection_has_no_drift(ops):
    ops.sync_pair("first")
    ops.sync_pair("second")
    job = scan(ops)
    assert job["kind"] == "drift_scan" and job["total"] == 2 and job["done"] == 2
    result = job["result"]
    assert (result["scanned"], result["drifted"], result["pending"]) == (2, 0, 0), result
    assert result["twins"] == []


def test_a_value_the_tracker_lost_is_found_and_repaired_from_the_other_end(ops):
    key, other = ops.sync_pair("Printer on fire")
    ops.sync_pair("Untouched")
    silently_set_summary(ops, other, "Printer fine")
    job = scan(ops)
    assert job["result"]["drifted"] == 1 and job["result"]["scanned"] == 2
    (found,) = job["result"]["twins"]
    assert (found["local_key"], found["remote_key"], found["fields"]) == (key, other, ["summary"])
    assert found["comments"] == {"missing_here": [], "missing_there": []}

    done = repair(ops, job["id"])
    assert done["kind"] == "drift_repair" and done["source_job"] == job["id"]
    assert done["result"]["repaired"] == 1 and done["result"]["resent_here"] == 1
    assert ops.tracker.issues[other].summary == "Printer on fire"
    assert ops.tracker.issues[key].summary == "Printer on fire"
    again = scan(ops)
    assert (again["result"]["drifted"], again["result"]["pending"]) == (0, 0), again["result"]


def test_registers_that_disagree_are_drift_and_the_later_one_is_written_on_both(ops):
    from chalicelib.rules import merge
    from chalicelib.store.models import TwinModel

    key, other = ops.sync_pair("Original")
    # a change here that the other end never received (a lost replica): our register and
    # our tracker say "Renamed", the other end's register still "Original"
    ops.tracker.update_issue(key, IssueFields(summary="Renamed"))
    twin = ops.twin(key)
    state = merge.load(twin.merge_state)
    replica = {"summary": "Renamed"}
    state = merge.force_local(state, replica, ["summary"], at=merge.stamp_time(None), origin="x")
    twin.update(
        actions=[
            TwinModel.merge_state.set(merge.dump(state)),
            TwinModel.seen_updated.set(ops.tracker.issues[key].updated),
        ]
    )
    job = scan(ops)
    assert [t["fields"] for t in job["result"]["twins"]] == [["summary"]], job["result"]
    repair(ops, job["id"])
    assert ops.tracker.issues[other].summary == "Renamed"
    assert scan(ops)["result"]["drifted"] == 0


def test_a_deleted_mirror_comment_is_reported_and_brought_back(ops):
    key, other = ops.sync_pair("With a comment")
    add_human_comment(ops, key, "c-ops-1", "it smokes")
    (mirror,) = ops.tracker.issues[other].comments
    ops.tracker.delete_comment(other, mirror.id)  # by the integration user: never synced
    job = scan(ops)
    (found,) = job["result"]["twins"]
    assert found["fields"] == []
    assert found["comments"] == {"missing_here": [], "missing_there": ["c-ops-1"]}

    repair(ops, job["id"])
    (back,) = ops.tracker.issues[other].comments
    assert back.id != mirror.id and "it smokes" in str(back.body.value)
    assert scan(ops)["result"]["drifted"] == 0


def test_an_edit_not_read_yet_is_pending_not_drift(ops):
    key, _ = ops.sync_pair("Before")
    ops.tracker.update_issue(key, IssueFields(summary="After"))  # no webhook handled yet
    result = scan(ops)["result"]
    assert (result["drifted"], result["pending"]) == (0, 1), result


def test_entries_waiting_in_an_outbox_make_a_twin_pending(ops):
    from chalicelib.store.models import EntryModel
    from chalicelib.store.namespaces import outbox_pk

    ops.sync_pair("Busy")
    entry = next(iter(EntryModel.query(outbox_pk(ops.connection_id))))
    entry.update(actions=[EntryModel.state.set("pending")])
    result = scan(ops)["result"]
    assert (result["drifted"], result["pending"]) == (0, 1), result


def test_a_replica_waiting_for_its_parent_makes_a_twin_pending(ops):
    """Issue 18: an inbox entry that waits for its parent's first sync is under way."""
    from chalicelib.store.models import EntryModel
    from chalicelib.store.namespaces import inbox_pk

    ops.sync_pair("Child")
    entry = next(iter(EntryModel.query(inbox_pk(ops.other_id))))
    entry.update(actions=[EntryModel.state.set("waiting")])
    result = scan(ops)["result"]
    assert (result["drifted"], result["pending"]) == (0, 1), result


def test_bad_input_is_refused_and_starts_nothing(ops):
    from chalicelib.ops.jobs import jobs_of

    ops.sync_pair("Some issue")
    status, body = ops.api("POST", ops.conn("/drift-scan"), {"repair": "yes please"})
    assert (status, body["error"]["code"]) == (400, "unknown_field")
    status, body = ops.api("POST", ops.conn("/drift-scan"), ["not", "an", "object"])
    assert status == 400, body
    status, body = ops.api("POST", "/api/v1/connections/nope/drift-scan", {})
    assert (status, body["error"]["code"]) == (404, "connection_not_found")
    assert jobs_of(ops.connection_id) == []

    status, body = ops.api("POST", ops.conn("/drift-scan/job-nope/repair"), {})
    assert (status, body["error"]["code"]) == (404, "job_not_found")
    clean = scan(ops)
    status, body = ops.api("POST", ops.conn(f"/drift-scan/{clean['id']}/repair"), {})
    assert (status, body["error"]["code"]) == (409, "nothing_to_repair")
    bulk = ops.api("POST", ops.conn("/bulk-sync"), {"jql": "project = OPS"})[1]["job_id"]
    ops.pump.drain()
    status, body = ops.api("POST", ops.conn(f"/drift-scan/{bulk}/repair"), {})
    assert (status, body["error"]["code"]) == (404, "job_not_found")
    assert {j["kind"] for j in jobs_of(ops.connection_id)} == {"drift_scan", "bulk_sync"}


def test_the_node_route_needs_the_peer_token(ops):
    status, body = ops.api("POST", f"/node/v1/connections/{ops.connection_id}/drift", {})
    assert status == 401, body


def test_a_repair_does_not_forget_a_comment_an_apply_mapped_after_the_twin_was_read(ops):
    """The repair works on the twin as the drift job read it. An apply that maps a new
    comment before the repair writes must keep its entry: the repair forgets lost mirrors
    under the twin's lease, from the maps as they are then (else the next resend would
    post that comment a second time)."""
    from chalicelib.ops.drift import EndRepair
    from chalicelib.ops.drift_ends import repair as repair_end
    from chalicelib.root import root
    from chalicelib.store.models import TwinModel
    from chalicelib.sync.links import get_connection

    key, other = ops.sync_pair("Two comments")
    add_human_comment(ops, key, "c-ops-1", "first")
    (mirror,) = ops.tracker.issues[other].comments
    connection = get_connection(ops.other_id)
    (stale,) = [t for t in TwinModel.query(ops.other_id) if t.local_key == other]
    ops.tracker.delete_comment(other, mirror.id)  # lost: the repair forgets it
    add_human_comment(ops, key, "c-ops-2", "second")  # an apply maps it meanwhile
    (second,) = ops.tracker.issues[other].comments

    deps = root().sync
    outcome = repair_end(connection, stale, EndRepair(), deps=deps)

    assert outcome["forgotten"] == 1
    kept = TwinModel.get(ops.other_id, other, consistent_read=True).comment_map
    assert [str(v.get("local_id") if isinstance(v, dict) else v) for v in kept.values()] == [
        second.id
    ]
    assert TwinModel.get(ops.other_id, other, consistent_read=True).lease_until is None
