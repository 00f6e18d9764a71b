"""Cold-start import time of each deployed function, against ``import chalice, boto3``.

Every Chalice function loads the same ``app`` module, so what differs between them is
what each handler imports lazily on its first invocation (``chalicelib.workers``
defers them on purpose). For each function this times, in fresh interpreter processes,
``import app`` followed by that function's lazy imports, and reports the median and its
ratio to a bare ``import chalice, boto3`` baseline. Modules that do not exist yet are
skipped (and listed). A local proxy: this venv with ``.pyc`` caches; for the read-only
Lambda layout without them, see ``bench/lambda_deps.py``.

    BENCH_RUNS=21 python -m bench.coldstart
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("BENCH_RUNS", "11"))
BASELINE = ("chalice", "boto3")
# root().settings binds the PynamoDB models and configures the JSON logs on the first call
# of every function; the first unit of work's end writes its metrics (EMF).
READY = (
    "chalicelib.store.models",
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch",
)
# What each function imports on its first invocation, after ``import app``.
FIRST_INVOCATION: dict[str, tuple[str, ...]] = {
    "api_handler": READY,
    "ingest": (*READY, "chalicelib.sync.events", "chalicelib.sync.ingest"),
    "deliver": (*READY, "chalicelib.sync.events", "chalicelib.sync.deliver"),
    "apply": (*READY, "chalicelib.sync.events", "chalicelib.sync.apply"),
    "poll_peers": (*READY, "chalicelib.ops.poll"),
    "reconcile": (*READY, "chalicelib.sync.reconcile"),
    "jobs": (*READY, "chalicelib.sync.events", "chalicelib.ops.job_runner"),
    "script_runner": ("chalicelib.rules.script",),
}


def _exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _time_imports(modules: tuple[str, ...]) -> float:
    """Milliseconds to import ``modules`` in a fresh interpreter."""
    body = "; ".join(f"import {m}" for m in modules)
    code = f"import time; t = time.perf_counter(); {body}; print(time.perf_counter() - t)"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWINSYNC_", "AWS_"))}
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise RuntimeError(f"importing {modules} failed: {out.stderr.strip()[-500:]}")
    return float(out.stdout) * 1000


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
    rows: dict[str, tuple[str, ...]] = {"baseline: chalice, boto3": BASELINE}
    notes = []
    for name in deployed_functions():
        lazy = FIRST_INVOCATION.get(name)
        if lazy is None:
            notes.append(f"{name}: no first-invocation imports listed; timing `import app` only")
            lazy = ()
        missing = [m for m in lazy if not _exists(m)]
        if missing:
            notes.append(f"{name}: skipped missing {', '.join(missing)}")
        rows[name] = ("app", *(m for m in lazy if m not in missing))
    return rows, notes


def main() -> None:
    rows, notes = plan()
    samples: dict[str, list[float]] = {row: [] for row in rows}
    for run in range(RUNS + 1):
        for row, modules in rows.items():  # alternate rows so machine load hits all alike
            elapsed = _time_imports(modules)
            if run:  # the first round warms the file cache and writes .pyc files
                samples[row].append(elapsed)
    baseline = statistics.median(samples["baseline: chalice, boto3"])
    print(f"Cold-start imports: median of {RUNS} fresh processes (ms), ratio to baseline")
    print(f"{'function':<26} {'median':>8} {'min':>7} {'max':>7} {'ratio':>6}  imports")
    for row, modules in rows.items():
        values = samples[row]
        median = statistics.median(values)
        shown = ", ".join(m.removeprefix("chalicelib.") for m in modules)
        print(
            f"{row:<26} {median:>8.0f} {min(values):>7.0f} {max(values):>7.0f} "
            f"{median / baseline:>6.2f}  {shown}"
        )
    for note in notes:
        print(f"  note: {note}")


if __name__ == "__main__":
    main()
