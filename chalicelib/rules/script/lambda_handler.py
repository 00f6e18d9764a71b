"""The ``script_runner`` Lambda function: one script run per invocation.

Deployed with a role that has no policy and an environment without settings or secrets
(``infra``), it only turns the invocation's payload (a runner request) into an answer.
Even here the script runs in a child process under kernel limits, so a runaway script
cannot wedge the warm container or leak into the next run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.rules.script.runner import ChildProcessRunner, failure

_runner: ChildProcessRunner | None = None


def handle(event: Any) -> dict[str, Any]:
    """Answer one request (never raises: a broken request is an ``ok: false`` answer)."""
    global _runner
    if not isinstance(event, Mapping):
        return failure("runner", "the request must be a JSON object")
    if _runner is None:
        _runner = ChildProcessRunner(warm=1)
    return _runner.run(event)
