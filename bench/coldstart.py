"""Cold-start import time of each deployed function, against ``import chalice, boto3``.

A function's cold start is its init (``import app``) and then what its first invocation
imports. ``import app`` is the same for every function and cheap: the routes are declared
from a table and each view module is imported on its route's first call
(:mod:`chalicelib.lazy_routes`), and the queue handlers import their stage when they run
(:mod:`chalicelib.workers`). :data:`FIRST_INVOCATION` lists, per function, what its first
invocation imports after ``import app`` (``api_handler``: per kind of first request);
``tests/functional/test_cold_imports.py`` checks that list against what a first call in a
fresh process really loads. For each row this times, in fresh interpreter processes,
``import app`` followed by those imports, and reports the median and its ratio to a bare
``import chalice, boto3`` baseline timed in the same rounds: the CPU time of the imports
(steady on a shared machine) and the wall time. Modules that do not exist are skipped
(and listed). A local proxy: this venv with ``.pyc`` caches; for the read-only Lambda
layout without them, see ``bench/lambda_deps.py``.

The children run as in Lambda (``AWS_LAMBDA_FUNCTION_NAME`` set), so ``import app`` holds
Python's cycle collector as it does there (:mod:`chalicelib.gc_hold`); the baseline is the
bare imports, collector on. For comparison, a second baseline imports the same with the
collector off, and the slowest function's ratio to it is printed too: what the code itself
costs beyond chalice and boto3, apart from what holding the collector saves.

``BENCH_COLDSTART_BEFORE=<dir>`` times another tree (e.g. an export of an earlier commit)
in alternation with this one, and prints both: each tree's rows from its own
``FIRST_INVOCATION`` (what that tree's first invocations import; a module one tree has and
the other lacks would otherwise fail the import or be timed where it is not used).

    BENCH_RUNS=21 python -m bench.coldstart
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from bench._targets import record

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("BENCH_RUNS", "11"))
BEFORE = os.environ.get("BENCH_COLDSTART_BEFORE")
BASELINE = ("chalice", "boto3")
BASELINE_ROW = "baseline: chalice, boto3"
BASELINE_OFF_ROW = "baseline, collector off"
# what a row runs before its clock starts
PRELUDES = {BASELINE_OFF_ROW: "import gc; gc.disable(); "}
INIT_ROW = "import app (every function's init)"
# Every function of the node builds the root on its first invocation: its AWS clients
# (botocore's, made by chalicelib.aws_clients: no function loads boto3, and ``import app``
# no botocore), the PynamoDB models bound, the JSON logs; the first unit of work's end
# writes its metrics (EMF).
READY = (
    "botocore.session",
    "chalicelib.aws_clients",
    "chalicelib.root",
    "chalicelib.connections.sealing",  # the key sealer the root binds (its KMS client: on use)
    "chalicelib.store.models",
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch",
)
# A function that calls out (a peer, a URL) imports the fetcher's transport with its first
# request (chalicelib.net.pinned), not with the root: one that only talks to DynamoDB, SQS
# or S3 never loads it. Its HTTP client is urllib3, which botocore has already loaded (no
# requests, no charset_normalizer: issue 19).
CALLS_OUT = (
    *READY,
    "chalicelib.net.pinned",
    # the root's sync collaborators the stages are given: the fetchers and the blob store
    # (the peer client, the tracker adapter and the S3 client are built on first use)
    "chalicelib.net.outbound",
    "chalicelib.sync.blobs",
)
# The stages that read or write the tracker build its adapter on first use (root.sync holds
# it deferred): Jira Cloud here (the Server adapter shares its modules but one).
SYNC = (
    *CALLS_OUT,
    "chalicelib.trackers.factory",
    "chalicelib.trackers.jira_cloud",
    "chalicelib.trackers.paced",  # the adapter, counted against the node's budget
)
# What each function imports on its first invocation, after ``import app``. api_handler's
# rows are its kinds of first request; "api_handler" alone is the webhook, the request a
# node gets most. Peer tokens (HS256) are checked and signed with the standard library
# (chalicelib.connections.tokens): no PyJWT, no cryptography on a peer's call.
FIRST_INVOCATION: dict[str, tuple[str, ...]] = {
    # intake checks the signature, claims the delivery and queues it: no tracker call; the
    # root's sync collaborators it is given build the fetchers and the blob store (the peer
    # client, the tracker adapter and the S3 client on first use: not here)
    "api_handler": (
        *READY,
        "chalicelib.api.webhooks",
        "chalicelib.net.outbound",
        "chalicelib.sync.blobs",
    ),
    "api_handler: replicas": (
        *READY,
        "chalicelib.api.node_sync",
        "chalicelib.connections.node_auth",
    ),
    "api_handler: admin API": (*READY, "chalicelib.api.connections"),
    "api_handler: console": (
        *READY,
        "chalicelib.console.signin_views",
        "jinja2",  # the page's template
    ),
    # a signed-in administrator's first page, the connections list: its screen, the node's
    # half of the session (the standard library joins the halves: no cipher to load), and
    # the admin API's view the screen calls in-process
    "api_handler: console, signed in": (
        *READY,
        "chalicelib.console.wizard_views",
        "chalicelib.store.console_sessions",
        "chalicelib.api.connections",
        "jinja2",
    ),
    # ingest pushes a change to a public peer itself (deliver_now): the peer client's
    # module, which sync.links imports where it builds the peer's end
    "ingest": (*SYNC, "chalicelib.sync.events", "chalicelib.sync.ingest", "chalicelib.net.peer"),
    # sends the replicas to the peer (and attachment bytes): no tracker call
    "deliver": (
        *CALLS_OUT,
        "chalicelib.sync.events",
        "chalicelib.sync.deliver",
        "chalicelib.net.peer",
    ),
    "apply": (*SYNC, "chalicelib.sync.events", "chalicelib.sync.apply"),
    # pulls the peers' outboxes and notices: no tracker call
    "poll_peers": (*CALLS_OUT, "chalicelib.sync.events", "chalicelib.ops.poll"),
    "reconcile": (
        *SYNC,
        "chalicelib.sync.events",
        "chalicelib.sync.reconcile",
        "chalicelib.sync.trigger_match",  # are there active triggers (the sweep's watch)
        "chalicelib.sync.resume",
        "chalicelib.trackers.budget",
        "chalicelib.ops.queue_view",
    ),
    "jobs": (*SYNC, "chalicelib.sync.events", "chalicelib.ops.job_runner"),
    # the catch-up lane's stages (bulk jobs, the sweep): the live stage's modules
    "ingest_catchup": (
        *SYNC,
        "chalicelib.sync.events",
        "chalicelib.sync.ingest",
        "chalicelib.net.peer",
    ),
    "deliver_catchup": (
        *CALLS_OUT,
        "chalicelib.sync.events",
        "chalicelib.sync.deliver",
        "chalicelib.net.peer",
    ),
    "apply_catchup": (*SYNC, "chalicelib.sync.events", "chalicelib.sync.apply"),
    # a private peer's pull on the function URL: the outbox route behind peer auth (the
    # pull routes have a view module of their own: no apply)
    "outbox_poll": (
        *READY,
        "chalicelib.api.pull_url",
        "chalicelib.api.node_pull",
        "chalicelib.connections.node_auth",
    ),
    "script_runner": ("chalicelib.rules.script",),
}


def _exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _env() -> dict[str, str]:
    """The child's environment: no stage settings, and ``.pyc`` files written and used.

    ``PYTHONDONTWRITEBYTECODE`` (set in some shells) would leave a tree without ``.pyc``
    files and time the compiling of its modules in every process: a fresh worktree would
    then measure far slower than one whose caches someone else had written.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWINSYNC_", "AWS_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    env["AWS_LAMBDA_FUNCTION_NAME"] = "twinsync-bench"  # as in Lambda (chalicelib.gc_hold)
    return env


