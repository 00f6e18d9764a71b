"""The sandbox process: one request in on stdin, one answer out on stdout, then exit.

Started by :mod:`chalicelib.rules.script.runner` as ``python -I`` with an empty
environment (no settings, no secrets, no AWS credentials), it imports what a run needs
*before* reading its request (so a warm process answers in milliseconds), then, before the
script runs, fences itself in with kernel limits that no Python trick can lift:

- ``RLIMIT_CPU``: CPU seconds (soft: ``SIGXCPU`` becomes a clean timeout error with the
  script line; hard, a second later: the kernel kills the process);
- ``RLIMIT_AS``: address space, so a memory bomb is a ``MemoryError`` here, not an
  out-of-memory kill of the worker;
- a wall-clock alarm (``ITIMER_REAL``) for scripts that wait instead of compute;
- no new processes, no files written, no core dumps.

The parent enforces the wall clock again from outside (it kills the process), and caps
what it reads back. One process serves one run: nothing a script does outlives it.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
from typing import Any

from chalicelib.rules.script.sandbox import ScriptTimeout, execute_text

_PAGE = 1024


def _vm_size() -> int:
    """Bytes of address space in use now (0 when the platform does not say)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * _PAGE
    except OSError:
        return 0
    return 0


def _set(limit: int, soft: int, hard: int | None = None) -> None:
    try:
        current_hard = resource.getrlimit(limit)[1]
        hard = soft if hard is None else hard
        if current_hard != resource.RLIM_INFINITY:
            hard = min(hard, current_hard)
            soft = min(soft, hard)
        resource.setrlimit(limit, (soft, hard))
    except (ValueError, OSError):  # not allowed here: the parent's wall clock still holds
        pass


def _on_cpu(signum: int, frame: Any) -> None:
    raise ScriptTimeout("the script used more CPU time than allowed")


def _on_alarm(signum: int, frame: Any) -> None:
    raise ScriptTimeout("the script ran longer than allowed")


def fence(limits: dict[str, Any]) -> None:
    """Apply the run's limits to this process (irreversible: hard limits only go down)."""
    cpu = max(1, int(limits.get("cpu_seconds") or 2))
    used = resource.getrusage(resource.RUSAGE_SELF)
    spent = int(used.ru_utime + used.ru_stime) + 1
    signal.signal(signal.SIGXCPU, _on_cpu)
    _set(resource.RLIMIT_CPU, spent + cpu, spent + cpu + 1)
    memory = int(limits.get("memory_mb") or 256) * 1024 * 1024
    _set(resource.RLIMIT_AS, _vm_size() + memory)
    _set(resource.RLIMIT_FSIZE, 0)
    _set(resource.RLIMIT_CORE, 0)
    _set(resource.RLIMIT_NPROC, 0)
    wall = float(limits.get("wall_seconds") or 5)
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, wall, 0.05)  # repeats: one swallowed alarm is not enough


def main() -> None:
    raw = sys.stdin.buffer.read()
    try:
        request = json.loads(raw or b"{}")
    except ValueError:
        request = {}
    fence(dict(request.get("limits") or {}))
    try:
        answer = execute_text(request)
    except BaseException:
        answer = json.dumps(
            {"ok": False, "error": {"kind": "runner", "message": "the sandbox failed"}}
        )
    signal.setitimer(signal.ITIMER_REAL, 0)
    sys.stdout.write(answer)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
