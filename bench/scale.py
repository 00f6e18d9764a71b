"""Scale: field changes through the local stack as the number of twins grows.

Node a (Jira Cloud sandbox) and node c (Jira Server sandbox), public-public. Issue pairs
are made straight in the two sandbox stores and linked as twins with a bulk-connect job
(no first sync: the benchmark is about what a change costs beside many twins, not about
first syncs, which `pipeline.py` measures). At each step the population grows (by default
10, then 100 twins; `BENCH_SCALE_TWINS=1000` gives 100 then 1,000), then Alice edits
summaries of random twins at `BENCH_SCALE_RATE` changes a second, a twin never edited
again before its last change has arrived (so every change is observable). A change is
done when the twin's summary on the other tracker says so.

Per step: changes per second end to end, latency p50/p95/p99, and per change the tracker
calls, DynamoDB reads and writes, SQS requests, invocations and cost per million
(`bench/_stack.py`'s `per_change`). The cost per change should not grow with the twins.
`BENCH_SCALE_CHANGES` is the number of changes over all steps (default 300; the full run
is `BENCH_SCALE_TWINS=1000 BENCH_SCALE_CHANGES=10000`).
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from bench._stack import BenchStack, per_change
from bench._targets import record

TWINS = int(os.environ.get("BENCH_SCALE_TWINS", "100"))
CHANGES = int(os.environ.get("BENCH_SCALE_CHANGES", "300"))
RATE = float(os.environ.get("BENCH_SCALE_RATE", "1"))
SEED = int(os.environ.get("BENCH_SEED", "1"))
SETTLE_S = 3.0
CHANGE_TIMEOUT_S = 300.0
PAIRS_PER_JOB = 1000


def steps(twins: int) -> list[int]:
    """The populations measured: a tenth of ``twins``, then all of them."""
    return sorted({max(1, twins // 10), max(1, twins)})


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Population:
    """The twin pairs made so far: (local key on a, remote key on c)."""

    bench: BenchStack
    cid: str
    pairs: list[tuple[str, str]] = field(default_factory=list)

    def _store(self, tracker: str) -> Any:
        return self.bench.stack.trackers[tracker].server.store

    def _alice(self, tracker: str) -> Any:
        store = self._store(tracker)
        return next(u for u in store.users.values() if "alice" in f"{u.email} {u.name}")

    def grow_to(self, count: int) -> None:
        """Issue pairs made in the sandboxes, linked as twins by bulk-connect jobs."""
        store_a, store_c = self._store("a"), self._store("b")
        alice_a, alice_c = self._alice("a"), self._alice("b")
        alpha, ops = store_a.project("ALPHA"), store_c.project("OPS")
        new = []
        for n in range(len(self.pairs), count):
            local = store_a.create_issue(alice_a, alpha, {"issuetype": "Task", "summary": f"s{n}"})
            remote = store_c.create_issue(alice_c, ops, {"issuetype": "Task", "summary": f"s{n}"})
            new.append((local.key, remote.key))
        node_a = self.bench.node("a")
        for start in range(0, len(new), PAIRS_PER_JOB):
            chunk = new[start : start + PAIRS_PER_JOB]
            made = node_a.post(
                f"/api/v1/connections/{self.cid}/bulk-connect", {"pairs": [list(p) for p in chunk]}
            )
            assert made.status_code in (200, 201, 202), made.text
            self._wait_job(node_a, made.json()["job_id"])
        self.pairs += new
        self._wait_quiet()

    def _wait_job(self, node: Any, job_id: str) -> None:
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            job = node.get(f"/api/v1/jobs/{job_id}").json()
            if job.get("state") in ("done", "cancelled", "failed"):
                assert job["state"] == "done", job
                return
            time.sleep(0.5)
        raise AssertionError(f"bulk-connect {job_id} did not finish")

    def _wait_quiet(self) -> None:
        """Nothing waiting in either node's queue for the connection (setup's echoes)."""
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            waiting = 0
            for name in ("a", "c"):
                queue = self.bench.node(name).get(f"/api/v1/connections/{self.cid}/queue").json()
                waiting += queue["outgoing"]["pending"] + queue["incoming"]["pending"]
            if not waiting:
                break
            time.sleep(1.0)
        time.sleep(SETTLE_S)

    def drive(self, changes: int, rate: float, rng: random.Random) -> dict[str, Any]:
        """``changes`` summary edits at ``rate``/s; latencies of those that arrived."""
        store_a, store_c = self._store("a"), self._store("b")
        alice = self._alice("a")
        in_flight: dict[int, tuple[str, str, float]] = {}  # pair index -> (summary, key, t0)
        latencies: list[float] = []
        lock = threading.Lock()
        stop = threading.Event()

        def watch() -> None:
            while not stop.is_set() or in_flight:
                with lock:
                    pending = list(in_flight.items())
                for index, (summary, remote, started) in pending:
                    issue = store_c.issue(remote)
                    if issue is not None and issue.summary == summary:
                        with lock:
                            in_flight.pop(index, None)
                            latencies.append(time.monotonic() - started)
                    elif time.monotonic() - started > CHANGE_TIMEOUT_S:
                        with lock:
                            in_flight.pop(index, None)  # counted as not arrived
                time.sleep(0.05)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        tag = uuid.uuid4().hex[:6]
        first = time.monotonic()
        for n in range(changes):
            due = first + n / rate
            while time.monotonic() < due:
                time.sleep(min(0.01, max(0.0, due - time.monotonic())))
            while True:
                with lock:
                    free = [i for i in range(len(self.pairs)) if i not in in_flight]
                if free:
                    break
                time.sleep(0.01)
            index = rng.choice(free)
            local, remote = self.pairs[index]
            summary = f"{tag} change {n}"
            with lock:
                in_flight[index] = (summary, remote, time.monotonic())
            issue = store_a.issue(local)
            store_a.edit_issue(alice, issue, {"summary": summary})
        stop.set()
        watcher.join(CHANGE_TIMEOUT_S + 10)
        return {"latencies": latencies, "span": time.monotonic() - first}


HEADER = (
    "twins",
    "changes",
    "arrived",
    "chg/s",
    "p50 s",
    "p95 s",
    "p99 s",
    "tracker",
    "ddb R",
    "ddb W",
    "sqs",
    "invocations",
    "$ per 1M",
    "twins made in s",
)


def row(twins: int, made: int, done: list[float], span: float, setup_s: float, cost: Any) -> str:
    return " | ".join(
        [
            str(twins),
            str(made),
            str(len(done)),
            f"{len(done) / span:.2f}",
            f"{percentile(done, 0.5):.2f}",
            f"{percentile(done, 0.95):.2f}",
            f"{percentile(done, 0.99):.2f}",
            f"{cost['tracker_calls']:.1f}",
            f"{cost['dynamodb_reads']:.1f}",
            f"{cost['dynamodb_writes']:.1f}",
            f"{cost['sqs_requests']:.1f}",
            f"{cost['invocations']:.1f}",
            f"{cost['usd_per_million']:.2f}",
            f"{setup_s:.0f}",
        ]
    )


def main() -> None:
    rng = random.Random(SEED)
    populations = steps(TWINS)
    per_step = max(1, CHANGES // len(populations))
    started = time.monotonic()
    print(
        f"node a (Jira Cloud sandbox) -> node c (Jira Server sandbox), summary edits at "
        f"{RATE:g}/s offered, {per_step} changes per step",
        flush=True,
    )
    print(" | ".join(HEADER), flush=True)
    # deployed schedules: poll and sweep cost per hour, not per change
    with BenchStack(poll_every=60.0, reconcile_every=300.0) as bench:
        cid = bench.connect("a", "c", ("ALPHA", "OPS"))
        population = Population(bench, cid)
        costs = []
        for twins in populations:
            grow = time.monotonic()
            population.grow_to(twins)
            setup_s = time.monotonic() - grow
            before = bench.snapshot()
            result = population.drive(per_step, RATE, rng)
            time.sleep(SETTLE_S)
            after = bench.snapshot()
            done = result["latencies"]
            cost = per_change(before, after, len(done))
            print(row(twins, per_step, done, result["span"], setup_s, cost), flush=True)
            costs.append(cost["usd_per_million"])
    print(f"{time.monotonic() - started:.0f} s in all")
    if len(costs) > 1 and costs[0]:
        record("scale_cost_growth", costs[-1] / costs[0])


if __name__ == "__main__":
    main()
