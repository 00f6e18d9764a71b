"""What an operator reads of a full local-stack sync (issue 15): each node's JSON log
(``.devstack/logs/<node>.jsonl``) has the connection's lifecycle and every sync
transaction, with the keys that tie the lines of one unit of work together, and no secret.

Run with the rest of the stack tier (one session, one stack) the secret check covers every
line every node wrote in the run so far, not only this test's.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.observability import metrics
from chalicelib.trackers.base import IssueFields
from tests.stack.conftest import eventually, tracker_as, twin_key

pytestmark = pytest.mark.stack

SECRET_NAMES = ("TOKEN", "SECRET", "PASSWORD")


def lines_of(stack: Any, name: str) -> list[dict[str, Any]]:
    """Node ``name``'s log, parsed: every line must be one JSON object."""
    path: Path = stack.nodes[name].json_log_path
    text = path.read_text() if path.exists() else ""
    parsed = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert all(isinstance(p, dict) for p in parsed)
    return parsed


def events(stack: Any, name: str, event: str, **keys: Any) -> list[dict[str, Any]]:
    return [
        line
        for line in lines_of(stack, name)
        if line.get("event") == event and all(line.get(k) == v for k, v in keys.items())
    ]


def connection_keys(stack: Any, stack_info: dict[str, Any]) -> list[str]:
    """Every node's stored connection keys, read from the embedded AWS."""
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=stack_info["aws_endpoint"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # moto's
    )
    found = []
    for node in stack.nodes.values():
        table = node.env["TWINSYNC_TABLE_CONNECTIONS"]
        for item in dynamodb.scan(TableName=table)["Items"]:
            if "key" in item and "S" in item["key"]:
                found.append(item["key"]["S"])
    return found


def known_secrets(stack: Any, stack_info: dict[str, Any], extra: list[str]) -> dict[str, str]:
    """Every secret of the run, by where it comes from."""
    secrets: dict[str, str] = {}
    for name, node in stack.nodes.items():
        secrets[f"{name} admin token"] = node.admin_token
        secrets[f"{name} webhook secret"] = node.webhook_secret
        for var, value in node.env.items():
            if var.startswith("TWINSYNC_") and any(s in var for s in SECRET_NAMES) and value:
                secrets[f"{name} {var}"] = value
    for name, tracker in stack_info["trackers"].items():
        for who in ("integration_user", "user"):
            if tracker.get(who):
                secrets[f"tracker {name} {who} token"] = tracker[who]["token"]
        if tracker.get("webhook_secret"):
            secrets[f"tracker {name} webhook secret"] = tracker["webhook_secret"]
    for i, key in enumerate(connection_keys(stack, stack_info)):
        secrets[f"connection key {i}"] = key
    for i, value in enumerate(extra):
        secrets[f"invitation {i}"] = value
    return {where: value for where, value in secrets.items() if len(value) >= 8}


