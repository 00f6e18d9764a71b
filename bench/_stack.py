"""Shared by the sync benchmarks: a local stack on free ports, connections, counters.

Benchmarks run the same code as the stack tests (`tests/stack/conftest.py` helpers), on
a throw-away stack, and print numbers; nothing here asserts a timing.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devstack.aws import WRITE_UNITS
from devstack.stack import LocalStack
from tests.stack.conftest import NodeClient, connect, stack_spec_for_tests, tracker_as

# AWS list prices, us-east-1, as listed on the AWS pricing pages in 2025 (see README.md).
PRICES = {
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second": 0.0000166667,  # x86_64
    "lambda_gb_second_arm64": 0.0000133334,  # Graviton (arm64)
    "dynamodb_write": 0.625 / 1e6,  # on-demand, per write request unit
    "dynamodb_read": 0.125 / 1e6,  # on-demand, per read request unit
    "sqs_fifo_request": 0.50 / 1e6,
    "s3_put": 0.005 / 1e3,
    "s3_get": 0.0004 / 1e3,
    "apigw_request": 3.50 / 1e6,
}


def deployed_size(function: str, stage: str = "prod") -> tuple[float, str]:
    """(GB, architecture) a function is deployed with: ``infra.functions.MEMORY`` over the
    stage's ``lambda_memory_size`` and ``lambda_architecture`` (.chalice/config.json)."""
    from infra.functions import MEMORY
    from infra.package import chalice_config

    config = chalice_config()
    settings = {**config, **config.get("stages", {}).get(stage, {})}
    memory = MEMORY.get(function) or settings.get("lambda_memory_size", 128)
    return memory / 1024, settings.get("lambda_architecture", "x86_64")


def gb_second_price(architecture: str) -> float:
    """Lambda's price per GB-second on ``architecture`` (``x86_64`` or ``arm64``)."""
    return PRICES["lambda_gb_second_arm64" if architecture == "arm64" else "lambda_gb_second"]


DYNAMO_READS = ("GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems")
DYNAMO_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")


