"""Which code made each AWS call (for the benchmarks' per-stage breakdown).

``BENCH_TRACE=<directory>`` in a node's environment makes :mod:`devstack.node` call
:func:`install`: every AWS call that node makes is appended to ``<node id>.jsonl`` in that
directory with the stage (the function's log context, ``api`` for HTTP requests, the
runner's thread for its queue bookkeeping), the operation, the table or queue, the key's
namespace and the innermost ``chalicelib`` function that made it. :func:`breakdown` sums
them per change. Never installed outside the local stack.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_STORE = ("chalicelib.store.", "chalicelib.queues")


def install(path: str) -> None:
    import botocore.client

    original = botocore.client.BaseClient._make_api_call
    lock = threading.Lock()
    out = Path(path)

    def traced(self: Any, operation: str, params: dict[str, Any]) -> Any:
        record = {
            "t": time.time(),
            "stage": _stage(),
            "op": operation,
            "on": _target(params),
            "where": _where(sys._getframe(1)),
        }
        with lock, out.open("a") as sink:
            sink.write(json.dumps(record) + "\n")
        return original(self, operation, params)

    botocore.client.BaseClient._make_api_call = traced  # type: ignore[method-assign]


def _stage() -> str:
    from chalicelib.observability import logs

    function = logs._KEYS.get({}).get("function")
    if function:
        return str(function)
    name = threading.current_thread().name
    return "api" if name.startswith("Thread-") else name


def _target(params: dict[str, Any]) -> str:
    table = params.get("TableName") or params.get("QueueUrl", "").rsplit("/", 1)[-1]
    table = table.rsplit("-", 1)[-1] if table else ""
    key = params.get("Key") or params.get("Item") or {}
    if "key" in key:  # the keys table: name the namespace, not the item
        value = str(next(iter(key["key"].values())))
        return f"{table}:{value.split('#', 1)[0]}"
    return table


def _where(frame: Any) -> str:
    inner = ""
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith("chalicelib"):
            name = f"{module.rsplit('.', 1)[-1]}.{frame.f_code.co_name}"
            if not module.startswith(_STORE):
                return f"{name} ({inner})" if inner else name
            inner = inner or name
        frame = frame.f_back
    return inner


def breakdown(directory: Path, since: float, until: float, changes: int) -> list[tuple]:
    """(node, stage, operation, on, where, calls per change), most calls first per node."""
    rows: Counter[tuple[str, str, str, str, str]] = Counter()
    for path in sorted(directory.glob("*.jsonl")):
        for record in _records(path.read_text().splitlines()):
            if since <= record["t"] <= until and record["op"] != "ReceiveMessage":
                key = (path.stem, record["stage"], record["op"], record["on"], record["where"])
                rows[key] += 1
    n = max(1, changes)
    ordered = sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][1], -kv[1]))
    return [(*key, count / n) for key, count in ordered]


def _records(lines: Iterable[str]) -> Iterable[dict[str, Any]]:
    for line in lines:
        if line.strip():
            yield json.loads(line)
