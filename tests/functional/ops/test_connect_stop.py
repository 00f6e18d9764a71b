"""Connect two existing issues; stop syncing on both ends; restart explicitly."""

from __future__ import annotations

import json

from msgspec.structs import replace

from chalicelib.trackers.base import Body, IssueFields
from tests.conftest import admin_headers
from tests.factories import ALICE, comment


def add_human_comment(ops, key, cid, text):
    issue = ops.tracker.issues[key]
    ops.tracker.issues[key] = replace(
        issue, comments=(*issue.comments, comment(cid, text, author=ALICE, fmt="wiki"))
    )


def test_connect_links_two_existing_issues_and_later_changes_sync_without_a_third(ops):
    mine = ops.tracker.add_issue("OPS", "Printer on fire (ops)")
    theirs = ops.tracker.add_issue("SUP", "Printer on fire (support)")
    add_human_comment(ops, theirs.key, "c-sup-1", "seen by support")
    status, twin = ops.api(
        "POST", ops.conn("/connect"), {"local_key": mine.key, "remote_key": theirs.key}
    )
    assert status == 201, twin
    assert twin["remote"]["key"] == theirs.key and twin["status"] == "queued"
    ops.pump.drain()
    assert ops.twin(mine.key).status == "synced"
    other = ops.twin(theirs.key, ops.other_id)
    assert other.remote_key == mine.key and other.status == "synced"
    assert len(ops.tracker.issues) == 2  # nothing created
    # connecting overwrote no field on either side; comments were merged
    assert ops.tracker.issues[theirs.key].summary == "Printer on fire (support)"
    assert ops.tracker.issues[mine.key].summary == "Printer on fire (ops)"
    assert any("seen by support" in c.body.value for c in ops.tracker.issues[mine.key].comments)

    ops.tracker.update_issue(mine.key, IssueFields(summary="Printer fixed"))
    ops.webhook(mine.key)
    ops.pump.drain()
    assert ops.tracker.issues[theirs.key].summary == "Printer fixed"
    assert len(ops.tracker.issues) == 2
    outcomes = [h["outcome"] for h in ops.history(mine.key)]
    assert f"connect requested with {theirs.key}" in outcomes


def test_connect_to_an_issue_that_does_not_exist_is_refused_at_once_and_records_nothing(ops):
    """A local connection's other end is asked in process before anything is recorded (the
    queued path, when the other end cannot be asked: tests/functional/test_connect_at_once.py)."""
    mine = ops.tracker.add_issue("OPS", "lonely")
    status, body = ops.api(
        "POST", ops.conn("/connect"), {"local_key": mine.key, "remote_key": "SUP-9"}
    )
    assert status == 404, body
    assert body["error"]["code"] == "remote_issue_not_found"
    assert body["error"]["field"] == "remote_key" and "SUP-9" in body["error"]["message"]
    assert ops.api("GET", ops.conn(f"/twins/{mine.key}"))[0] == 404
    ops.pump.drain()
    assert len(ops.tracker.issues) == 1
    # its later changes do not create anything over there
    ops.tracker.update_issue(mine.key, IssueFields(summary="still lonely"))
    ops.webhook(mine.key)
    ops.pump.drain()
    assert len(ops.tracker.issues) == 1


def test_connect_to_an_issue_the_other_end_is_syncing_already_is_refused_at_once(ops):
    """Only the other end knows: its first sync of that issue is not answered yet."""
    mine = ops.tracker.add_issue("OPS", "ours")
    theirs = ops.tracker.add_issue("SUP", "theirs")
    other_conn = f"/api/v1/connections/{ops.other_id}"
    assert ops.api("POST", other_conn + "/sync", {"issue_key": theirs.key})[0] == 202
    status, body = ops.api(
        "POST", ops.conn("/connect"), {"local_key": mine.key, "remote_key": theirs.key}
    )
    assert (status, body["error"]["code"]) == (409, "remote_issue_already_synced"), body
    assert theirs.key in body["error"]["message"]
    assert ops.api("GET", ops.conn(f"/twins/{mine.key}"))[0] == 404