def _time_imports(
    modules: tuple[str, ...], tree: Path = ROOT, prelude: str = ""
) -> tuple[float, float]:
    """CPU and wall milliseconds to import ``modules`` in a fresh interpreter in ``tree``
    (after ``prelude``, untimed)."""
    body = "; ".join(f"import {m}" for m in modules)
    code = (
        f"{prelude}import time; c, w = time.process_time(), time.perf_counter(); "
        f"{body}; print(time.process_time() - c, time.perf_counter() - w)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tree, env=_env(), capture_output=True, text=True
    )
    if out.returncode != 0:
        raise RuntimeError(f"importing {modules} in {tree} failed: {out.stderr.strip()[-500:]}")
    cpu, wall = (float(v) * 1000 for v in out.stdout.split())
    return cpu, wall


def deployed_functions() -> list[str]:
    """The function names ``chalice package`` generates, read from the app itself."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from app import app
    from infra.functions import discover
    from infra.package import load_resources

    return [spec.name for spec in discover(app, load_resources()["Resources"])]


def plan() -> tuple[dict[str, tuple[str, ...]], list[str]]:
    """``{row: modules}`` to time, and notes about what was skipped."""
    rows: dict[str, tuple[str, ...]] = {
        BASELINE_ROW: BASELINE,
        BASELINE_OFF_ROW: BASELINE,
        INIT_ROW: ("app",),
    }
    notes = []
    for name in deployed_functions():
        kinds = [row for row in FIRST_INVOCATION if row.split(":")[0] == name]
        if not kinds:
            notes.append(f"{name}: no first-invocation imports listed; timing `import app` only")
            kinds = [name]
        for row in kinds:
            lazy = FIRST_INVOCATION.get(row, ())
            missing = [m for m in lazy if not _exists(m)]
            if missing:
                notes.append(f"{row}: skipped missing {', '.join(missing)}")
            rows[row] = ("app", *(m for m in lazy if m not in missing))
    return rows, notes


def plan_in(tree: Path) -> tuple[dict[str, tuple[str, ...]], list[str]]:
    """:func:`plan` as ``tree``'s own ``bench/coldstart.py`` makes it."""
    if tree == ROOT:
        return plan()
    code = "import json; from bench.coldstart import plan; print(json.dumps(plan()))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tree, env=_env(), capture_output=True, text=True
    )
    if out.returncode != 0:
        raise RuntimeError(f"reading the rows of {tree} failed: {out.stderr.strip()[-500:]}")
    rows, notes = json.loads(out.stdout.strip().splitlines()[-1])
    return {row: tuple(modules) for row, modules in rows.items()}, [f"{tree}: {n}" for n in notes]


