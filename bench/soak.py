"""Chaos soak: N changes across T twins both ways, with faults, then every twin compared
through both sandbox trackers.

The soak itself lives in ``tests/stack/soak.py`` (the slow stack test runs a small version
of the same code); this module starts its own stack, runs it at the benchmark's size and
prints the table. ``BENCH_SOAK_CHANGES`` (default 150), ``BENCH_SOAK_TWINS`` (20),
``BENCH_SEED`` (1: the same changes and fault plan on every run), ``BENCH_SOAK_RATE``
(changes per second, at most; 6), ``BENCH_SOAK_QUIET_S`` (longest wait for the pipeline
to go quiet; 900). The issue's size, ``BENCH_SOAK_CHANGES=2000 BENCH_SOAK_TWINS=200``, takes
about 18 minutes on 2 cores (result in bench/README.md), hence the small default.
"""

from __future__ import annotations

import os

from bench._stack import BenchStack
from tests.stack.soak import SoakPlan, evidence_text, run_soak, summary_rows

SHOWN = 20  # findings printed per kind


def plan_from_env() -> SoakPlan:
    return SoakPlan(
        changes=int(os.environ.get("BENCH_SOAK_CHANGES", "150")),
        twins=int(os.environ.get("BENCH_SOAK_TWINS", "20")),
        seed=int(os.environ.get("BENCH_SEED", "1")),
        rate=float(os.environ.get("BENCH_SOAK_RATE", "6")),
        quiet_timeout_s=float(os.environ.get("BENCH_SOAK_QUIET_S", "900")),
        progress=True,
    )


def main() -> None:
    plan = plan_from_env()
    print(
        f"   {plan.changes} changes over {plan.twins} twins, seed {plan.seed}, "
        f"at most {plan.rate:g} changes/s",
        flush=True,
    )
    with BenchStack() as bench:
        result = run_soak(bench.stack, bench.info, plan)
    rows = summary_rows(result)
    width = max(len(what) for what, _ in rows)
    for what, value in rows:
        print(f"{what:<{width}}  {value}")
    for title, items in (
        ("duplicates, lost and drift", [*result.lost, *result.drift]),
        ("explained by a documented limit", result.explained),
        ("one-sided conflict records", result.conflicts_not_alike),
        ("not exercised", result.not_exercised),
    ):
        if items:
            print(f"{title} ({len(items)}):")
            for item in items[:SHOWN]:
                print(f"   {item}")
    evidence = evidence_text(result)
    if evidence:
        print(evidence)


if __name__ == "__main__":
    main()
