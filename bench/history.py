"""First syncs beside trackers with history: the local stack started over sandbox state
left by earlier runs (`BENCH_HISTORY_ISSUES` issues per project, each with a comment and
an edit, all changed 20 minutes before), against the same first syncs on fresh state.

Node a (Jira Cloud sandbox) and node c (Jira Server sandbox) with `make run`'s schedules
(the first reconcile sweep comes 30 s in, while the syncs go on), a trigger on the
connection as a team would have one, then `BENCH_HISTORY_SYNCS` issues made and synced one
after the other ("sync this issue"). Per state: first-sync latency (median, p95, max) and
the tracker calls the nodes made meanwhile (a node crawling the history shows there).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from bench._stack import BenchStack, quantiles
from chalicelib.trackers.base import IssueFields
from devstack.sandbox_jira.timefmt import MonotonicClock, system_clock
from tests.stack.conftest import twin_key

HISTORY = int(os.environ.get("BENCH_HISTORY_ISSUES", "300"))  # issues per project
SYNCS = int(os.environ.get("BENCH_HISTORY_SYNCS", "12"))
AGE_MS = 20 * 60 * 1000  # the history was changed 20 minutes before the restart
SCHEDULE = {"poll_every": 2.0, "reconcile_every": 30.0}  # devstack/stack.toml's


def seed(bench: BenchStack, per_project: int) -> int:
    """Issues, comments and edits made straight in the sandbox stores (as earlier runs
    left them; no webhook sent for them), plus a webhook a test left behind."""
    made = 0
    for tracker in bench.stack.trackers.values():
        store = tracker.server.store
        listener, store.listener = store.listener, lambda changes: None
        clock, store.clock = store.clock, MonotonicClock(lambda: system_clock() - AGE_MS)
        actor = next(u for u in store.users.values() if "alice" in f"{u.email} {u.name}")
        for project in list(store.projects.values()):
            for n in range(per_project):
                values = {"issuetype": project.issue_types[0], "summary": f"old {n}"}
                issue = store.create_issue(actor, project, {**values, "labels": ["old"]})
                store.add_comment(actor, issue, f"old comment {n}", None)
                store.edit_issue(actor, issue, {"summary": f"old {n} edited"})
                made += 1
        store.listener, store.clock = listener, clock
        tracker.admin.add_webhook(url="http://127.0.0.1:9/gone", name="left-by-a-test")
    return made


def first_syncs(bench: BenchStack, count: int) -> tuple[list[float], float]:
    cid = bench.connect("a", "c", ("ALPHA", "OPS"))
    node_a = bench.node("a")
    made = node_a.post(
        f"/api/v1/connections/{cid}/triggers", {"jql": "project = ALPHA AND labels = sync"}
    )
    assert made.status_code == 201, made.text
    alice = bench.user("a")
    before = bench.snapshot()
    latencies = []
    for n in range(count):
        ref = alice.create_issue("ALPHA", IssueFields(summary=f"new {n}", issue_type="Task"))
        started = time.monotonic()
        node_a.post(f"/api/v1/connections/{cid}/sync", {"issue_key": ref.key})
        while twin_key(node_a, cid, ref.key) is None and time.monotonic() < started + 300:
            time.sleep(0.1)
        latencies.append(time.monotonic() - started)
    calls = bench.snapshot()["tracker_calls"] - before["tracker_calls"]
    return latencies, calls / max(1, count)


def main() -> None:
    old = Path(tempfile.mkdtemp(prefix="twinsync-history-"))
    rows: list[tuple[str, list[float], float]] = []
    try:
        with BenchStack(**SCHEDULE) as bench:
            rows.append(("fresh state", *first_syncs(bench, SYNCS)))
        with BenchStack(workdir=old, **SCHEDULE) as bench:
            made = seed(bench, HISTORY)
        sizes = {p.name: p.stat().st_size // 1024 for p in old.glob("sandbox-?.json")}
        with BenchStack(workdir=old, **SCHEDULE) as bench:
            rows.append((f"restarted over {made} issues", *first_syncs(bench, SYNCS)))
    finally:
        shutil.rmtree(old, ignore_errors=True)
    print(f"{SYNCS} first syncs, node a -> node c; state files (KB): {sizes}")
    print("state | first syncs | median s | p95 s | max s | tracker calls per sync")
    for name, latencies, calls in rows:
        median, p95 = quantiles(latencies)
        print(
            f"{name} | {len(latencies)} | {median:.2f} | {p95:.2f} | {max(latencies):.2f} "
            f"| {calls:.1f}"
        )
