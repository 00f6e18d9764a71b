"""How fast a public-private connection syncs, and what the private node's polling costs.

Node a is public (Jira Cloud sandbox), node b private (Jira Server sandbox). With the
deployed schedule (poll_peers every minute, each run long-polling until just before the
next), for each mode:
- default: long polls of up to TWINSYNC_POLL_WAIT_SECONDS (20 s) held open by the public side;
- quiet: one short pull per scheduled run (TWINSYNC_QUIET_POLL=true);
it measures, in both directions, the time from Alice's edit in one Jira to the twin's
summary changing in the other (median, p95), beside the public-public figure (a -> c), and
the monthly cost of one private node's polling at list prices (bench/README.md), from the
pulls, function seconds and DynamoDB reads counted while idle.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from dataclasses import replace

from bench._stack import PRICES, BenchStack, deployed_size, gb_second_price, quantiles, wait_all
from chalicelib.trackers.base import IssueFields
from tests.stack.conftest import twin_key

CHANGES = int(os.environ.get("BENCH_CHANGES", "8"))
QUIET_CHANGES = int(os.environ.get("BENCH_QUIET_CHANGES", "3"))  # each waits up to a minute
IDLE_S = float(os.environ.get("BENCH_IDLE_S", "65"))  # > one schedule period
MONTH_S = 30 * 24 * 3600
# Memory and architecture as deployed (infra/functions.py, .chalice/config.json, stage prod).
POLLER_GB, POLLER_ARCH = deployed_size("poll_peers")
API_GB, API_ARCH = deployed_size("api_handler")
POLLER_PRICE, API_PRICE = gb_second_price(POLLER_ARCH), gb_second_price(API_ARCH)
PULL = re.compile(r"access GET /node/v1/connections/[^/]+/outbox ")


def measure(bench, cid, src_user, dst_user, src_key, dst_key, label, changes=CHANGES):
    """Edit the summary on one side ``changes`` times, one at a time; latency of each."""
    latencies = []
    for i in range(changes):
        text = f"{label} change {i} {uuid.uuid4().hex[:4]}"
        started = time.monotonic()
        src_user.update_issue(src_key, IssueFields(summary=text))
        done = wait_all(
            {"x": lambda text=text: dst_user.get_issue(dst_key).summary == text}, timeout=90
        )
        if "x" in done:
            latencies.append(done["x"] - started)
        time.sleep(0.5)
    return latencies


def pulls_in(bench) -> int:
    return len(PULL.findall(bench.stack.nodes["a"].log_path.read_text()))


def run(quiet: bool) -> dict:
    settings = (("TWINSYNC_QUIET_POLL", "true"),) if quiet else ()
    bench = BenchStack(poll_every=60.0, reconcile_every=300.0)
    nodes = dict(bench.stack.spec.nodes)
    nodes["b"] = replace(nodes["b"], settings=settings)
    bench.stack.spec = replace(bench.stack.spec, nodes=nodes)
    with bench:
        a, alice_a, alice_b = bench.node("a"), bench.user("a"), bench.user("b")
        cid = bench.connect("a", "b", ("ALPHA", "OPS"), public=False)
        ref = alice_a.create_issue("ALPHA", IssueFields(summary="latency", issue_type="Task"))
        a.post(f"/api/v1/connections/{cid}/sync", {"issue_key": ref.key})
        remote = wait_all({"t": lambda: twin_key(a, cid, ref.key)}, timeout=150)
        assert remote, "the first sync did not complete"
        remote_key = twin_key(a, cid, ref.key)
        result = {
            "a -> b": measure(
                bench,
                cid,
                alice_a,
                alice_b,
                ref.key,
                remote_key,
                "a",
                QUIET_CHANGES if quiet else CHANGES,
            ),
            "b -> a": measure(bench, cid, alice_b, alice_a, remote_key, ref.key, "b"),
        }
        before = (pulls_in(bench), bench.snapshot())
        time.sleep(IDLE_S)
        after = (pulls_in(bench), bench.snapshot())
        reads = sum(
            v for k, v in (after[1]["aws"] - before[1]["aws"]).items() if k.startswith("dynamodb.")
        )
        seconds = sum((after[1]["seconds"] - before[1]["seconds"]).values())
        pulls = after[0] - before[0]
        scale = MONTH_S / IDLE_S
        wait = 0 if quiet else 20
        month = {
            # the private node's poll_peers: one invocation a minute, running its whole slot
            "private invocations": 43_200 * PRICES["lambda_request"],
            "private GB-s": (59 if not quiet else 1) * 43_200 * POLLER_GB * POLLER_PRICE,
            # the public side answers each pull, holding a function up to `wait` seconds
            "public API calls": pulls
            * scale
            * (PRICES["apigw_request"] + PRICES["lambda_request"]),
            "public GB-s": pulls * scale * max(wait / 2, 0.1) * API_GB * API_PRICE,
            "DynamoDB": reads * scale * PRICES["dynamodb_read"],
        }
        result["cost"] = month
        result["pulls_per_min"] = pulls * 60 / IDLE_S
        result["measured_fn_seconds"] = seconds
    return result


def public_public() -> list[float]:
    with BenchStack(poll_every=60.0, reconcile_every=300.0) as bench:
        a, alice_a, alice_c = bench.node("a"), bench.user("a"), bench.user("b")
        cid = bench.connect("a", "c", ("ALPHA", "SUP"))
        ref = alice_a.create_issue("ALPHA", IssueFields(summary="latency", issue_type="Task"))
        a.post(f"/api/v1/connections/{cid}/sync", {"issue_key": ref.key})
        wait_all({"t": lambda: twin_key(a, cid, ref.key)}, timeout=60)
        return measure(bench, cid, alice_a, alice_c, ref.key, twin_key(a, cid, ref.key), "pp")


def main() -> None:
    rows = [("public-public a -> c", public_public())]
    costs = {}
    for quiet in (False, True):
        mode = "quiet" if quiet else "default"
        result = run(quiet)
        rows += [(f"public-private {mode} {d}", result[d]) for d in ("a -> b", "b -> a")]
        costs[mode] = result
    print(f"{CHANGES} summary edits per row, one at a time; poll_peers every 60 s")
    print("connection and direction | n | median s | p95 s")
    for label, latencies in rows:
        median, p95 = quantiles(latencies)
        print(f"{label} | {len(latencies)} | {median:.2f} | {p95:.2f}")
    print(
        "\nmonthly cost of one private node's polling (USD, list prices; poll_peers "
        f"{POLLER_GB * 1024:.0f} MB {POLLER_ARCH}, public api_handler {API_GB * 1024:.0f} MB "
        f"{API_ARCH})"
    )
    print("mode | pulls/min | " + " | ".join(costs["default"]["cost"]) + " | total")
    for mode, result in costs.items():
        parts = result["cost"]
        print(
            f"{mode} | {result['pulls_per_min']:.1f} | "
            + " | ".join(f"{v:.2f}" for v in parts.values())
            + f" | {sum(parts.values()):.2f}"
        )


if __name__ == "__main__":
    main()
