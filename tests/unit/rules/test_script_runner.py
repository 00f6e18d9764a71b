"""Where scripts run: chosen by the settings; the Lambda runner's answers and failures;
the ``script_runner`` function's handler."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from chalicelib.queues import RetryLater
from chalicelib.rules.script import DEFAULT_OUTGOING
from chalicelib.rules.script.lambda_handler import handle
from chalicelib.rules.script.runner import (
    ChildProcessRunner,
    LambdaRunner,
    RunnerUnavailable,
    runner_for,
)

REQUEST = {
    "direction": "outgoing",
    "script_name": "outgoing_script",
    "script": "replica.summary = issue.summary",
    "inputs": {"issue": {"summary": "hello"}, "replica": {}},
}


def settings(script_function=None):
    """The two settings the choice reads (the rest of ``Settings`` does not matter here)."""
    return SimpleNamespace(script_function=script_function, region="us-east-1")


def test_the_settings_choose_the_runner():
    assert isinstance(runner_for(settings()), ChildProcessRunner)
    chosen = runner_for(settings("twinsync-dev-script_runner"))
    assert isinstance(chosen, LambdaRunner)
    assert chosen.function_name == "twinsync-dev-script_runner"


@dataclass
class FakeLambda:
    """Stands in for boto3's Lambda client (only ``invoke``)."""

    answer: Any = None
    function_error: str | None = None
    fail: Exception | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.fail is not None:
            raise self.fail
        response: dict[str, Any] = {"Payload": io.BytesIO(json.dumps(self.answer).encode())}
        if self.function_error:
            response["FunctionError"] = self.function_error
        return response


def test_the_lambda_runner_invokes_the_function_and_returns_its_answer():
    client = FakeLambda(answer={"ok": True, "result": {"summary": "hello"}, "log": []})
    answer = LambdaRunner("fn", region="us-east-1", client=client).run(REQUEST)
    assert answer["result"] == {"summary": "hello"}
    (call,) = client.calls
    assert call["FunctionName"] == "fn" and call["InvocationType"] == "RequestResponse"
    assert json.loads(call["Payload"]) == REQUEST


def test_a_function_error_is_the_scripts_failure_and_an_unreachable_runner_is_retried():
    timed_out = FakeLambda(answer={"errorMessage": "Task timed out"}, function_error="Unhandled")
    answer = LambdaRunner("fn", region="us-east-1", client=timed_out).run(REQUEST)
    assert answer["ok"] is False and answer["error"]["kind"] == "timeout"
    down = FakeLambda(fail=ConnectionError("no route"))
    with pytest.raises(RunnerUnavailable) as caught:
        LambdaRunner("fn", region="us-east-1", client=down).run(REQUEST)
    assert isinstance(caught.value, RetryLater)  # the queue retries it: not the script's fault


def test_the_script_runner_function_runs_the_request_in_a_child_process():
    answer = handle(REQUEST)
    assert answer == {"ok": True, "result": {"summary": "hello"}, "log": []}
    assert handle({**REQUEST, "script": DEFAULT_OUTGOING})["ok"] is True
    assert handle("not a request")["ok"] is False