class BenchStack:
    """The test stack (a public Cloud, b private Server, c public Server) for a benchmark."""

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        webhook_jql: dict[str, str] | None = None,
        node_settings: dict[str, dict[str, str]] | None = None,
        **schedule: float,
    ) -> None:
        """``webhook_jql``: node name -> the JQL filter of the tracker's webhook to it (nodes
        b and c share tracker b here; in a deployment each tenant's node has its tracker).
        ``node_settings``: node name -> extra ``TWINSYNC_*`` variables of that node."""
        import logging
        from dataclasses import replace

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the embedded AWS's access log
        spec = stack_spec_for_tests()
        if schedule:
            spec = replace(spec, **schedule)
        if webhook_jql:
            nodes = {
                name: replace(node, webhook_jql=webhook_jql.get(name, node.webhook_jql))
                for name, node in spec.nodes.items()
            }
            spec = replace(spec, nodes=nodes)
        if node_settings:
            nodes = {
                name: replace(node, settings=(*node.settings, *node_settings.get(name, {}).items()))
                for name, node in spec.nodes.items()
            }
            spec = replace(spec, nodes=nodes)
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="twinsync-bench-"))
        self._log_records: dict[str, list[dict[str, Any]]] = {}
        self._log_offsets: dict[str, int] = {}
        self.stack = LocalStack(spec, workdir=self.workdir)

    def __enter__(self) -> BenchStack:
        self.stack.start()
        self.info = json.loads((self.workdir / "stack.json").read_text())
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.stop()

    def node(self, name: str) -> NodeClient:
        return NodeClient(self.info["nodes"][name])

    def user(self, tracker: str) -> Any:
        return tracker_as(self.info, tracker)

    def connect(
        self, initiator: str, acceptor: str, projects: tuple[str, str], public: bool = True
    ) -> str:
        destination = self.node(acceptor).url if public else None
        return connect(
            self.node(initiator),
            self.node(acceptor),
            initiator_project=projects[0],
            acceptor_project=projects[1],
            destination_url=destination,
        )

    # --- counters -----------------------------------------------------------------------

    def settle(self, timeout: float = 60.0) -> None:
        """Wait until nothing is in flight: every tracker's webhook deliveries answered and
        every queue of every node empty, so a phase counts its own work (not the late
        webhooks of the issues it was given, say)."""
        for tracker in self.stack.trackers.values():
            if tracker.admin is not None:
                tracker.admin.deliveries(wait=30.0)
        sqs = self.sqs()
        counts = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
        urls = sqs.list_queues().get("QueueUrls", [])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            waiting = sum(
                int(
                    sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(counts))[
                        "Attributes"
                    ].get(name, 0)
                )
                for url in urls
                for name in counts
            )
            if not waiting:
                return
            time.sleep(0.1)

    def sweep(self, *names: str, timeout: float = 300.0) -> None:
        """Run the reconcile sweep on nodes ``names`` now and wait until it, and the work it
        queued, is done. Waits by the nodes' stats files, so the wait itself adds no AWS
        request to the counters (:meth:`settle` asks SQS)."""
        runs = {name: self._finished(name) for name in names}
        for name in names:
            self.stack.sweep_now(name)
        deadline = time.monotonic() + timeout
        while any(self._finished(name) <= runs[name] for name in names):
            if time.monotonic() > deadline:
                raise AssertionError(f"the sweep on {names} did not end in {timeout} s")
            time.sleep(0.1)
        self.idle(timeout=timeout)

    def _finished(self, name: str) -> int:
        return int(self.stack.node_stats(name).get("finished", {}).get("reconcile", 0))

    def idle(self, quiet_s: float = 2.0, timeout: float = 300.0) -> None:
        """Wait until no node's functions have run for ``quiet_s`` (by their stats files,
        written every 0.5 s; no AWS request of the bench's own)."""

        def runs() -> int:
            return sum(
                sum(self.stack.node_stats(name).get("invocations", {}).values())
                for name in self.stack.nodes
            )

        deadline = time.monotonic() + timeout
        last, since = runs(), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.25)
            now = runs()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return

    def sqs(self) -> Any:
        """A client of the embedded AWS's SQS (the nodes' queues)."""
        import boto3

        from devstack.aws import REGION

        return boto3.client(
            "sqs",
            region_name=REGION,
            endpoint_url=self.stack.aws_endpoint,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def logged(self, node: str, **fields: Any) -> list[dict[str, Any]]:
        """The JSON log records of ``node`` whose fields match ``fields`` (what a node says
        it did: watching it costs the node nothing, unlike asking its API)."""
        path = Path(self.info["nodes"][node]["json_log"])
        seen = self._log_records.setdefault(node, [])
        offset = self._log_offsets.get(node, 0)
        with path.open("rb") as f:
            f.seek(offset)
            chunk = f.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._log_offsets[node] = offset + len(complete)
        for line in complete.splitlines():
            try:
                seen.append(json.loads(line))
            except ValueError:
                continue
        return [r for r in seen if all(r.get(k) == v for k, v in fields.items())]

    def snapshot(self) -> dict[str, Any]:
        tracker_calls = 0
        routes: Counter[str] = Counter()
        for site, tracker in self.stack.trackers.items():
            bots = {
                str(u.get("id") or u.get("accountId") or u.get("key"))
                for u in tracker.admin.call("GET", "users")
                if "twinsync-bot" in json.dumps(u)
            }
            for user, per in tracker.admin.request_counts().items():
                if user in bots:
                    tracker_calls += int(per.get("total", 0))
                    routes.update({f"{site} {k}": int(v) for k, v in per.items() if k != "total"})
        invocations: Counter[str] = Counter()
        seconds: Counter[str] = Counter()
        for name in self.stack.nodes:
            stats = self.stack.node_stats(name)
            for fn, records in stats.get("records", {}).items():
                if records:
                    invocations[fn] += stats["invocations"].get(fn, 0)
            for fn, spent in stats.get("seconds", {}).items():
                seconds[fn] += spent
        return {
            "aws": self.stack.moto.counter.snapshot(),
            "tracker_calls": tracker_calls,
            "tracker_routes": routes,
            "invocations": invocations,
            "seconds": seconds,
        }


def plus(*spans: tuple[dict[str, Any], dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Several (before, after) snapshot pairs as one pair whose difference is the sum of
    theirs (for :func:`per_change` over windows that are not one stretch of time)."""
    zero: dict[str, Any] = {
        "aws": Counter(),
        "tracker_calls": 0,
        "tracker_routes": Counter(),
        "invocations": Counter(),
        "seconds": Counter(),
    }
    total: dict[str, Any] = {k: (Counter() if k != "tracker_calls" else 0) for k in zero}
    for before, after in spans:
        for k in zero:
            total[k] = total[k] + (after[k] - before[k])
    return zero, total


def per_change(before: dict[str, Any], after: dict[str, Any], changes: int) -> dict[str, float]:
    """Per change: tracker calls, AWS requests, Lambda invocations (the workers' and
    ``api_handler``'s for webhooks and peer calls) and the cost at list prices, each
    function's seconds priced at its deployed memory and architecture; API Gateway's
    requests and cost are shown apart (``api_requests``, ``apigw_usd_per_million``)."""
    counted = after["aws"] - before["aws"]
    # what the writes bill: a unit per started KB of the item, and the indexes' writes
    write_units = sum(v for k, v in counted.items() if k.startswith(WRITE_UNITS))
    aws = Counter({k: v for k, v in counted.items() if not k.startswith(WRITE_UNITS)})
    reads = sum(v for k, v in aws.items() if k.split(".")[-1] in DYNAMO_READS)
    writes = sum(v for k, v in aws.items() if k.split(".")[-1] in DYNAMO_WRITES)
    sqs_work = sum(v for k, v in aws.items() if k.startswith("sqs.") and "Receive" not in k)
    s3 = sum(v for k, v in aws.items() if k.startswith("s3."))
    invoked = after["invocations"] - before["invocations"]
    spent = after["seconds"] - before["seconds"]
    n = max(1, changes)
    if os.environ.get("BENCH_VERBOSE"):
        print({k: round(v / n, 1) for k, v in sorted(counted.items())})
        print({k: round(v / n, 2) for k, v in sorted(invoked.items())})
        calls = after["tracker_routes"] - before["tracker_routes"]
        print({k: round(v / n, 2) for k, v in sorted(calls.items())})
    gb_seconds_usd = 0.0
    for function, seconds in spent.items():
        gb, architecture = deployed_size(function)
        gb_seconds_usd += seconds * gb * gb_second_price(architecture)
    row = {
        "tracker_calls": (after["tracker_calls"] - before["tracker_calls"]) / n,
        "dynamodb_reads": reads / n,
        "dynamodb_writes": writes / n,
        "dynamodb_write_units": write_units / n,
        "sqs_requests": sqs_work / n,
        "s3_requests": s3 / n,
        "invocations": sum(invoked.values()) / n,
        "api_requests": invoked.get("api_handler", 0) / n,
        "function_seconds": sum(spent.values()) / n,
    }
    row["usd_per_million"] = 1e6 * (
        row["invocations"] * PRICES["lambda_request"]
        + gb_seconds_usd / n
        + row["dynamodb_reads"] * PRICES["dynamodb_read"]
        + row["dynamodb_write_units"] * PRICES["dynamodb_write"]
        + row["sqs_requests"] * PRICES["sqs_fifo_request"]
        + row["s3_requests"] * PRICES["s3_get"]
    )
    row["apigw_usd_per_million"] = 1e6 * row["api_requests"] * PRICES["apigw_request"]
    return row


def wait_all(checks: dict[str, Callable[[], bool]], timeout: float = 120.0) -> dict[str, float]:
    """Poll every check until true; the time each became true (monotonic seconds)."""
    done: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(done) < len(checks) and time.monotonic() < deadline:
        for name, check in checks.items():
            if name in done:
                continue
            try:
                if check():
                    done[name] = time.monotonic()
            except Exception:  # not there yet
                continue
        time.sleep(0.05)
    return done


def quantiles(values: list[float]) -> tuple[float, float]:
    """(median, p95) of ``values``."""
    if not values:
        return float("nan"), float("nan")
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95