def test_a_synced_issue_leaves_lifecycle_and_transaction_lines_and_no_secret(
    local_stack, stack_info, node_a, node_c
):
    created = node_a.post(
        "/api/v1/connections",
        {
            "destination_url": node_c.url,
            "mode": "basic",
            "local_short_name": "Acme",
            "remote_short_name": "Initech",
            "name": f"logs-{uuid.uuid4().hex[:6]}",
            "incoming_project": "ALPHA",
            "admin_access": False,
        },
    )
    assert created.status_code == 201, created.text
    code = created.json()["invitation_code"]
    accepted = node_c.post(
        "/api/v1/invitations/accept", {"invitation_code": code, "incoming_project": "SUP"}
    )
    assert accepted.status_code == 201, accepted.text
    cid = accepted.json()["connection"]["id"]

    alice_a = tracker_as(stack_info, "a")
    ref = alice_a.create_issue(
        "ALPHA", IssueFields(summary=f"Logged {uuid.uuid4().hex[:6]}", issue_type="Task")
    )
    assert node_a.post(f"/api/v1/connections/{cid}/sync", {"issue_key": ref.key}).ok
    remote = eventually(lambda: twin_key(node_a, cid, ref.key))
    alice_a.update_issue(ref.key, IssueFields(summary="Logged, then edited"))
    alice_c = tracker_as(stack_info, "b")
    eventually(lambda: alice_c.get_issue(remote).summary == "Logged, then edited")
    # c's apply record ends with its line just after the issue changes: wait for it
    eventually(
        lambda: (
            len(events(local_stack, "c", "sync.transaction", connection_id=cid, stage="apply")) >= 2
        )
    )

    # a's ingest ends its record after c answered the push, and c applies the edit in the
    # push (issue 19): a's line comes last
    eventually(
        lambda: events(
            local_stack, "a", "sync.transaction", connection_id=cid, stage="ingest", outcome="done"
        )
    )

    # lifecycle: initiated on a, accepted on c (and a hears of it), each with the connection
    assert events(local_stack, "a", "connection.initiated", connection_id=cid)
    assert events(local_stack, "c", "connection.accepted", connection_id=cid)
    assert events(local_stack, "a", "connection.accepted", connection_id=cid)

    # the HTTP request that initiated carries a request id on its lines
    initiated = events(local_stack, "a", "connection.initiated", connection_id=cid)[0]
    assert initiated["request_id"] and initiated["node"] == node_a.info["node_id"]

    # outgoing on a: ingest, each record one transaction line with its keys; the replica
    # reaches the peer pushed from ingest (a line of its own) or through the deliver queue
    outgoing = events(local_stack, "a", "sync.transaction", connection_id=cid, direction="outgoing")
    stages = {(t["stage"], t["outcome"]) for t in outgoing}
    assert ("ingest", "done") in stages, stages
    pushed = events(local_stack, "a", "sync.delivered", connection_id=cid, via="push")
    assert ("deliver", "done") in stages or pushed, stages
    assert all(line["issue_key"] == ref.key and line["replica_id"] for line in pushed)
    for line in outgoing:
        assert line["message_id"] and line["function"] == line["stage"]
        assert line["duration_ms"] >= 0
        assert ref.key in (line.get("issue_key"), line.get("local_key"))

    # incoming on c: apply, with the replica it applied: the first sync from the apply
    # queue, the edit in the push that brought it (issue 19), on the request's lines
    incoming = events(local_stack, "c", "sync.transaction", connection_id=cid, stage="apply")
    assert incoming and all(line["direction"] == "incoming" for line in incoming)
    assert {line["remote_key"] for line in incoming} == {ref.key}
    assert all(line["replica_id"] for line in incoming)
    queued = [line for line in incoming if "via" not in line]
    pushed = [line for line in incoming if line.get("via") == "push"]
    assert queued and pushed, incoming
    assert all(line["request_id"] and "message_id" not in line for line in pushed)
    applied = events(local_stack, "c", "twin.transaction", connection_id=cid, outcome="applied")
    assert {line["issue_key"] for line in applied} == {remote}
    # the apply's own lines carry the record's keys (or the request's), as its transaction
    # line does
    ids = {line["message_id"] for line in queued}
    assert {line.get("message_id") for line in applied} & ids
    requests = {line["request_id"] for line in pushed}
    assert {line.get("request_id") for line in applied} & requests
    assert {line["replica_id"] for line in applied} & {line["replica_id"] for line in incoming}

    # no secret in any line of any node, nor in what the node processes printed
    secrets = known_secrets(local_stack, stack_info, [code])
    assert any(where.startswith("connection key") for where in secrets)
    for node in local_stack.nodes.values():
        for path in (node.json_log_path, node.log_path):  # the app's lines; the process's
            text = path.read_text()
            leaked = [where for where, value in secrets.items() if value in text]
            assert leaked == [], f"{path.name} holds {leaked}"


def emf(stack: Any, name: str, metric: str) -> list[dict[str, Any]]:
    """Node ``name``'s EMF documents that carry ``metric``."""
    return [line for line in lines_of(stack, name) if "_aws" in line and metric in line]


def test_the_nodes_emit_metrics_in_emf(local_stack, stack_info, node_a, node_c) -> None:
    """After the sync above (or any in the run): c counted the changes it applied and how
    long after the edit, a called its tracker; each metric under the node's dimension."""
    eventually(lambda: emf(local_stack, "c", metrics.SYNC_LATENCY))
    for node, metric in (
        ("c", metrics.CHANGES_SYNCED),
        ("c", metrics.SYNC_LATENCY),
        ("a", metrics.TRACKER_CALLS),
        ("a", metrics.OLDEST_QUEUE_MESSAGE_AGE),
    ):
        documents = emf(local_stack, node, metric)
        assert documents, f"no {metric} from {node}"
        document = documents[-1]
        directive = document["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == metrics.NAMESPACE
        assert directive["Dimensions"] == [[metrics.DIMENSION_NODE]]
        assert {"Name": metric, "Unit": metrics.UNITS[metric]} in directive["Metrics"]
        assert document[metrics.DIMENSION_NODE] == stack_info["nodes"][node]["node_id"]


def test_make_run_says_where_the_node_logs_are(local_stack, stack_info) -> None:
    from devstack.__main__ import quickstart

    assert f"{local_stack.workdir / 'logs'}/<node>.jsonl" in quickstart(local_stack)
    for name, node in stack_info["nodes"].items():
        assert node["json_log"] == str(local_stack.workdir / "logs" / f"{name}.jsonl")