def main() -> None:
    trees = {"": ROOT} if not BEFORE else {"before": Path(BEFORE).resolve(), "after": ROOT}
    plans = {tree: plan_in(where) for tree, where in trees.items()}
    rows: dict[str, tuple[str, ...]] = {}  # every row once, shown with this tree's imports
    for plan_rows, _ in plans.values():
        rows.update(plan_rows)
    notes = [note for _, tree_notes in plans.values() for note in tree_notes]
    samples = {(tree, row): ([], []) for tree in trees for row in plans[tree][0]}
    for run in range(RUNS + 1):
        for row in rows:  # alternate rows so machine load hits all alike
            for tree, where in trees.items():
                if (tree, row) not in samples:
                    continue
                cpu, wall = _time_imports(plans[tree][0][row], where, PRELUDES.get(row, ""))
                if run:  # the first round warms the file cache and writes .pyc files
                    samples[(tree, row)][0].append(cpu)
                    samples[(tree, row)][1].append(wall)
    print(f"Cold-start imports: median of {RUNS} fresh processes (ms), ratio to the baseline")
    header = f"{'function':<36}"
    for tree in trees:
        label = f"{tree} " if tree else ""
        header += f" {label + 'cpu':>11} {'ratio':>6} {label + 'wall':>11} {'ratio':>6}"
    print(header + "  imports")
    base = {tree: [statistics.median(v) for v in samples[(tree, BASELINE_ROW)]] for tree in trees}
    for row, modules in rows.items():
        line = f"{row:<36}"
        for tree in trees:
            if (tree, row) not in samples:
                line += f" {'':>11} {'':>6} {'':>11} {'':>6}"
                continue
            cpu, wall = (statistics.median(v) for v in samples[(tree, row)])
            line += f" {cpu:>11.0f} {cpu / base[tree][0]:>6.2f} {wall:>11.0f} "
            line += f"{wall / base[tree][1]:>6.2f}"
        shown = ", ".join(m.removeprefix("chalicelib.") for m in modules)
        print(f"{line}  {shown}")
    for note in notes:
        print(f"  note: {note}")
    now = "after" if BEFORE else ""  # this tree's rows: the slowest function's CPU ratio
    functions = [r for r in plans[now][0] if r not in (BASELINE_ROW, BASELINE_OFF_ROW)]
    slowest = max(functions, key=lambda r: statistics.median(samples[(now, r)][0]))
    cpu = statistics.median(samples[(now, slowest)][0])
    off = statistics.median(samples[(now, BASELINE_OFF_ROW)][0])
    print(
        f"slowest: {slowest}, {cpu / base[now][0]:.2f}x the baseline; "
        f"{cpu / off:.2f}x the baseline with the collector off as well"
    )
    record("coldstart_worst_ratio", cpu / base[now][0])


if __name__ == "__main__":
    main()
