"""Where scripts run: never inside the sync worker.

    ScriptRunner (protocol)     run(request) -> answer (plain JSON both ways)
    ├── ChildProcessRunner      a fresh ``python -I`` process per run, kernel limits, wall
    │                           clock enforced from outside; a few kept warm (locally, and
    │                           inside the ``script_runner`` Lambda function)
    └── LambdaRunner            invokes the ``script_runner`` function (in AWS): a role with
                                no permissions, an environment with no secrets

:func:`default_runner` picks one from the settings (``TWINSYNC_SCRIPT_FUNCTION`` set →
Lambda). Whatever the runner, a failure comes back as an answer with ``ok: false``, so
callers handle one shape.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import msgspec

from chalicelib.queues import RetryLater

log = logging.getLogger("twinsync.scripts")

ROOT = Path(__file__).resolve().parents[3]  # the directory holding ``chalicelib``
_ENV_KEEP = ("PATH", "LD_LIBRARY_PATH", "LANG", "LC_ALL", "TZ")
_BOOT = (
    "import sys; sys.path[:0] = sys.argv[1:]; "
    "from chalicelib.rules.script.child import main; main()"
)


class ScriptLimits(msgspec.Struct, frozen=True):
    """What one run may use. Defaults fit a sync rule; tests use smaller ones."""

    cpu_seconds: int = 2
    wall_seconds: float = 5.0
    memory_mb: int = 256
    output_bytes: int = 2_000_000

    def to_json(self) -> dict[str, Any]:
        return msgspec.structs.asdict(self)  # numbers only: a shallow dict is the whole of it


class ScriptRunner(Protocol):
    def run(self, request: Mapping[str, Any]) -> dict[str, Any]: ...


def failure(kind: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"kind": kind, "message": message, "line": None}, "log": []}


def _search_path() -> list[str]:
    """Where the child finds ``chalicelib`` and RestrictedPython (the same as ours; found
    without importing RestrictedPython here, which the worker itself never needs)."""
    spec = importlib.util.find_spec("RestrictedPython")
    paths = [str(ROOT)]
    if spec is not None and spec.origin:
        paths.append(str(Path(spec.origin).resolve().parents[1]))
    return list(dict.fromkeys(paths))


class ChildProcessRunner:
    """Each run in a fresh sandbox process; ``warm`` processes started ahead of need."""

    def __init__(self, limits: ScriptLimits | None = None, *, warm: int = 1) -> None:
        self.limits = limits or ScriptLimits()
        self.warm = warm
        self._idle: list[subprocess.Popen[bytes]] = []
        self._lock = threading.Lock()
        self._argv = [sys.executable, "-I", "-c", _BOOT, *_search_path()]
        self._env = {k: os.environ[k] for k in _ENV_KEEP if k in os.environ}

    def _start(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self._argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=self._env,
            cwd="/",
            close_fds=True,
        )

    def _take(self) -> subprocess.Popen[bytes]:
        with self._lock:
            while self._idle:
                process = self._idle.pop()
                if process.poll() is None:
                    break
            else:
                process = self._start()
            while len(self._idle) < self.warm:
                self._idle.append(self._start())
        return process

    def run(self, request: Mapping[str, Any]) -> dict[str, Any]:
        limits = ScriptLimits(**{**self.limits.to_json(), **(request.get("limits") or {})})
        payload = json.dumps({**request, "limits": limits.to_json()}).encode()
        process = self._take()
        try:
            raw, outcome = _exchange(process, payload, limits)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
        if outcome == "timeout":
            return failure("timeout", "the script ran longer than allowed and was stopped")
        if outcome == "too_large":
            return failure("output", f"the script's answer is over {limits.output_bytes} bytes")
        return _answer(raw, process.returncode)

    def close(self) -> None:
        """Stop the warm processes (they would exit on their own when we do)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for process in idle:
            process.kill()
            process.wait()
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    stream.close()


def _exchange(
    process: subprocess.Popen[bytes], payload: bytes, limits: ScriptLimits
) -> tuple[bytes, str]:
    """Send the request, read the answer: at most ``output_bytes`` (+ framing), at most
    the wall clock plus a grace second for the child's own timeout to report first."""
    assert process.stdin is not None and process.stdout is not None
    deadline = time.monotonic() + limits.wall_seconds + 1.0
    cap = limits.output_bytes + 65_536
    try:
        process.stdin.write(payload)
        process.stdin.close()
    except (BrokenPipeError, OSError):
        pass
    chunks: list[bytes] = []
    size = 0
    fd = process.stdout.fileno()
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return b"", "timeout"
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 65_536)
            if not chunk:
                return b"".join(chunks), "ok"
            size += len(chunk)
            if size > cap:
                return b"", "too_large"
            chunks.append(chunk)
    finally:
        process.stdout.close()


def _answer(raw: bytes, returncode: int | None) -> dict[str, Any]:
    if not raw:
        if returncode is not None and returncode < 0:
            # killed by the kernel: SIGXCPU/SIGKILL at the CPU hard limit, or memory
            return failure(
                "timeout", "the script was stopped: it used more CPU time or memory than allowed"
            )
        return failure("runner", "the sandbox process ended without an answer")
    try:
        answer = json.loads(raw)
    except ValueError:
        return failure("runner", "the sandbox answered something that is not JSON")
    if not isinstance(answer, dict) or not isinstance(answer.get("ok"), bool):
        return failure("runner", "the sandbox answered something unexpected")
    return answer


class LambdaRunner:
    """Runs scripts in the ``script_runner`` Lambda function (no permissions, no secrets)."""

    def __init__(self, function_name: str, *, region: str, client: Any = None) -> None:
        self.function_name = function_name
        self.region = region
        self._client = client

    def client(self) -> Any:
        if self._client is None:
            from botocore.config import Config

            from chalicelib import aws_clients

            self._client = aws_clients.client(
                "lambda",
                region=self.region,
                config=Config(read_timeout=30, retries={"max_attempts": 2}),
            )
        return self._client

    def run(self, request: Mapping[str, Any]) -> dict[str, Any]:
        try:
            response = self.client().invoke(
                FunctionName=self.function_name,
                InvocationType="RequestResponse",
                Payload=json.dumps(dict(request)).encode(),
            )
            raw = response["Payload"].read()
        except Exception as exc:  # the invoke itself failed: not the script's fault
            log.warning("script runner invoke failed: %s", exc)
            raise RunnerUnavailable(f"the script runner could not be reached: {exc}") from exc
        if response.get("FunctionError"):
            return failure(
                "timeout", f"the script runner stopped: {raw[:300].decode(errors='replace')}"
            )
        return _answer(raw, 0)


class RunnerUnavailable(RetryLater):
    """The place scripts run in could not be reached (retry later: not the script's fault)."""


_default: ScriptRunner | None = None
_default_lock = threading.Lock()


def runner_for(settings: Any) -> ScriptRunner:
    """The ``script_runner`` function when the stage names one (AWS), else a child process."""
    function = getattr(settings, "script_function", None)
    if function:
        return LambdaRunner(function, region=settings.region)
    return ChildProcessRunner()


def default_runner() -> ScriptRunner:
    """The runner the stage's settings choose (built once per process)."""
    global _default
    with _default_lock:
        if _default is None:
            from chalicelib.config import get_settings

            _default = runner_for(get_settings())
            if isinstance(_default, ChildProcessRunner):
                atexit.register(_default.close)
        return _default


def use_runner(runner: ScriptRunner | None) -> ScriptRunner | None:
    """Replace the process-wide runner (tests choose short limits); returns the old one."""
    global _default
    with _default_lock:
        previous, _default = _default, runner
    return previous
