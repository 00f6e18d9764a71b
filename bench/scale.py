"""Scale: field changes through the local stack as the number of twins grows.

Node a (Jira Cloud sandbox) and node c (Jira Server sandbox), public-public. Issue pairs
are made straight in the two sandbox stores and linked as twins with a bulk-connect job
(no first sync: the benchmark is about what a change costs beside many twins, not about
first syncs, which `pipeline.py` measures). At each step the population grows (by default
10, then 100 twins; `BENCH_SCALE_TWINS=1000` gives 100 then 1,000), then Alice edits
summaries at `BENCH_SCALE_RATE` changes a second, a twin never edited again before its
last change has arrived (so every change is observable). A change is done when the twin's
summary on the other tracker says so. Each step has two phases, measured apart:

- **first**: each twin made in this step is edited once, in random order: the twin's first
  change since it was bulk-connected (10 at the first step, 90 at the second);
- **later**: `BENCH_SCALE_CHANGES` / steps edits of random twins, as the benchmark did
  before it had phases; every twin has had its first change by then, so these are later
  changes.

Rows per step, per change: `first` and `later`, each phase's changes without the sweep;
`sweep`, the step's sweep (below) per change of the step; `all`, both phases and the
sweep, counts summed over changes summed: what a change of the step cost in all,
as the single row before phases was (when the step's random edits mixed first and later
changes, and a sweep fell where it fell). `scale_cost_growth` is `all`'s cost at the
largest step over the smallest, as before; the ratios of the other rows are printed too.

The sweep. Deployed, each node sweeps every 5 minutes and re-reads what changed since
(`sync/reconcile.py`); a twin's issue written by apply has a new `updated` the twin has
not read, so the next sweep reads it once more (a tracker GET, the twin's lease and
registers) however many changes it had in between: the sweep's share of a change grows
with how many distinct twins the changes touch. Left on its 5-minute timer the sweep fell
in whichever step's window it happened to (before phases: once in the 100-twin step, none
in the 10-twin one, +0.4 tracker calls, +4.5 reads and +0.9 writes per change). So the
timer is off here (`reconcile_every` an hour) and the bench sweeps nodes a and c itself
(`BenchStack.sweep`): after setup (outside any window), and once a step after both phases
(inside the step's window): at the default sizes and rate 160 and 240 s of changes, about
the 5 minutes a deployed sweep covers (a sweep per 300 s of changes would share each
re-read among a few more changes where the twins are many).

Per row: changes per second end to end, latency p50/p95/p99, and per change the tracker
calls, DynamoDB reads and writes, SQS requests, invocations and cost per million
(`bench/_stack.py`'s `per_change`). The cost per change should not grow with the twins.
`BENCH_SCALE_CHANGES` is the number of later changes over all steps (default 300; the
full run is `BENCH_SCALE_TWINS=1000 BENCH_SCALE_CHANGES=10000`).
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from bench._stack import BenchStack, per_change, plus
from bench._targets import record

TWINS = int(os.environ.get("BENCH_SCALE_TWINS", "100"))
CHANGES = int(os.environ.get("BENCH_SCALE_CHANGES", "300"))
RATE = float(os.environ.get("BENCH_SCALE_RATE", "1"))
SEED = int(os.environ.get("BENCH_SEED", "1"))
SETTLE_S = 3.0
SWEPT = ("a", "c")  # the nodes of the connection; b (tracker b's other node) has none
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
        self.bench.sweep(*SWEPT)  # setup's issues read by a sweep before any window

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

    def drive(
        self, changes: int, rate: float, rng: random.Random, order: list[int] | None = None
    ) -> dict[str, Any]:
        """``changes`` summary edits at ``rate``/s (of the twins ``order`` lists, in turn, or
        else of random ones); latencies of those that arrived."""
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
            index = order[n] if order is not None else rng.choice(free)  # order: each once
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
    "kind",
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


@dataclass
class Phase:
    """One phase's measurement: its changes' latencies, and the snapshots before it, after
    its changes arrived and settled (``swept_from``), and after its sweep."""

    made: int
    latencies: list[float]
    span: float
    before: dict[str, Any]
    swept_from: dict[str, Any]
    after: dict[str, Any]


def measure(
    bench: BenchStack,
    population: Population,
    changes: int,
    rng: random.Random,
    order: list[int] | None = None,
    sweep: bool = False,
) -> Phase:
    """A phase of ``changes`` edits, counted until they and their echoes are done; then,
    with ``sweep``, the sweep of nodes a and c, counted apart (``swept_from``)."""
    before = bench.snapshot()
    result = population.drive(changes, RATE, rng, order)
    time.sleep(SETTLE_S)
    bench.idle()
    swept_from = bench.snapshot()
    if sweep:
        bench.sweep(*SWEPT)
    after = bench.snapshot() if sweep else swept_from
    return Phase(changes, result["latencies"], result["span"], before, swept_from, after)


def row(twins: int, kind: str, phases: list[Phase], setup_s: float) -> tuple[str, dict[str, float]]:
    """The table's row of ``kind`` over ``phases``, and its cost per change: ``first`` and
    ``later`` count a phase's changes without the sweep, ``sweep`` the sweep alone (per
    change of the phases), ``all`` the phases and the sweep."""
    done = [t for p in phases for t in p.latencies]
    if kind == "sweep":
        spans = [(p.swept_from, p.after) for p in phases]
    elif kind == "all":
        spans = [(p.before, p.after) for p in phases]
    else:
        spans = [(p.before, p.swept_from) for p in phases]
    cost = per_change(*plus(*spans), len(done))
    span = sum(p.span for p in phases)
    timing = (
        ["-"] * 4
        if kind == "sweep"
        else [
            f"{len(done) / span:.2f}",
            f"{percentile(done, 0.5):.2f}",
            f"{percentile(done, 0.95):.2f}",
            f"{percentile(done, 0.99):.2f}",
        ]
    )
    cells = [
        str(twins),
        str(sum(p.made for p in phases)),
        kind,
        str(len(done)),
        *timing,
        f"{cost['tracker_calls']:.1f}",
        f"{cost['dynamodb_reads']:.1f}",
        f"{cost['dynamodb_writes']:.1f}",
        f"{cost['sqs_requests']:.1f}",
        f"{cost['invocations']:.1f}",
        f"{cost['usd_per_million']:.2f}",
        f"{setup_s:.0f}",
    ]
    return " | ".join(cells), cost


KINDS = ("first", "later", "sweep", "all")


def main() -> None:
    rng = random.Random(SEED)
    populations = steps(TWINS)
    per_step = max(1, CHANGES // len(populations))
    started = time.monotonic()
    print(
        f"node a (Jira Cloud sandbox) -> node c (Jira Server sandbox), summary edits at "
        f"{RATE:g}/s offered; per step each new twin's first change, then {per_step} "
        "changes of random twins; then a sweep of nodes a and c",
        flush=True,
    )
    print(" | ".join(HEADER), flush=True)
    # the deployed schedule for polls (cost per hour); the sweep is the bench's own, once a
    # step after both phases (module docstring): its timer off, a sweep fired by hand never
    # skipped for the interval
    sweep_by_hand = {"TWINSYNC_RECONCILE_INTERVAL_SECONDS": "1"}
    with BenchStack(
        poll_every=60.0,
        reconcile_every=3600.0,
        node_settings={name: sweep_by_hand for name in SWEPT},
    ) as bench:
        cid = bench.connect("a", "c", ("ALPHA", "OPS"))
        population = Population(bench, cid)
        costs: dict[str, list[float]] = {kind: [] for kind in KINDS}
        for twins in populations:
            grow = time.monotonic()
            made_before = len(population.pairs)
            population.grow_to(twins)
            setup_s = time.monotonic() - grow
            new = list(range(made_before, len(population.pairs)))
            rng.shuffle(new)
            first = measure(bench, population, len(new), rng, order=new)
            later = measure(bench, population, per_step, rng, sweep=True)
            for kind in KINDS:
                phases = {"first": [first], "later": [later]}.get(kind, [first, later])
                text, cost = row(twins, kind, phases, setup_s)
                print(text, flush=True)
                costs[kind].append(cost["usd_per_million"])
    print(f"{time.monotonic() - started:.0f} s in all")
    growth = {k: c[-1] / c[0] for k, c in costs.items() if len(c) > 1 and c[0]}
    if growth:
        print(
            "cost per change, largest / smallest step: "
            + ", ".join(f"{kind} {ratio:.2f}x" for kind, ratio in growth.items())
        )
    if "all" in growth:
        record("scale_cost_growth", growth["all"])


if __name__ == "__main__":
    main()
