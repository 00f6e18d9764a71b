"""Where a sync script runs, and what it costs per run (``python -m bench script_sandbox``).

Compares, for the default outgoing script over a small issue:

- compile only, and execute in-process (no walls: the floor);
- a fresh ``python -I`` child per run, started on demand (``warm=0``);
- the same with one process kept warm (``warm=1``: what the nodes use);
- ``multiprocessing`` with the ``forkserver`` context, a process per run;
- ``multiprocessing`` with the ``spawn`` context, a process per run.

Prints medians over a few runs; it asserts nothing (timings depend on the machine).
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
from collections.abc import Callable
from typing import Any

from chalicelib.rules.script import DEFAULT_OUTGOING
from chalicelib.rules.script import rules as script
from chalicelib.rules.script.policy import compile_script
from chalicelib.rules.script.runner import ChildProcessRunner
from chalicelib.rules.script.sandbox import execute
from chalicelib.trackers.base import Body, Comment, Issue, User

RUNS = 15


def _issue() -> Issue:
    alice = User("a", "Alice")
    return Issue(
        id="1",
        key="ALPHA-1",
        project="ALPHA",
        url="https://a/browse/ALPHA-1",
        summary="Printer on fire",
        description=Body("text", "It smokes"),
        issue_type="Bug",
        comments=tuple(
            Comment(str(i), alice, "2026-01-01", "2026-01-01", Body("text", f"c{i}"))
            for i in range(5)
        ),
    )


def _request() -> dict[str, Any]:
    return script.outgoing_request(
        DEFAULT_OUTGOING,
        _issue(),
        connection_id="c1",
        integration_user_id="bot",
        attachment_sha={},
    )


def _median_ms(action: Callable[[], Any], runs: int = RUNS) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def _in_child(request: dict[str, Any], queue: Any) -> None:
    queue.put(execute(request))


def _multiprocessing(method: str, request: dict[str, Any]) -> Callable[[], Any]:
    context = multiprocessing.get_context(method)

    def run() -> Any:
        queue = context.SimpleQueue()
        process = context.Process(target=_in_child, args=(request, queue))
        process.start()
        answer = queue.get()
        process.join()
        return answer

    return run


def main() -> None:
    request = _request()
    rows = [
        ("compile only", _median_ms(lambda: compile_script(DEFAULT_OUTGOING, "outgoing"))),
        ("execute in-process (no walls)", _median_ms(lambda: execute(request))),
    ]
    cold = ChildProcessRunner(warm=0)
    rows.append(("child process per run, cold", _median_ms(lambda: cold.run(request))))
    warm = ChildProcessRunner(warm=1)
    warm.run(request)
    time.sleep(0.3)

    samples = []  # a pause between runs: the next warm process starts meanwhile
    for _ in range(RUNS):
        start = time.perf_counter()
        warm.run(request)
        samples.append((time.perf_counter() - start) * 1000)
        time.sleep(0.1)
    rows.append(("child process per run, one kept warm", statistics.median(samples)))
    warm.close()
    for method in ("forkserver", "spawn"):
        rows.append(
            (
                f"multiprocessing {method}, process per run",
                _median_ms(_multiprocessing(method, request), 7),
            )
        )
    width = max(len(name) for name, _ in rows)
    for name, ms in rows:
        print(f"   {name:<{width}}  {ms:8.2f} ms (median)")


if __name__ == "__main__":
    main()
