"""A zygote of cold Lambda containers: import ``app`` once, then fork one child per call.

Run as ``python -m tests.functional.cold_start`` from the project directory, with a node's
environment (``AWS_ENDPOINT_URL`` aimed at a moto server that holds the node's resources).
It reads a JSON list of calls on stdin and prints one JSON result per call on stdout.

This is what a Lambda execution environment does: the init phase imports ``app.py``; then
the first invocation arrives. The zygote does the init phase once and forks after it,
before the app has served anything, so in each child the call is the first thing this
container serves: nothing bound, built or cached by an earlier request.

A call is ``{"http": {"method", "path", "headers", "body"}}`` (through Chalice's test client,
which builds the API Gateway proxy event and calls the app as Lambda does) or
``{"invoke": {"name", "event"}}`` (a queue handler or schedule, called as Lambda calls it).
A result holds the HTTP status and body, or the handler's return value, or the exception
that escaped the handler; and in every case the errors the app logged (with tracebacks), and
the state of Python's cycle collector at init and after the call (:mod:`chalicelib.gc_hold`).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
import sys
import time
import traceback
from typing import Any

PARALLEL = 2  # children at a time (the machine's cores)
CALL_TIMEOUT_S = 60


class LoggedErrors(logging.Handler):
    """Keeps every record at ERROR or above, with its traceback."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = f"{record.name}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info))
        self.records.append(text)


def first_call(app: Any, call: dict[str, Any]) -> dict[str, Any]:
    """Serve ``call`` in this process (the child): the app's first and only work."""
    from chalice.test import Client

    before = set(sys.modules)
    logged = LoggedErrors()
    # Chalice's logger for the app does not propagate: listen on it and on the root.
    for name in ("", app.app_name):
        logging.getLogger(name).addHandler(logged)
    result: dict[str, Any] = {"call": call, "logged": logged.records}
    result["collector_held_at_init"] = not gc.isenabled()
    started = time.monotonic()
    client = Client(app)
    try:
        if "http" in call:
            request = call["http"]
            response = client.http.request(
                request["method"],
                request["path"],
                headers=request.get("headers") or {},
                body=(request.get("body") or "").encode(),
            )
            result["status"] = response.status_code
            result["body"] = response.body.decode("utf-8", "replace")[:2000]
        else:
            invoked = client.lambda_.invoke(call["invoke"]["name"], call["invoke"]["event"])
            result["returned"] = invoked.payload
    except Exception:
        result["raised"] = traceback.format_exc()
    result["seconds"] = round(time.monotonic() - started, 3)
    result["collector_after"] = {"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}
    result["loaded"] = sorted(set(sys.modules) - before)  # what the first call imported
    return result


def fork_call(app: Any, call: dict[str, Any]) -> tuple[int, int]:
    """Start a child serving ``call``; returns its pid and the pipe its result comes on."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a fresh container that has imported the app, nothing more
        os.close(read_end)
        os.dup2(2, 1)  # whatever the app prints must not mix with the results
        signal.alarm(CALL_TIMEOUT_S)  # a call that hangs ends its child, reported as died
        try:
            data = json.dumps(first_call(app, call), default=repr).encode()
            with os.fdopen(write_end, "wb") as out:
                out.write(data)
        finally:
            os._exit(0)
    os.close(write_end)
    return pid, read_end


def collect(pid: int, read_end: int, call: dict[str, Any]) -> dict[str, Any]:
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if data:
        return json.loads(data)
    return {"call": call, "logged": [], "raised": f"the child died (wait status {status})"}


def main() -> None:
    calls = json.load(sys.stdin)
    from app import app  # the init phase, once, with no request

    results: list[dict[str, Any]] = []
    running: list[tuple[int, int, dict[str, Any]]] = []
    for call in calls:
        if len(running) >= PARALLEL:
            results.append(collect(*running.pop(0)))
        running.append((*fork_call(app, call), call))
    results.extend(collect(*item) for item in running)
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