def test_connect_refuses_what_is_already_synced(ops):
    key, other = ops.sync_pair()
    third = ops.tracker.add_issue("OPS", "third")
    assert ops.api("POST", ops.conn("/connect"), {"local_key": key, "remote_key": "SUP-77"})[1][
        "error"
    ]["code"] == ("already_synced")
    status, body = ops.api(
        "POST", ops.conn("/connect"), {"local_key": third.key, "remote_key": other}
    )
    assert (status, body["error"]["code"]) == (409, "already_synced")
    assert (
        ops.api("POST", ops.conn("/connect"), {"local_key": "OPS-404", "remote_key": other})[0]
        == 404
    )
    assert ops.api("POST", ops.conn("/connect"), {"local_key": "nope"})[0] == 400


def test_stop_keeps_both_issues_and_later_changes_no_longer_flow(ops):
    key, other = ops.sync_pair("Printer on fire")
    assert ops.api("DELETE", ops.conn(f"/twins/{key}"))[0] == 204
    ops.pump.drain()
    assert ops.twin(key).status == "stopped"
    assert ops.twin(other, ops.other_id).status == "stopped"
    assert ops.api("GET", ops.conn(f"/twins/{key}"))[1]["status"] == "stopped"
    assert {key, other} <= set(ops.tracker.issues)

    ops.tracker.update_issue(key, IssueFields(summary="changed here"))
    ops.webhook(key)
    ops.tracker.update_issue(other, IssueFields(summary="changed there"))
    ops.webhook(other)
    ops.pump.drain()
    assert ops.tracker.issues[other].summary == "changed there"
    assert ops.tracker.issues[key].summary == "changed here"
    assert ops.api("DELETE", ops.conn(f"/twins/{key}"))[0] == 204  # idempotent
    outcomes = [h["outcome"] for h in ops.history(other, ops.other_id)]
    assert "stopped: stopped" in outcomes
    _, audit = ops.api("GET", f"/api/v1/audit?connection_id={ops.connection_id}")
    assert audit[0]["action"] == "twin.sync_stopped" and audit[0]["details"]["local_key"] == key


def test_a_late_replica_cannot_recreate_the_link(ops):
    from chalicelib.root import root
    from chalicelib.rules import basic
    from chalicelib.rules.replica import stamp
    from chalicelib.store.models import TwinModel
    from chalicelib.sync.inbox import accept
    from chalicelib.sync.links import get_connection
    from chalicelib.sync.messages import parse_incoming

    key, other = ops.sync_pair("Printer on fire")
    version = ops.twin(key).last_sent_version
    ops.tracker.update_issue(key, IssueFields(summary="sent just before the stop"))
    late = stamp(
        basic.outgoing(
            ops.tracker.issues[key],
            connection_id=ops.connection_id,
            integration_user_id="acc-bot",
            attachment_sha={},
        ),
        version=version + 1,
    )
    late["twin_key"] = other
    ops.twin(key).update(actions=[TwinModel.last_sent_version.set(version + 1)])  # it was sent
    ops.api("DELETE", ops.conn(f"/twins/{key}"))
    ops.pump.drain()
    # the replica was on its way all along and arrives after the stop
    accept(get_connection(ops.other_id), [parse_incoming(late)], deps=root().sync)
    ops.pump.drain()
    assert ops.tracker.issues[other].summary == "Printer on fire"
    assert ops.twin(other, ops.other_id).status == "stopped"
    outcomes = [h["outcome"] for h in ops.history(other, ops.other_id)]
    assert "skipped: sync stopped (late change)" in outcomes


