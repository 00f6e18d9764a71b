"""Script and Visual modes over the admin and node APIs of in-process nodes (moto, memory
trackers, the real sandbox process with short limits).

- scripts are compiled on save: a syntax or policy error is a 400 with the line, and the
  previous version stays active; versions are kept with who changed them;
- the test run reports the replica and the changes, and writes nothing;
- a failing script becomes an error record on its issue at once (no retries), with the
  script line, while another issue in the same batch keeps syncing;
- Visual mappings set on one end reach the other end through the node API, which records
  who changed them; an unreachable or private other end is refused clearly.
"""

from __future__ import annotations

import json
import re
import uuid

import pytest

from chalicelib.rules.script.runner import ChildProcessRunner, ScriptLimits, use_runner
from chalicelib.trackers.base import Body, IssueFields
from tests.factories.cluster import B_URL, three_nodes
from tests.factories.sqs import sqs_record


@pytest.fixture
def cluster(aws, monkeypatch):
    with three_nodes(aws, monkeypatch) as nodes:
        yield nodes


@pytest.fixture(autouse=True)
def sandbox():
    runner = ChildProcessRunner(ScriptLimits(cpu_seconds=1, wall_seconds=2.0), warm=1)
    previous = use_runner(runner)
    yield runner
    use_runner(previous)
    runner.close()


def connect(cluster, mode, *, destination=B_URL, acceptor="node-b", project="TEST"):
    created = cluster.admin(
        "node-a",
        "POST",
        "/api/v1/connections",
        {
            "destination_url": destination,
            "mode": mode,
            "local_short_name": "A",
            "remote_short_name": "B",
            "name": f"a-{mode}-{uuid.uuid4().hex[:6]}",
            "incoming_project": "SUP",
        },
    )
    assert created.status == 201, created.body
    accepted = cluster.admin(
        acceptor,
        "POST",
        "/api/v1/invitations/accept",
        {"invitation_code": created.body["invitation_code"], "incoming_project": project},
    )
    assert accepted.status == 201, accepted.body
    return created.body["connection"]["id"]


def new_issue(cluster, summary="Printer on fire", issue_type="Bug", node="node-a"):
    tracker = cluster[node].tracker
    ref = tracker.create_issue(
        "SUP",
        IssueFields(summary=summary, description=Body("adf", None), issue_type=issue_type),
    )
    return ref.key


# --- saving scripts -----------------------------------------------------------------------


def test_a_script_with_a_syntax_or_policy_error_is_refused_and_the_old_one_stays(cluster):
    cid = connect(cluster, "script")
    path = f"/api/v1/connections/{cid}"
    before = cluster.admin("node-a", "GET", path).body["outgoing_script"]
    broken = cluster.admin("node-a", "PATCH", path, {"outgoing_script": "x = 1\nif x\n"})
    assert (broken.status, broken.error) == (400, "script_invalid")
    assert broken.body["error"]["field"] == "outgoing_script"
    assert "line 2" in broken.body["error"]["message"]
    escape = cluster.admin(
        "node-a", "PATCH", path, {"incoming_script": "x = 1\n\ny = ().__class__"}
    )
    assert (escape.status, escape.error) == (400, "script_invalid")
    assert (
        "line 3" in escape.body["error"]["message"]
        and "__class__" in escape.body["error"]["message"]
    )
    assert cluster.admin("node-a", "GET", path).body["outgoing_script"] == before


def test_conflict_rules_say_which_sides_value_a_conflict_keeps(cluster):
    cid = connect(cluster, "script")
    path = f"/api/v1/connections/{cid}"
    assert cluster.admin("node-a", "GET", path).body["conflict_rules"] == {}
    saved = cluster.admin("node-a", "PATCH", path, {"conflict_rules": {"summary": "keep"}})
    assert saved.status == 200 and saved.body["conflict_rules"] == {"summary": "keep"}
    for rules, field in (
        ({"labels": "keep"}, "conflict_rules.labels"),
        ({"components": "keep"}, "conflict_rules.components"),  # a set, as labels
        ({"summary": "mine"}, "conflict_rules.summary"),
        (["summary"], "conflict_rules"),
    ):
        refused = cluster.admin("node-a", "PATCH", path, {"conflict_rules": rules})
        assert (refused.status, refused.body["error"]["field"]) == (400, field)
    assert cluster.admin("node-a", "GET", path).body["conflict_rules"] == {"summary": "keep"}
    back = cluster.admin("node-a", "PATCH", path, {"conflict_rules": {"summary": "later"}})
    assert back.body["conflict_rules"] == {}
    basic = connect(cluster, "basic")
    refused = cluster.admin(
        "node-a", "PATCH", f"/api/v1/connections/{basic}", {"conflict_rules": {"summary": "keep"}}
    )
    assert refused.status == 409


