"""``make bench``: run every benchmark module in ``bench/`` (its ``main()``) in turn.

A benchmark that fails is reported and the others still run; the exit status is non-zero
if any failed. ``python -m bench coldstart`` runs only the named ones. At the end, one
table lists issue 19's targets with the figures this run measured beside them
(:mod:`bench._targets`).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent


def benchmark_names() -> list[str]:
    return sorted(
        m.name
        for m in pkgutil.iter_modules([str(HERE)])
        if not m.name.startswith("_") and not m.ispkg
    )


def main(argv: list[str]) -> int:
    root = str(HERE.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    names = argv or benchmark_names()
    failed = []
    for name in names:
        print(f"== bench/{name}.py")
        start = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.{name}")
            entry = getattr(module, "main", None)
            if entry is None:
                print(f"   no main() in bench/{name}.py; skipped")
                continue
            entry()
        except Exception:
            traceback.print_exc()
            failed.append(name)
        print(f"== bench/{name}.py: {time.perf_counter() - start:.1f} s\n", flush=True)
    from bench._targets import table

    print("== issue 19's targets, as measured in this run")
    print(table(), flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
