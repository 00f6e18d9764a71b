"""The escape corpus: every attempt to leave the sandbox, or to exhaust it, is stopped with
a clear error. Runs through the real sandbox process (kernel limits, wall clock from
outside) with short limits, so the whole corpus takes seconds."""

from __future__ import annotations

import os

import pytest

from chalicelib.rules.script.errors import ScriptError
from chalicelib.rules.script.policy import compile_script
from chalicelib.rules.script.runner import ChildProcessRunner, ScriptLimits

LIMITS = ScriptLimits(cpu_seconds=1, wall_seconds=0.5, memory_mb=96, output_bytes=200_000)


@pytest.fixture(scope="module")
def runner():
    runner = ChildProcessRunner(LIMITS, warm=2)
    yield runner
    runner.close()


@pytest.fixture(scope="module")
def patient_runner():
    """For what must stop on its own (memory, recursion, output) before any clock does,
    even on a loaded machine: the same limits with a longer wall clock."""
    runner = ChildProcessRunner(
        ScriptLimits(cpu_seconds=2, wall_seconds=4.0, memory_mb=96, output_bytes=200_000), warm=1
    )
    yield runner
    runner.close()


def run(runner, source: str, direction: str = "outgoing"):
    inputs = {
        "issue": {"key": "ALPHA-1", "summary": "Printer on fire", "type": {"name": "Bug"}},
        "replica": {"key": "ALPHA-1", "summary": "", "labels": [], "fields": {}},
    }
    if direction == "incoming":
        inputs = {"replica": {"key": "B-1", "summary": "x"}, "first_sync": True, "project": {}}
    return runner.run(
        {
            "direction": direction,
            "script_name": "outgoing_script",
            "script": source,
            "inputs": inputs,
        }
    )


# Refused when the script is saved: the compile step names the line and the reason.
REFUSED_ON_SAVE = {
    "import": "import os",
    "from import": "from os import system",
    "__import__": "__import__('os').system('id')",
    "dunder walk to object.__subclasses__": "x = ().__class__.__bases__[0].__subclasses__()",
    "dunder on data": "x = issue.__class__",
    "__globals__ of a function": "def f():\n    pass\nx = f.__globals__",
    "__builtins__": "x = __builtins__",
    "guard names": "x = _getattr_(issue, '__class__')",
    "getattr": "x = getattr(issue, '__class__')",
    "type()": "x = type(issue)",
    "eval": "x = eval('1 + 1')",
    "exec": "exec('x = 1')",
    "compile": "x = compile('1', 'f', 'eval')",
    "open": "x = open('/etc/passwd').read()",
    "globals": "x = globals()",
    "vars": "x = vars()",
    "dir": "x = dir(issue)",
    "class definition": "class X:\n    pass",
    "generator function": "def g():\n    yield 1",
    "generator frame": "g = (x for x in [1])\nx = g.gi_frame.f_back.f_globals",
    "generator code": "g = (x for x in [1])\nx = g.gi_code",
    "coroutine": "async def f():\n    pass",
    "with": "with issue:\n    pass",
    "global": "def f():\n    global x\n    x = 1",
    "traceback frames": (
        "try:\n    1 / 0\nexcept Exception as e:\n    x = e.__traceback__.tb_frame.f_globals"
    ),
    "method self": "x = issue.get.__self__",
    "syntax error": "x = (",
}


@pytest.mark.parametrize("name", sorted(REFUSED_ON_SAVE))
def test_refused_when_saved_with_the_line(name):
    source = REFUSED_ON_SAVE[name]
    with pytest.raises(ScriptError) as caught:
        compile_script(source, "outgoing_script")
    error = caught.value
    assert error.kind in ("policy", "syntax")
    assert error.line is not None and error.line >= 1
    assert error.message
    assert "outgoing_script line" in str(error)


@pytest.mark.parametrize("name", ["dunder walk to object.__subclasses__", "import", "eval"])
def test_refused_again_inside_the_sandbox(runner, name):
    answer = run(runner, REFUSED_ON_SAVE[name])
    assert answer["ok"] is False
    assert answer["error"]["kind"] == "policy"