def test_script_versions_are_kept_with_who_and_when(cluster):
    cid = connect(cluster, "script")
    path = f"/api/v1/connections/{cid}"
    for n in (1, 2):
        answer = cluster.admin(
            "node-a", "PATCH", path, {"outgoing_script": f"replica.summary = 'v{n}'"}
        )
        assert answer.status == 200, answer.body
    history = cluster.admin("node-a", "GET", path + "/rules/history").body["scripts"]
    outgoing = [h for h in history if h["script"] == "outgoing_script"]
    assert [h["version"] for h in outgoing] == [1, 2, 3]
    assert [h["by"] for h in outgoing] == ["default", "admin", "admin"]
    assert outgoing[-1]["text"] == "replica.summary = 'v2'" and outgoing[-1]["at"]


# --- the test run -------------------------------------------------------------------------


def test_the_test_run_reports_the_replica_and_changes_and_writes_nothing(cluster):
    cid = connect(cluster, "script")
    path = f"/api/v1/connections/{cid}"
    script = (
        "replica.summary = issue.summary\n"
        "replica.type = {'Bug': 'Problem'}.get(issue.type.name, 'Task')\n"
        "log('type', replica.type)\n"
    )
    assert cluster.admin("node-a", "PATCH", path, {"outgoing_script": script}).status == 200
    key = new_issue(cluster)
    tracker = cluster["node-a"].tracker
    calls_before, issues_before = len(tracker.calls), dict(tracker.issues)

    answer = cluster.admin("node-a", "POST", path + "/test-run", {"issue_key": key})
    assert answer.status == 200, answer.body
    assert answer.body["replica"]["summary"] == "Printer on fire"
    assert answer.body["replica"]["type"] == {"name": "Problem"}
    assert "summary" in answer.body["changes"] and "type" in answer.body["changes"]
    assert answer.body["log"]["outgoing"] == ["type Problem"]

    remote = {"key": "TEST-9", "summary": "From B", "type": {"name": "Story"}}
    answer = cluster.admin(
        "node-a", "POST", path + "/test-run", {"issue_key": key, "replica": remote}
    )
    assert answer.status == 200, answer.body
    assert answer.body["first_sync"] is True
    assert answer.body["plan"]["fields"]["summary"] == "From B"
    assert answer.body["plan"]["fields"]["issue_type"] == "Story"
    assert "summary" in answer.body["changes"]

    written = [
        c for c in tracker.calls[calls_before:] if c not in ("get_issue", "myself", "get_project")
    ]
    assert written == [] and tracker.issues == issues_before
    twin = cluster.admin("node-a", "GET", f"{path}/twins/{key}")
    assert twin.error == "twin_not_found"  # not even put under sync


def test_a_test_run_of_a_failing_script_names_the_line(cluster):
    cid = connect(cluster, "script")
    path = f"/api/v1/connections/{cid}"
    script = "replica.summary = issue.summary\nx = issue.nothing.name\n"
    assert cluster.admin("node-a", "PATCH", path, {"outgoing_script": script}).status == 200
    answer = cluster.admin("node-a", "POST", path + "/test-run", {"issue_key": new_issue(cluster)})
    assert (answer.status, answer.error) == (422, "script_failed")
    assert "outgoing_script line 2" in answer.body["error"]["message"]
    missing = cluster.admin("node-a", "POST", path + "/test-run", {"issue_key": "SUP-404"})
    assert (missing.status, missing.error) == (404, "issue_not_found")


# --- a failing script in the sync workers ---------------------------------------------------


def ingest_record(key):
    from chalicelib.sync.messages import IngestMessage

    return sqs_record(IngestMessage(key, source="sync").to_body(), group=f"issue#{key}")


def test_a_failing_script_errors_only_its_issue_at_once_with_the_line(cluster):
    from chalicelib import workers
    from chalicelib.store.models import TwinModel

    cid = connect(cluster, "script")
    path = f"/api/v1/connections/{cid}"
    script = (
        "replica.summary = issue.summary\n"
        "if issue.summary.startswith('boom'):\n"
        "    while True:\n"
        "        pass\n"
    )
    assert cluster.admin("node-a", "PATCH", path, {"outgoing_script": script}).status == 200
    bad, good = new_issue(cluster, "boom goes the script"), new_issue(cluster, "all fine")
    for key in (bad, good):
        assert cluster.admin("node-a", "POST", f"{path}/sync", {"issue_key": key}).status == 202
    with cluster.active(cluster["node-a"]):
        result = workers.ingest_batch([ingest_record(bad), ingest_record(good)])
        # (a replica the peer accepted at once leaves no outbox entry: ADR 0011)
        sent = [k for k in (bad, good) if TwinModel.get(cid, k).last_sent_version]
    assert result == {"batchItemFailures": []}  # given up at once: no retries
    assert sent == [good]
    errors = cluster.admin("node-a", "GET", f"/api/v1/errors?connection_id={cid}").body
    assert [e["issue_key"] for e in errors] == [bad]
    assert "outgoing_script line 3" in errors[0]["message"]
    # the wall clock or the CPU limit stops it first, depending on the machine's load
    assert re.search(r"longer than allowed|more CPU time", errors[0]["message"])
    assert errors[0]["attempts"] == 1
    twin = cluster.admin("node-a", "GET", f"{path}/twins/{bad}").body
    assert twin["status"] == "error" and "outgoing_script line 3" in twin["error"]