def test_syncing_again_is_an_explicit_act_that_restarts_both_ends(ops):
    key, other = ops.sync_pair("Printer on fire")
    ops.api("DELETE", ops.conn(f"/twins/{key}"))
    ops.pump.drain()
    ops.tracker.update_issue(key, IssueFields(summary="while stopped"))
    status, twin = ops.api("POST", ops.conn("/sync"), {"issue_key": key})
    assert status == 202 and twin["status"] == "queued"
    ops.pump.drain()
    assert ops.tracker.issues[other].summary == "while stopped"
    assert ops.twin(key).status == "synced" and ops.twin(other, ops.other_id).status == "synced"
    assert sum(1 for k in ops.tracker.issues if k.startswith("SUP-")) == 1
    # and changes flow both ways again
    ops.tracker.update_issue(other, IssueFields(summary="from support"))
    ops.webhook(other)
    ops.pump.drain()
    assert ops.tracker.issues[key].summary == "from support"


def test_the_other_end_can_restart_too(ops):
    key, other = ops.sync_pair("Printer on fire")
    ops.api("DELETE", ops.conn(f"/twins/{key}"))
    ops.pump.drain()
    ops.tracker.update_issue(other, IssueFields(summary="support restarts"))
    status, _ = ops.api("POST", f"/api/v1/connections/{ops.other_id}/sync", {"issue_key": other})
    assert status == 202
    ops.pump.drain()
    assert ops.tracker.issues[key].summary == "support restarts"
    assert ops.twin(key).status == "synced"


def test_deleting_a_synced_issue_comments_on_its_twin_by_default(ops):
    key, other = ops.sync_pair("Printer on fire")
    ops.tracker.delete_issue(key)
    ops.webhook(key, kind="issue_deleted")
    ops.pump.drain()
    assert ops.twin(key).status == "stopped" and "deleted" in ops.twin(key).error
    twin = ops.twin(other, ops.other_id)
    assert twin.status == "stopped"
    notes = [c.body.value for c in ops.tracker.issues[other].comments]
    assert any(key in n and "deleted" in n for n in notes)
    assert any(h["outcome"] == "twin deleted: comment" for h in ops.history(other, ops.other_id))


def test_the_deletion_policy_can_ignore_or_delete(ops):
    path = f"/api/v1/connections/{ops.other_id}/deletion-policy"
    assert ops.api("GET", path)[1] == {"on_twin_deleted": "comment"}
    assert ops.api("PUT", path, {"on_twin_deleted": "shred"})[0] == 400
    assert ops.api("PUT", path, {"on_twin_deleted": "ignore"})[1] == {"on_twin_deleted": "ignore"}
    key, other = ops.sync_pair("one")
    ops.tracker.delete_issue(key)
    ops.webhook(key, kind="issue_deleted")
    ops.pump.drain()
    assert ops.tracker.issues[other].comments == ()
    assert ops.twin(other, ops.other_id).status == "stopped"

    ops.api("PUT", path, {"on_twin_deleted": "delete"})
    key, other = ops.sync_pair("two")
    ops.tracker.delete_issue(key)
    ops.webhook(key, kind="issue_deleted")
    ops.pump.drain()
    assert other not in ops.tracker.issues
    _, audit = ops.api("GET", f"/api/v1/audit?connection_id={ops.other_id}")
    assert [e["details"]["to"] for e in audit if "deletion_policy" in e["action"]] == [
        "delete",
        "ignore",
    ]


def test_an_issue_that_is_only_unreadable_is_not_taken_for_deleted(ops):
    key, other = ops.sync_pair("Printer on fire")
    ops.tracker.delete_issue(key)  # gone, but the event is an update: no deletion notice
    ops.webhook(key, kind="issue_updated")
    ops.pump.drain()
    assert ops.twin(other, ops.other_id).status == "synced"


def test_the_incoming_guard_protects_local_twins_that_do_not_match_it(ops):
    from chalicelib.store.models import ConnectionModel
    from chalicelib.sync.links import get_connection

    key, other = ops.sync_pair("open: printer")
    end = get_connection(ops.other_id)
    end.update(actions=[ConnectionModel.incoming_guard_jql.set('summary ~ "open"')])
    ops.tracker.update_issue(key, IssueFields(summary="open: printer on fire"))
    ops.webhook(key)
    ops.pump.drain()
    assert ops.tracker.issues[other].summary == "open: printer on fire"  # matches: applied

    ops.tracker.update_issue(other, IssueFields(summary="closed by support"))
    ops.tracker.update_issue(key, IssueFields(summary="open again?"))
    ops.webhook(key)
    ops.pump.drain()
    assert ops.tracker.issues[other].summary == "closed by support"  # protected
    outcomes = [h["outcome"] for h in ops.history(other, ops.other_id)]
    assert "skipped: protected by the incoming guard" in outcomes


