"""Sync N issues from node a to node c through the local stack, and what each change costs.

Three phases over the same N issues (each with a comment and an attachment):
- first sync: "sync this issue" → the twin exists on the other side and is linked back;
- a field change: Alice edits the summary in Jira → the twin's summary has changed;
- a no-op read (issue 19): each issue read again at the version already sent (as the
  sweep or a late webhook does) → nothing is sent (ingest queued by the bench).
For each: changes per second end to end, median and p95 latency, and per change the
tracker API calls (integration users, both sides), DynamoDB reads and writes, SQS requests
(sends, deletes, visibility changes; Lambda's own pollers are not counted), function
invocations (the workers' and ``api_handler``'s for webhooks and peer calls) and the cost
per million changes at AWS list prices (bench/README.md), each function priced at its
deployed memory and architecture; API Gateway's requests and cost are shown apart.
At the end, the figures go to issue 19's targets table (:mod:`bench._targets`).
``BENCH_STAGES=1`` adds where each AWS request of a field change came from.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from pathlib import Path

from bench._stack import BenchStack, per_change, quantiles, wait_all
from bench._targets import record
from chalicelib.trackers.base import Body, IssueFields
from tests.stack.conftest import twin_key

ISSUES = int(os.environ.get("BENCH_ISSUES", "20"))
SETTLE_S = 3.0
# BENCH_STAGES=1: also print which stage and code made each AWS request of a field change
# (devstack.aws_trace; the nodes then log every AWS call, which slows them a little)
STAGES = bool(os.environ.get("BENCH_STAGES"))
WINDOWS: dict[str, tuple[float, float, int]] = {}  # phase -> (start, end, changes)


def adf(text: str) -> dict:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


def run_phase(bench, name, keys, start, done_check):
    bench.settle()  # the phase counts its own work, not what came before it
    before = bench.snapshot()
    window = [time.time()]
    started = {}
    for key in keys:
        started[key] = time.monotonic()
        start(key)
    done = wait_all({k: (lambda k=k: done_check(k)) for k in keys})
    time.sleep(SETTLE_S)
    after = bench.snapshot()
    window.append(time.time())
    WINDOWS[name] = (window[0], window[1], len(done))
    latencies = [done[k] - started[k] for k in keys if k in done]
    span = (max(done.values()) - min(started.values())) if done else float("nan")
    return (
        name,
        len(done),
        len(done) / span if span else float("nan"),
        latencies,
        per_change(before, after, len(done)),
    )


def main() -> None:
    trace = None
    if STAGES:
        trace = Path(tempfile.mkdtemp(prefix="twinsync-trace-"))
        os.environ["BENCH_TRACE"] = str(trace)  # the node processes inherit it
    try:
        rows = measure()
    finally:
        os.environ.pop("BENCH_TRACE", None)
    print_rows(rows)
    if trace is not None:
        for phase in WINDOWS:
            print_stages(trace, phase)


def print_stages(trace: Path, phase: str) -> None:
    from devstack.aws_trace import breakdown

    since, until, changes = WINDOWS[phase]
    print(f"\nAWS requests per change by stage ({phase}; node, stage, operation, on, where):")
    for node, stage, operation, on, where, per in breakdown(trace, since, until, changes):
        print(f"{per:5.1f}  {node:8} {stage:12} {operation:18} {on:22} {where}")


WEBHOOK_JQL = {"b": "project = OPS", "c": "project = SUP"}


def measure() -> list:
    # deployed schedules (poll every minute, reconcile every 5): their cost is per hour,
    # not per change, so they do not distort the per-change figures
    # nodes b and c share sandbox tracker b: each node's webhook is filtered to its own
    # project, as two tenants' nodes on one Jira site would be (a deployment's node has its
    # own site), so node b does not take node c's events
    with BenchStack(poll_every=60.0, reconcile_every=300.0, webhook_jql=WEBHOOK_JQL) as bench:
        cid = bench.connect("a", "c", ("ALPHA", "SUP"))
        node_a = bench.node("a")
        alice_a, alice_c = bench.user("a"), bench.user("b")
        tag = uuid.uuid4().hex[:6]
        keys = []
        for i in range(ISSUES):
            ref = alice_a.create_issue(
                "ALPHA",
                IssueFields(
                    summary=f"bench {tag} #{i}",
                    issue_type="Bug",
                    description=Body("adf", adf("A description")),
                ),
            )
            alice_a.add_comment(ref.key, Body("adf", adf(f"comment {i}")))
            alice_a.upload_attachment(ref.key, f"log-{i}.txt", os.urandom(2048), "text/plain")
            keys.append(ref.key)
        rows = [
            run_phase(
                bench,
                "first sync (issue+comment+attachment)",
                keys,
                lambda k: node_a.post(f"/api/v1/connections/{cid}/sync", {"issue_key": k}),
                # linked back: node a applied c's answer (watched in a's log: asking a's
                # API would add its reads to the phase's count)
                lambda k: bench.logged(
                    "a",
                    event="twin.transaction",
                    direction="incoming",
                    issue_key=k,
                    outcome="applied",
                ),
            )
        ]
        remote = {k: twin_key(node_a, cid, k) for k in keys}
        rows.append(
            run_phase(
                bench,
                "field change (summary)",
                keys,
                lambda k: alice_a.update_issue(k, IssueFields(summary=f"bench {tag} {k} changed")),
                lambda k: alice_c.get_issue(remote[k]).summary.endswith("changed"),
            )
        )
        rows.append(no_op_reads(bench, keys))
    return rows


def no_op_reads(bench, keys):
    """A read of an issue whose version was already sent (the sweep's, a late webhook's):
    one ingest message per issue, put on node a's ingest queue by the bench (1 SQS request
    per change that stands in for the sweep's or intake's own send); done when node a's
    ingest has taken them all. Nothing is sent: what is left is the read's own cost."""
    import json

    from chalicelib.store.namespaces import ingest_group
    from chalicelib.sync.messages import IngestMessage

    sqs = bench.sqs()
    url = bench.stack.nodes["a"].env["TWINSYNC_QUEUE_INGEST_URL"]
    taken = [0]

    def ingested() -> int:
        return int(bench.stack.node_stats("a").get("records", {}).get("ingest", 0))

    def start(key: str) -> None:
        if not taken[0]:
            taken[0] = ingested()
        sqs.send_message(
            QueueUrl=url,
            MessageBody=json.dumps(IngestMessage(key, source="reconcile").to_body()),
            MessageGroupId=ingest_group(key),
            MessageDeduplicationId=uuid.uuid4().hex,
        )

    return run_phase(
        bench,
        "no-op read (a version already sent)",
        keys,
        start,
        lambda k: ingested() >= taken[0] + len(keys),
    )