# --- visual mappings across both ends --------------------------------------------------------

MAPPINGS = [
    {
        "side": "local",
        "direction": "outgoing",
        "fields": [{"field": "summary"}, {"field": "issue_type", "values": {"Bug": "Problem"}}],
    },
    {
        "side": "remote",
        "direction": "incoming",
        "scope": {"issue_types": ["Problem"]},
        "fields": [{"field": "summary"}, {"field": "issue_type", "default": "Task"}],
    },
]


def test_visual_mappings_set_on_one_end_reach_the_other_with_who_changed_them(cluster):
    cid = connect(cluster, "visual")
    answer = cluster.admin("node-a", "PATCH", f"/api/v1/connections/{cid}", {"mappings": MAPPINGS})
    assert answer.status == 200, answer.body
    mine = answer.body["mappings"]
    assert [(b["side"], b["direction"]) for b in mine] == [
        ("local", "outgoing"),
        ("remote", "incoming"),
    ]
    theirs = cluster.admin("node-b", "GET", f"/api/v1/connections/{cid}").body["mappings"]
    assert [(b["side"], b["direction"]) for b in theirs] == [
        ("remote", "outgoing"),
        ("local", "incoming"),
    ]
    assert theirs[1]["scope"] == {"issue_types": ["Problem"]}
    (change,) = cluster.admin("node-b", "GET", f"/api/v1/connections/{cid}/rules/history").body[
        "mappings"
    ]
    assert (change["node"], change["by"], change["via"]) == ("Node A", "admin", "node_api")


def test_visual_mappings_are_checked_and_nothing_changes_when_the_other_end_is_down(cluster):
    cid = connect(cluster, "visual")
    path = f"/api/v1/connections/{cid}"
    bad = cluster.admin(
        "node-a", "PATCH", path, {"mappings": [{"direction": "outgoing", "sync": "often"}]}
    )
    assert (bad.status, bad.error, bad.body["error"]["field"]) == (
        400,
        "mappings_invalid",
        "mappings[0].sync",
    )
    cluster["node-b"].down = True
    down = cluster.admin("node-a", "PATCH", path, {"mappings": MAPPINGS})
    assert (down.status, down.error) == (502, "other_side_unreachable")
    cluster["node-b"].down = False
    assert cluster.admin("node-a", "GET", path).body["mappings"] == []
    assert cluster.admin("node-b", "GET", path).body["mappings"] == []


def test_visual_is_not_offered_to_a_private_node_and_a_pending_end_configures_itself(cluster):
    """A Visual code (initiated with a URL) that a private node tries to accept is refused
    there too: the initiator named a destination, the code reached another node."""
    created = cluster.admin(
        "node-a",
        "POST",
        "/api/v1/connections",
        {
            "destination_url": B_URL,
            "mode": "visual",
            "local_short_name": "A",
            "remote_short_name": "P",
            "name": "a-visual-private",
            "incoming_project": "SUP",
        },
    )
    cid = created.body["connection"]["id"]
    refused = cluster.admin(
        "node-p",
        "POST",
        "/api/v1/invitations/accept",
        {"invitation_code": created.body["invitation_code"], "incoming_project": "PRIV"},
    )
    assert (refused.status, refused.error) == (409, "visual_needs_public_nodes")
    with cluster.active(cluster["node-p"]):
        from chalicelib.store.models import ConnectionModel

        assert list(ConnectionModel.scan()) == []
    path = f"/api/v1/connections/{cid}"
    both = cluster.admin("node-a", "PATCH", path, {"mappings": MAPPINGS})
    assert (both.status, both.error) == (409, "visual_other_side_unreachable")
    local_only = cluster.admin("node-a", "PATCH", path, {"mappings": MAPPINGS[:1]})
    assert local_only.status == 200, local_only.body


def test_the_node_route_refuses_callers_without_the_connection_key(cluster):
    cid = connect(cluster, "visual")
    answer = cluster.raw(
        "node-b",
        "PUT",
        f"/node/v1/connections/{cid}/mappings",
        headers={"Content-Type": "application/json"},
        body=json.dumps({"mappings": []}).encode(),
    )
    assert answer.status == 401