def test_history_records_both_directions_and_operations(ops):
    key, other = ops.sync_pair("Printer on fire")
    ops.tracker.update_issue(other, IssueFields(summary="reply", description=Body("wiki", "x")))
    ops.webhook(other)
    ops.pump.drain()
    status, history = ops.api("GET", ops.conn(f"/twins/{key}/history"))
    assert status == 200
    directions = {h["direction"] for h in history}
    assert directions == {"incoming", "outgoing"}
    assert any("summary" in h["changes"] for h in history if h["direction"] == "incoming")


def test_a_connect_that_meets_a_twin_being_synced_is_told_to_try_again_and_a_retry_works(ops):
    """Another worker holds the twin (its lease) when a connect would send the connect
    request: the answer is 409 ``twin_busy`` with ``Retry-After``, not a 500; the same
    request once the lease is gone links the pair."""
    from chalicelib.store.models import TwinModel, utcnow
    from chalicelib.sync.store import LEASE

    mine = ops.tracker.add_issue("OPS", "Printer on fire (ops)")
    theirs = ops.tracker.add_issue("SUP", "Printer on fire (support)")
    pair = {"local_key": mine.key, "remote_key": theirs.key}
    assert ops.api("POST", ops.conn("/connect"), pair)[0] == 201
    ops.pump.drain()
    assert ops.api("DELETE", ops.conn(f"/twins/{mine.key}"))[0] == 204
    ops.pump.drain()
    ops.twin(mine.key).update(actions=[TwinModel.lease_until.set(utcnow() + LEASE)])

    response = ops.client.http.post(
        ops.conn("/connect"), body=json.dumps(pair), headers=admin_headers()
    )
    assert response.status_code == 409, response.body
    assert json.loads(response.body)["error"]["code"] == "twin_busy"
    assert int(response.headers["Retry-After"]) >= 1

    ops.twin(mine.key).update(actions=[TwinModel.lease_until.remove()])
    status, twin = ops.api("POST", ops.conn("/connect"), pair)
    assert status == 201, twin
    ops.pump.drain()
    assert ops.twin(mine.key).status == "synced"
    assert ops.twin(mine.key).remote_key == theirs.key


def test_the_twins_list_shows_live_or_stopped_twins_a_page_at_a_time(ops):
    """``?status=live`` leaves stopped twins out (what the console lists), ``stopped`` shows
    only them; a filtered page can be short and still go on."""
    import re

    keys = [ops.sync_pair(f"Printer {n}")[0] for n in range(3)]
    assert ops.api("DELETE", ops.conn(f"/twins/{keys[1]}"))[0] == 204
    ops.pump.drain()

    def listed(query):
        status, body = ops.api("GET", ops.conn(f"/twins?{query}"))
        assert status == 200, body
        return [t["local"]["key"] for t in body]

    assert listed("status=live") == [keys[2], keys[0]]
    assert listed("status=stopped") == [keys[1]]
    assert set(listed("status=all")) == set(listed("")) and keys[1] in listed("")
    # a page of one live twin at a time: the stopped one in between is skipped
    response = ops.client.http.get(ops.conn("/twins?status=live&limit=1"), headers=admin_headers())
    assert [t["local"]["key"] for t in json.loads(response.body)] == [keys[2]]
    nxt = re.search(r"<([^>]+)>", response.headers["Link"]).group(1)
    assert "status=live" in nxt
    second = json.loads(ops.client.http.get(nxt, headers=admin_headers()).body)
    assert [t["local"]["key"] for t in second] == [keys[0]]
    status, body = ops.api("GET", ops.conn("/twins?status=paused"))
    assert (status, body["error"]["code"], body["error"]["field"]) == (
        400,
        "invalid_field",
        "status",
    )