# Pass the compile step, stopped at run time by the guards.
STOPPED_BY_GUARDS = {
    "format-string attribute access": "x = '{0.__class__.__mro__}'.format(issue)",
    "format_map": "x = '{a.__class__}'.format_map({'a': issue})",
    "format reached through a variable": "f = 'x'.format\nx = f",
    "generator attributes": "g = (x for x in [1])\nx = g.send",
    "dict view back to its dict": "x = issue.items().mapping",
    "type attributes": "x = str.mro()",
    "builtin function attributes": "x = len.name",
    "exception methods": ("try:\n    1 / 0\nexcept Exception as e:\n    x = e.with_traceback"),
    "lambda attributes": "f = lambda: 0\nx = f.func_globals",
    "writing to a function": "def f():\n    pass\nf.x = 1",
    "indexing a function": "x = len[0]",
}


@pytest.mark.parametrize("name", sorted(STOPPED_BY_GUARDS))
def test_stopped_by_the_guards_with_the_line(runner, name):
    answer = run(runner, STOPPED_BY_GUARDS[name])
    assert answer["ok"] is False, answer
    error = answer["error"]
    assert error["kind"] in ("policy", "runtime")
    assert error["line"] is not None
    assert "not available" in error["message"] or "cannot" in error["message"]


# Exhaustion: time, memory, recursion, output. Each ends as an error, quickly.
EXHAUSTION = {
    "infinite loop": ("x = 0\nwhile True:\n    x += 1", "timeout"),
    "loop that swallows the timeout": (
        "while True:\n    try:\n        pass\n    except:\n        pass",
        "timeout",
    ),
    "loop that swallows every alarm (killed from outside)": (
        "while True:\n    try:\n        while True:\n            pass\n    except:\n        pass",
        "timeout",
    ),
    "huge integer power": ("x = 10 ** (10 ** 9)", "timeout"),
    "memory bomb": ("x = 'a' * (10 ** 10)", "memory"),
    "growing list": ("x = []\nwhile True:\n    x.append('y' * 5_000_000)", "memory"),
    "recursion bomb": ("def f(n):\n    return f(n + 1)\nf(0)", "runtime"),
    "mutual recursion": (
        "def a(n):\n    return b(n)\ndef b(n):\n    return a(n)\na(0)",
        "runtime",
    ),
    "huge output": ("replica.summary = 'x' * 1000000", "output"),
    "deeply nested output": (
        "x = []\nfor i in range(100000):\n    x = [x]\nreplica.fields['deep'] = x",
        "runtime",
    ),
    "output that is not data": ("replica.summary = len", "output"),
}


@pytest.mark.parametrize("name", sorted(EXHAUSTION))
def test_exhaustion_is_stopped(runner, patient_runner, name):
    source, kind = EXHAUSTION[name]
    answer = run(runner if kind == "timeout" else patient_runner, source)
    assert answer["ok"] is False, answer
    assert answer["error"]["kind"] == kind, answer
    assert answer["error"]["message"]


def test_a_good_script_still_runs_after_the_corpus(runner):
    answer = run(runner, "replica.summary = issue.summary.upper()\nlog('ok')")
    assert answer == {"ok": True, "result": answer["result"], "log": ["ok"]}
    assert answer["result"]["summary"] == "PRINTER ON FIRE"


def test_a_runtime_error_names_its_line(runner):
    answer = run(runner, "x = 1\n\ny = issue.nothing.name")
    assert answer["ok"] is False
    assert answer["error"]["line"] == 3
    assert "None" in answer["error"]["message"]


def test_the_sandbox_process_gets_no_secrets(monkeypatch):
    monkeypatch.setenv("TWINSYNC_TRACKER_TOKEN", "secret")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    runner = ChildProcessRunner(LIMITS, warm=0)
    assert not any("TWINSYNC" in k or k.startswith("AWS") for k in runner._env)
    assert set(runner._env) <= {"PATH", "LD_LIBRARY_PATH", "LANG", "LC_ALL", "TZ"}
    assert "-I" in runner._argv  # isolated: no PYTHON* variables, no user site
    assert os.environ["TWINSYNC_TRACKER_TOKEN"] == "secret"
