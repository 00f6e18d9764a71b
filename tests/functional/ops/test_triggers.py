"""Triggers: saved after the tracker checked their JQL; a matching issue syncs by itself, once."""

from __future__ import annotations

from chalicelib.trackers.base import IssueFields


def test_a_trigger_with_jql_the_tracker_refuses_is_a_400_with_its_message(ops):
    status, body = ops.api("POST", ops.conn("/triggers"), {"jql": "project = (OPS"})
    assert status == 400
    assert body["error"]["code"] == "invalid_jql" and body["error"]["field"] == "jql"
    assert "Error in the JQL Query" in body["error"]["message"]
    assert ops.api("GET", ops.conn("/triggers"))[1] == []


def test_triggers_are_created_listed_edited_and_deleted(ops):
    status, made = ops.api(
        "POST", ops.conn("/triggers"), {"jql": "project = OPS", "note": "all of ops"}
    )
    assert status == 201
    assert made["active"] is True and made["note"] == "all of ops" and made["id"]
    status, edited = ops.api("PATCH", ops.conn(f"/triggers/{made['id']}"), {"active": False})
    assert (status, edited["active"], edited["jql"]) == (200, False, "project = OPS")
    assert ops.api("PATCH", ops.conn(f"/triggers/{made['id']}"), {"colour": 1})[0] == 400
    assert [t["id"] for t in ops.api("GET", ops.conn("/triggers"))[1]] == [made["id"]]
    assert ops.api("DELETE", ops.conn(f"/triggers/{made['id']}"))[0] == 204
    assert ops.api("DELETE", ops.conn(f"/triggers/{made['id']}"))[0] == 404


def test_preview_counts_the_matches_and_shows_the_first_keys(ops):
    for n in range(3):
        ops.tracker.add_issue("OPS", f"vip customer {n}")
    ops.tracker.add_issue("OPS", "somebody else")
    status, body = ops.api(
        "POST", ops.conn("/triggers/preview"), {"jql": 'project = OPS AND summary ~ "vip"'}
    )
    assert status == 200
    assert body == {"count": 3, "exact": True, "sample_keys": ["OPS-1", "OPS-2", "OPS-3"]}


def test_a_new_matching_issue_is_synced_without_any_manual_step_and_only_once(ops):
    ops.api("POST", ops.conn("/triggers"), {"jql": 'project = OPS AND summary ~ "urgent"'})
    issue = ops.tracker.add_issue("OPS", "Urgent: printer on fire")
    ops.webhook(issue.key, kind="issue_created")
    ops.pump.drain()
    twin = ops.twin(issue.key)
    assert twin is not None and twin.status == "synced"
    other = ops.twin_of(issue.key)
    assert ops.tracker.issues[other.local_key].summary == "Urgent: printer on fire"
    assert any(h["outcome"] == "put under sync by a trigger" for h in ops.history(issue.key))

    # later changes sync as usual and do not make a second twin
    ops.tracker.update_issue(issue.key, IssueFields(summary="Urgent: printer still on fire"))
    ops.webhook(issue.key)
    ops.pump.drain()
    assert ops.tracker.issues[other.local_key].summary == "Urgent: printer still on fire"
    assert sum(1 for k in ops.tracker.issues if k.startswith("SUP-")) == 1


def test_an_issue_that_comes_to_match_later_is_synced_then(ops):
    ops.api("POST", ops.conn("/triggers"), {"jql": 'summary ~ "escalate"'})
    issue = ops.tracker.add_issue("OPS", "A quiet question")
    ops.webhook(issue.key, kind="issue_created")
    ops.pump.drain()
    assert ops.twin(issue.key) is None
    ops.tracker.update_issue(issue.key, IssueFields(summary="A quiet question: escalate"))
    ops.webhook(issue.key)
    ops.pump.drain()
    assert ops.twin(issue.key).status == "synced"


def test_inactive_triggers_and_other_projects_cost_no_tracker_search(ops):
    ops.api("POST", ops.conn("/triggers"), {"jql": "project = SUP", "active": True})
    _, off = ops.api("POST", ops.conn("/triggers"), {"jql": "project = OPS"})
    ops.api("PATCH", ops.conn(f"/triggers/{off['id']}"), {"active": False})
    issue = ops.tracker.add_issue("OPS", "not for support")
    ops.tracker.searches.clear()
    ops.webhook(issue.key, kind="issue_created")
    ops.pump.drain()
    assert ops.twin(issue.key) is None
    assert ops.tracker.searches == []  # the project clause already says no


def test_a_stopped_issue_is_not_brought_back_by_a_trigger(ops):
    key, _ = ops.sync_pair("vip: keep me")
    assert ops.api("DELETE", ops.conn(f"/twins/{key}"))[0] == 204
    ops.pump.drain()
    ops.api("POST", ops.conn("/triggers"), {"jql": 'summary ~ "vip"'})
    ops.tracker.update_issue(key, IssueFields(summary="vip: changed after the stop"))
    ops.webhook(key)
    ops.pump.drain()
    assert ops.twin(key).status == "stopped"
    assert "changed after" not in ops.tracker.issues[ops.twin(key).remote_key].summary


def test_trigger_changes_are_in_the_audit_log(ops):
    _, made = ops.api("POST", ops.conn("/triggers"), {"jql": "project = OPS"})
    ops.api("PATCH", ops.conn(f"/triggers/{made['id']}"), {"note": "n"})
    ops.api("DELETE", ops.conn(f"/triggers/{made['id']}"))
    _, entries = ops.api("GET", f"/api/v1/audit?connection_id={ops.connection_id}")
    actions = [e["action"] for e in entries]
    assert actions[:3] == ["trigger.deleted", "trigger.updated", "trigger.created"]
    assert all(e["actor"].startswith("admin:") for e in entries[:3])


def test_an_ingest_batch_reads_the_triggers_once_and_the_next_sees_a_new_one(ops, monkeypatch):
    from chalicelib.store.models import EventModel
    from chalicelib.sync import trigger_match

    ops.api("POST", ops.conn("/triggers"), {"jql": "project = OPS"})
    queries = []
    real = EventModel.query

    def counted(*args, **kwargs):
        queries.append(args[0] if args else kwargs.get("hash_key"))
        return real(*args, **kwargs)

    monkeypatch.setattr(EventModel, "query", counted)
    with trigger_match.triggers_shared():  # one ingest batch's records
        first = trigger_match.all_triggers()
        assert trigger_match.all_triggers() == first
    assert len(first) == 1 and len(queries) == 1
    ops.api("POST", ops.conn("/triggers"), {"jql": "project = OPS AND summary ~ vip"})
    with trigger_match.triggers_shared():  # the next batch
        assert len(trigger_match.all_triggers()) == 2
    assert len(trigger_match.all_triggers()) == 2  # outside a batch: read each time
