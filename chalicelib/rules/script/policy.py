"""Compiling a sync script: RestrictedPython's policy, tightened for sync rules.

RestrictedPython already refuses names and attributes starting with ``_``, ``exec``-style
statements and async code. On top of that a sync script may not import, define classes,
write generators (their frames are a classic escape route), declare ``global`` names, use
``with``, or even name the builtins that open doors (``eval``, ``getattr``, ``type``…):
those are refused when the script is saved, with the line, instead of failing at run time.

Compiling is pure and cheap (~0.1 ms): it runs on save (``PATCH``) and again in the
sandbox process before each run.
"""

from __future__ import annotations

import ast
import copy
import re
from types import CodeType
from typing import Any

from RestrictedPython import compile_restricted_exec
from RestrictedPython.transformer import RestrictingNodeTransformer

from chalicelib.rules.script.errors import ScriptError

MAX_SCRIPT_CHARS = 65_536

FORBIDDEN_NAMES = frozenset(
    {
        "breakpoint",
        "classmethod",
        "compile",
        "delattr",
        "dir",
        "eval",
        "exec",
        "exit",
        "getattr",
        "globals",
        "hasattr",
        "help",
        "id",
        "input",
        "locals",
        "memoryview",
        "object",
        "open",
        "property",
        "quit",
        "setattr",
        "staticmethod",
        "super",
        "type",
        "vars",
    }
)

_LINE_RE = re.compile(r"^Line (\d+): ?(.*)$", re.DOTALL)


class SyncScriptPolicy(RestrictingNodeTransformer):
    """RestrictedPython's transformer with the statements sync rules never need refused."""

    def _refuse(self, node: ast.AST, what: str) -> None:
        self.error(node, f"{what} are not allowed in sync scripts.")

    def visit_Import(self, node: ast.Import) -> Any:
        self._refuse(node, "imports")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> Any:
        self._refuse(node, "imports")

    def visit_ClassDef(self, node: ast.ClassDef) -> Any:
        self._refuse(node, "class definitions")

    def visit_Yield(self, node: ast.Yield) -> Any:
        self._refuse(node, "generators (yield)")

    def visit_YieldFrom(self, node: ast.YieldFrom) -> Any:
        self._refuse(node, "generators (yield from)")

    def visit_Global(self, node: ast.Global) -> Any:
        self._refuse(node, "global statements")

    def visit_With(self, node: ast.With) -> Any:
        self._refuse(node, "with statements")

    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        """``replica.labels += [...]`` reads naturally: rewritten as ``x.a = x.a + …`` (the
        guards then check the read and the write); names keep RestrictedPython's way."""
        if isinstance(node.target, ast.Attribute | ast.Subscript):
            load = copy.deepcopy(node.target)
            load.ctx = ast.Load()
            assign = ast.Assign(
                targets=[node.target], value=ast.BinOp(left=load, op=node.op, right=node.value)
            )
            ast.copy_location(assign, node)
            ast.fix_missing_locations(assign)
            return self.visit(assign)
        return super().visit_AugAssign(node)

    def visit_Name(self, node: ast.Name) -> Any:
        if node.id in FORBIDDEN_NAMES:
            self.error(node, f'"{node.id}" is not available in sync scripts.')
            return node
        return super().visit_Name(node)


def split_line(message: str) -> tuple[int | None, str]:
    """``"Line 3: reason"`` → ``(3, "reason")``."""
    match = _LINE_RE.match(message.strip())
    if not match:
        return None, message.strip()
    return int(match.group(1)), match.group(2).strip()


def filename_of(script: str) -> str:
    """The pseudo file name a script is compiled under; tracebacks name it."""
    return f"<{script}>"


def compile_script(text: str, script: str = "script") -> CodeType:
    """The code object of ``text``, or ``ScriptError`` (kind ``syntax`` or ``policy``) with
    the first problem's line; every problem found is listed in the message."""
    if not isinstance(text, str):
        raise ScriptError("a script must be text", kind="syntax", script=script)
    if len(text) > MAX_SCRIPT_CHARS:
        raise ScriptError(
            f"the script is {len(text)} characters long; at most {MAX_SCRIPT_CHARS} are allowed",
            kind="policy",
            script=script,
        )
    try:
        result = compile_restricted_exec(
            text, filename=filename_of(script), policy=SyncScriptPolicy
        )
    except (ValueError, TypeError, RecursionError, MemoryError) as exc:
        # e.g. NUL bytes, or nesting too deep for the parser
        raise ScriptError(f"cannot be compiled: {exc}", kind="syntax", script=script) from exc
    if result.errors:
        first_line, first = split_line(result.errors[0])
        kind = "syntax" if "Error" in first.split(":", 1)[0] else "policy"
        others = [split_line(e) for e in result.errors[1:]]
        extra = "; ".join(f"line {n}: {m}" if n else m for n, m in others)
        message = first + (f" (also {extra})" if extra else "")
        raise ScriptError(message, kind=kind, line=first_line, script=script)
    assert result.code is not None
    return result.code
