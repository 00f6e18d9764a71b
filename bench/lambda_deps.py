"""Bundled botocore or the Lambda runtime's? Zip size and cold-start imports (ADR 0001).

Builds the deployment package both ways with ``infra.package`` (``--bundle-botocore`` or
the default vendored PynamoDB), then imitates Lambda on this machine:

* ``/var/task`` is the unzipped package, read-only, so Python cannot write ``.pyc`` files
  and compiles every bundled module from source on each cold start
  (``PYTHONDONTWRITEBYTECODE=1``, no ``__pycache__`` in the zip);
* ``/var/runtime`` holds the runtime's boto3/botocore, precompiled; here a
  ``pip install --target`` of the same pinned boto3 (compiled by pip).

For each layout it reports the unzip time and the median, over fresh processes, of
importing the app and the storage models (PynamoDB, hence botocore), of that plus
creating the first DynamoDB client (service model load), and of ingest's cold start
(``import app`` and its first invocation's imports, ``bench/coldstart.py``). Three
layouts: botocore bundled, and the runtime's botocore with and without the bytecode
``infra.package`` adds to the zip (issue 19). Then it times each row of
``bench/coldstart.py`` in the deployed layout (CPU, against ``import chalice, boto3``
there): the cold start Lambda's code directory gives. Needs PyPI for the wheels.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from bench.coldstart import FIRST_INVOCATION

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("BENCH_RUNS", "11"))
IMPORTS = "import app; import chalicelib.store.models"
CLIENT = "; import botocore.session; botocore.session.get_session().create_client('dynamodb')"
# ingest's cold start: ``import app`` and what its first invocation imports
INGEST = "; ".join(f"import {m}" for m in ("app", *FIRST_INVOCATION["ingest"]))


def _boto3_pin() -> str:
    for line in (ROOT / "requirements-dev.txt").read_text().splitlines():
        if line.startswith("boto3=="):
            return line.strip()
    return "boto3"


def _timed(task: Path, runtime: Path, statement: str, clock: str = "perf_counter") -> float:
    """Milliseconds ``statement`` takes in a fresh process of the layout, by ``clock``
    (``perf_counter``: wall; ``process_time``: CPU, as ``bench/coldstart.py`` times)."""
    paths = [str(task), str(runtime)]
    code = (
        f"import sys, time; sys.path[:0] = {paths!r}; t = time.{clock}(); "
        f"{statement}; print(time.{clock}() - t)"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_LAMBDA_FUNCTION_NAME": "twinsync-bench",  # as in Lambda (chalicelib.gc_hold)
    }
    out = subprocess.run(
        [sys.executable, "-S", "-c", code], cwd=task, env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-1])
    return float(out.stdout.strip()) * 1000


def _unzip(archive: Path, target: Path) -> float:
    start = time.perf_counter()
    with zipfile.ZipFile(archive) as z:
        z.extractall(target)
    return (time.perf_counter() - start) * 1000


def measure(
    work: Path,
) -> tuple[list[tuple[str, float, float, float, float, float]], list[tuple[str, float, float]]]:
    """Build the three layouts, time them in alternation (machine load hits all alike), then
    time each function's cold start in the deployed one."""
    from infra.package import build

    runtime = work / "runtime"
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check"),
            *("--target", str(runtime), _boto3_pin()),
        ],
        check=True,
    )
    empty = work / "no-runtime"
    empty.mkdir()
    layouts = []
    for label, bundle, precompile in (
        ("bundled botocore", True, True),
        ("runtime's, no .pyc", False, False),
        ("runtime botocore", False, True),
    ):
        name = f"{bundle}-{precompile}"
        # the dev stage: its x86_64 wheels (msgspec, cryptography) load on this machine,
        # prod's arm64 ones would not
        package = build("dev", work / f"out-{name}", bundle_botocore=bundle, precompile=precompile)
        task = work / f"task-{name}"
        unzip_ms = _unzip(package.zip, task)
        # Bundled: the zip's botocore would shadow the runtime's anyway; leave it out.
        layer = empty if bundle else runtime
        layouts.append((label, package.zip.stat().st_size / 1024 / 1024, unzip_ms, task, layer))
    samples: dict[str, list[list[float]]] = {label: [[], [], []] for label, *_ in layouts}
    for run in range(RUNS + 1):
        for label, _, _, task, layer in layouts:
            times = [
                _timed(task, layer, statement) for statement in (IMPORTS, IMPORTS + CLIENT, INGEST)
            ]
            if run:  # the first round only warms the OS file cache (Lambda's is warm too)
                for sample, ms in zip(samples[label], times, strict=True):
                    sample.append(ms)
    _, _, _, task, layer = layouts[-1]  # the deployed layout: runtime's botocore, bytecode
    return [
        (label, size, unzip_ms, *(statistics.median(sample) for sample in samples[label]))
        for label, size, unzip_ms, _, _ in layouts
    ], functions_in(task, layer)


def functions_in(task: Path, layer: Path) -> list[tuple[str, float, float]]:
    """``bench/coldstart.py``'s rows timed in the deployed layout (CPU ms, median) and their
    ratio to ``import chalice, boto3`` there: chalice from the zip, boto3 the runtime's."""
    from bench.coldstart import BASELINE_ROW, PRELUDES, plan

    rows = plan()[0]
    statements = {
        row: PRELUDES.get(row, "") + "; ".join(f"import {m}" for m in modules)
        for row, modules in rows.items()
    }
    samples: dict[str, list[float]] = {row: [] for row in rows}
    for run in range(RUNS + 1):
        for row, statement in statements.items():  # alternate: load hits all rows alike
            ms = _timed(task, layer, statement, clock="process_time")
            if run:
                samples[row].append(ms)
    base = statistics.median(samples[BASELINE_ROW])
    return [(row, statistics.median(v), statistics.median(v) / base) for row, v in samples.items()]


def main() -> None:
    print(f"Lambda dependency strategy: zip size and cold-start imports (median of {RUNS})")
    work = Path(tempfile.mkdtemp(prefix="twinsync-lambda-deps-"))
    try:
        rows, functions = measure(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"{'strategy':<20} {'zip MiB':>8} {'unzip ms':>9} {'imports ms':>11} {'+client ms':>11}"
        f" {'ingest ms':>10}"
    )
    for label, size, unzip_ms, imports_ms, client_ms, ingest_ms in rows:
        print(
            f"{label:<20} {size:>8.1f} {unzip_ms:>9.0f} {imports_ms:>11.0f} {client_ms:>11.0f}"
            f" {ingest_ms:>10.0f}"
        )
    print("\nEach function's cold start in the deployed layout (runtime's botocore, bytecode):")
    print(f"{'function':<36} {'cpu ms':>7} {'ratio':>6}")
    for row, cpu, ratio in functions:
        print(f"{row:<36} {cpu:>7.0f} {ratio:>6.2f}")


if __name__ == "__main__":
    main()