def print_rows(rows: list) -> None:
    print(
        f"public-public, node a (Jira Cloud sandbox) -> node c (Jira Server sandbox), "
        f"{ISSUES} issues"
    )
    header = (
        "phase",
        "done",
        "chg/s",
        "median s",
        "p95 s",
        "tracker",
        "ddb R",
        "ddb W",
        "ddb WRU",
        "sqs",
        "s3",
        "invocations",
        "of which API",
        "$ per 1M",
        "+ API GW $ per 1M",
    )
    print(" | ".join(header))
    for name, done, rate, latencies, cost in rows:
        median, p95 = quantiles(latencies)
        print(
            " | ".join(
                [
                    name,
                    str(done),
                    f"{rate:.2f}",
                    f"{median:.2f}",
                    f"{p95:.2f}",
                    f"{cost['tracker_calls']:.1f}",
                    f"{cost['dynamodb_reads']:.1f}",
                    f"{cost['dynamodb_writes']:.1f}",
                    f"{cost['dynamodb_write_units']:.1f}",
                    f"{cost['sqs_requests']:.1f}",
                    f"{cost['s3_requests']:.1f}",
                    f"{cost['invocations']:.1f}",
                    f"{cost['api_requests']:.1f}",
                    f"{cost['usd_per_million']:.2f}",
                    f"{cost['apigw_usd_per_million']:.2f}",
                ]
            )
        )
    first, field = rows[0][4], rows[1][4]
    record("first_sync_usd", first["usd_per_million"])
    record("field_usd", field["usd_per_million"])
    record("field_tracker_calls", field["tracker_calls"])
    record("field_ddb_reads", field["dynamodb_reads"])
    record("field_ddb_writes", field["dynamodb_writes"])
    record("field_ddb_write_units", field["dynamodb_write_units"])
    record("field_sqs", field["sqs_requests"])
    # issue 19 counted the workers' invocations (4 then) and put API Gateway's share apart:
    # api_handler runs once per API Gateway request, so it is shown with it
    record("field_invocations", field["invocations"] - field["api_requests"])
    record("field_api_invocations", field["api_requests"])
    record("field_apigw_usd", field["apigw_usd_per_million"])


if __name__ == "__main__":
    main()
