"""How fast a public-private connection syncs, and what the private node's polling costs.

Node a is public (Jira Cloud sandbox), node b private (Jira Server sandbox). With the
deployed schedule (poll_peers every minute), for each mode:
- default: while the connection is hot (a change either way in the last
  TWINSYNC_POLL_HOT_SECONDS; here BENCH_HOT_S), long polls of up to
  TWINSYNC_POLL_WAIT_SECONDS (20 s) for the whole run, held on the public side by the
  outbox_poll function behind its function URL (issue 19); while cool, one short pull per run;
- quiet: one short pull per scheduled run (TWINSYNC_QUIET_POLL=true);
it measures, in both directions, the time from Alice's edit in one Jira to the twin's
summary changing in the other (median, p95), beside the public-public figure (a -> c), the
first change after a quiet spell (one sample: it waits for the next run, up to a minute),
and the monthly cost of one private node's polling at list prices (bench/README.md), from
the calls, the public function's measured seconds and the DynamoDB reads counted while idle,
hot and cool; a month is priced hot all the time, cool all the time, and with
BENCH_HOT_HOURS (220: 10 hours on 22 working days) hot.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from dataclasses import replace

from bench._stack import PRICES, BenchStack, deployed_size, gb_second_price, quantiles, wait_all
from bench._targets import record
from chalicelib.trackers.base import IssueFields
from tests.stack.conftest import twin_key

CHANGES = int(os.environ.get("BENCH_CHANGES", "8"))
QUIET_CHANGES = int(os.environ.get("BENCH_QUIET_CHANGES", "3"))  # each waits up to a minute
IDLE_S = float(os.environ.get("BENCH_IDLE_S", "65"))  # > one schedule period
HOT_S = int(os.environ.get("BENCH_HOT_S", "150"))  # deployed default: 900
HOT_HOURS = float(os.environ.get("BENCH_HOT_HOURS", "220"))
MONTH_S = 30 * 24 * 3600
RUNS = 43_200  # poll_peers runs a month
# Memory and architecture as deployed (infra/functions.py, .chalice/config.json, stage prod).
POLLER_GB, POLLER_ARCH = deployed_size("poll_peers")
API_GB, API_ARCH = deployed_size("api_handler")
URL_GB, URL_ARCH = deployed_size("outbox_poll")
POLLER_PRICE, API_PRICE = gb_second_price(POLLER_ARCH), gb_second_price(API_ARCH)
URL_PRICE = gb_second_price(URL_ARCH)
# A private peer's calls on node a: the pull, its ack, the twin status notices; the
# function URL's access lines end in "url=<function>".
CALL = re.compile(
    r"access (?:GET|POST) /node/v1/connections/[^/]+/(outbox|outbox/ack|twin-status) "
    r"\d+( url=\S+)?"
)


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


def calls_in(bench) -> dict[str, int]:
    """A private peer's calls on node a so far: through the API, and on the function URL,
    and how many of them were outbox pulls."""
    counts = {"api": 0, "url": 0, "pulls": 0}
    for what, url in CALL.findall(bench.stack.nodes["a"].log_path.read_text()):
        counts["url" if url else "api"] += 1
        counts["pulls"] += what == "outbox"
    return counts


def url_seconds(bench) -> float:
    return float(bench.stack.node_stats("a").get("seconds", {}).get("outbox_poll", 0.0))


def idle(bench, seconds: float = IDLE_S) -> dict:
    """Counters over ``seconds`` of nothing happening."""
    before = (calls_in(bench), url_seconds(bench), bench.snapshot())
    time.sleep(seconds)
    after = (calls_in(bench), url_seconds(bench), bench.snapshot())
    aws = after[2]["aws"] - before[2]["aws"]
    return {
        "calls": {k: after[0][k] - before[0][k] for k in after[0]},
        "url_seconds": after[1] - before[1],
        "reads": sum(v for k, v in aws.items() if k.startswith("dynamodb.") and _read(k)),
        "seconds": seconds,
    }


def _read(op: str) -> bool:
    return op.split(".")[-1] in ("GetItem", "Query", "Scan", "BatchGetItem")


def month(measured: dict, *, poller_s: float) -> dict[str, float]:
    """A month of polling at the rates ``measured`` (one idle window), USD."""
    scale = MONTH_S / measured["seconds"]
    calls = measured["calls"]
    return {
        # the private node's poll_peers: one invocation a minute, running poller_s of it
        "private invocations": RUNS * PRICES["lambda_request"],
        "private GB-s": poller_s * RUNS * POLLER_GB * POLLER_PRICE,
        # through the API: API Gateway + an api_handler invocation, each held about as
        # long as a call on the URL is (the same route code)
        "public API calls": calls["api"]
        * scale
        * (PRICES["apigw_request"] + PRICES["lambda_request"]),
        "public URL calls": calls["url"] * scale * PRICES["lambda_request"],
        "public GB-s": measured["url_seconds"]
        * scale
        * (URL_GB * URL_PRICE if calls["url"] else API_GB * API_PRICE),
        "DynamoDB": measured["reads"] * scale * PRICES["dynamodb_read"],
    }


def on_the_api(measured: dict, *, poller_s: float) -> float:
    """The same calls and hold answered by api_handler behind API Gateway (the design
    before issue 19's function URL), USD a month: the same run's comparison."""
    moved = dict(
        measured,
        calls={
            "api": sum(measured["calls"][k] for k in ("api", "url")),
            "url": 0,
            "pulls": measured["calls"]["pulls"],
        },
    )
    return sum(month(moved, poller_s=poller_s).values())


def run(quiet: bool) -> dict:
    settings = (("TWINSYNC_QUIET_POLL", "true"),) if quiet else ()
    settings += (("TWINSYNC_POLL_HOT_SECONDS", str(HOT_S)),)
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
        ab = measure(
            bench,
            cid,
            alice_a,
            alice_b,
            ref.key,
            remote_key,
            "a",
            QUIET_CHANGES if quiet else CHANGES,
        )
        last_pulled = time.monotonic()
        result = {
            "a -> b": ab,
            "b -> a": measure(bench, cid, alice_b, alice_a, remote_key, ref.key, "b"),
        }
        if quiet:
            measured = idle(bench)
            result["cost"] = {"quiet": month(measured, poller_s=1)}
            result["pulls_per_min"] = {
                "quiet": measured["calls"]["pulls"] * 60 / measured["seconds"]
            }
            return result
        hot = idle(bench)
        # cool: the hot window has passed since the last change b saw, and b's runs show it
        # (at most one pull in 30 s: no long polls held)
        time.sleep(max(0.0, last_pulled + HOT_S - time.monotonic()))
        deadline = time.monotonic() + HOT_S + 300
        while time.monotonic() < deadline:
            seen = calls_in(bench)["pulls"]
            time.sleep(30)
            if calls_in(bench)["pulls"] - seen <= 1:
                break
        cool = idle(bench)
        result["a -> b after a quiet spell"] = measure(
            bench, cid, alice_a, alice_b, ref.key, remote_key, "q", 1
        )
        result["cost"] = {
            "hot": month(hot, poller_s=59),
            "cool": month(cool, poller_s=1),
        }
        share = min(1.0, HOT_HOURS * 3600 / MONTH_S)
        result["cost"][f"{HOT_HOURS:.0f} h hot"] = {
            k: share * result["cost"]["hot"][k] + (1 - share) * result["cost"]["cool"][k]
            for k in result["cost"]["hot"]
        }
        result["pulls_per_min"] = {
            m: x["calls"]["pulls"] * 60 / x["seconds"] for m, x in (("hot", hot), ("cool", cool))
        }
        result["pulls_per_min"][f"{HOT_HOURS:.0f} h hot"] = float("nan")
        result["hot on the API"] = on_the_api(hot, poller_s=59)
        result["hot url seconds/min"] = hot["url_seconds"] * 60 / hot["seconds"]
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
    extra = {}
    for quiet in (False, True):
        if quiet and not QUIET_CHANGES:
            continue
        mode = "quiet" if quiet else "default"
        result = run(quiet)
        rows += [(f"public-private {mode} {d}", result[d]) for d in ("a -> b", "b -> a")]
        if not quiet:
            rows.append(
                (
                    "public-private default a -> b, first after a quiet spell",
                    result["a -> b after a quiet spell"],
                )
            )
            extra = result
        for state, parts in result["cost"].items():
            costs[f"{mode} {state}" if not quiet else mode] = (
                result["pulls_per_min"][state],
                parts,
            )
    print(f"{CHANGES} summary edits per row, one at a time; poll_peers every 60 s")
    print("connection and direction | n | median s | p95 s")
    for label, latencies in rows:
        median, p95 = quantiles(latencies)
        print(f"{label} | {len(latencies)} | {median:.2f} | {p95:.2f}")
    print(
        "\nmonthly cost of one private node's polling (USD, list prices; poll_peers "
        f"{POLLER_GB * 1024:.0f} MB {POLLER_ARCH}, outbox_poll {URL_GB * 1024:.0f} MB "
        f"{URL_ARCH} on a function URL, api_handler {API_GB * 1024:.0f} MB {API_ARCH}; "
        f"hot window {HOT_S} s here, 900 s deployed)"
    )
    first = next(iter(costs.values()))[1]
    print("mode | pulls/min | " + " | ".join(first) + " | total")
    for mode, (per_min, parts) in costs.items():
        print(
            f"{mode} | {'-' if per_min != per_min else f'{per_min:.1f}'} | "
            + " | ".join(f"{v:.2f}" for v in parts.values())
            + f" | {sum(parts.values()):.2f}"
        )
    if extra:
        working = f"default {HOT_HOURS:.0f} h hot"
        record("private_usd_month", sum(costs[working][1].values()))
        record("private_median_s", quantiles(extra["a -> b"])[0])
        print(
            f"\nrecorded for the targets: a month with {HOT_HOURS:.0f} h hot "
            f"(${sum(costs[working][1].values()):.2f}); hot all month "
            f"${sum(costs['default hot'][1].values()):.2f}; median a -> b while hot"
        )
        print(
            f"\nhot, same run: outbox_poll held {extra['hot url seconds/min']:.1f} s a minute; "
            f"the same calls and hold on api_handler behind API Gateway: "
            f"{extra['hot on the API']:.2f} a month"
        )


if __name__ == "__main__":
    main()
