"""Running one script over its inputs: what happens inside the sandbox process.

:func:`execute` takes a request (plain JSON: which direction, the script text, the inputs)
and answers plain JSON, so the same function serves a local child process and the
``script_runner`` Lambda function. It never raises: every failure becomes
``{"ok": false, "error": {kind, message, line}}`` with the script line that failed.

What a script sees (the script API, documented in ``docs/scripts.md``):

- outgoing: ``issue`` (this side's issue, in replica shape, without the comments and
  attachments this node wrote as mirrors) and ``replica`` (to fill in);
- incoming: ``replica``, ``previous`` (the last replica applied, or ``None``),
  ``first_sync``, ``issue`` (what to write: set its attributes) and the helpers
  ``changed``, ``get_issue_type``, ``merge_comments``, ``merge_attachments``;
- both: ``log`` (and ``print``), kept in the run's report, and ``skip(reason)``, which
  leaves the issue out of the sync this time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from types import CodeType, TracebackType
from typing import Any

from chalicelib.rules import basic
from chalicelib.rules.plan import IncomingContext
from chalicelib.rules.replica import body_hash
from chalicelib.rules.script import relations_api
from chalicelib.rules.script.errors import ScriptError
from chalicelib.rules.script.guards import (
    LogCollector,
    Obj,
    ScriptPolicyError,
    restricted_globals,
    to_script,
)
from chalicelib.rules.script.policy import compile_script, filename_of
from chalicelib.trackers.base import Project

PROTOCOL = 1
DEFAULT_OUTPUT_BYTES = 2_000_000


class SkipRequested(BaseException):
    """``skip("why")`` in a script: this issue does not sync now."""


def skip(reason: Any = "") -> None:
    """Leave this issue out of the sync (nothing sent, or nothing written)."""
    raise SkipRequested(str(reason or "skipped by the script"))


class ScriptTimeout(BaseException):
    """Raised into a script when its time is up (a BaseException: ``except Exception``
    in the script does not swallow it)."""


# --- helpers offered to incoming scripts -------------------------------------------------


def _op_json(op: Any) -> Obj:
    data = {k: getattr(op, k) for k in op.__struct_fields__}
    if "body" in data:
        body = data["body"]
        data["body"] = None if body is None else {"format": body.format, "value": body.value}
    return to_script(data)


class IncomingHelpers:
    """``changed``, ``get_issue_type``, ``merge_comments``, ``merge_attachments``."""

    def __init__(self, ctx: IncomingContext) -> None:
        self.ctx = ctx

    def changed(self, name: str) -> bool:
        """Whether the replica's ``name`` differs from the last replica applied."""
        ctx = self.ctx
        if ctx.first_sync:
            return True
        if not isinstance(name, str):
            raise TypeError("changed() takes a replica field name, e.g. changed('summary')")
        if name.startswith("fields."):
            if body_hash(ctx.replica.get("fields")) == ctx.previous_hashes.get("fields"):
                return False  # the merge writes no custom field of this replica
            key = name[len("fields.") :]
            now = (ctx.replica.get("fields") or {}).get(key)
            if ctx.previous is not None:
                return now != (ctx.previous.get("fields") or {}).get(key)
            name = "fields"
        return body_hash(ctx.replica.get(name)) != ctx.previous_hashes.get(name)

    def get_issue_type(self, name: Any = None) -> str:
        """This project's issue type for ``name``: Basic's :func:`basic.resolve_issue_type`
        (same name, else the default, else the project's first standard type).

        Issue 18: a sub-task of the other side (a replica with a parent whose type is a
        sub-task type here by name, or says ``{name, subtask: true}``) gets this project's
        sub-task type of that name, else its first sub-task type."""
        subtask = False
        if isinstance(name, Mapping):
            subtask = name.get("subtask") is True
            name = name.get("name")
        name = name if isinstance(name, str) else None
        project = self.ctx.project
        if self.ctx.replica.get("parent") and project.subtask_types:
            wanted = basic.type_name_key(name or "")
            subtask = subtask or any(
                basic.type_name_key(t) == wanted for t in project.subtask_types
            )
        else:
            subtask = False
        return basic.resolve_issue_type(name, project, subtask=subtask)

    def merge_comments(self, comments: Any = None, public: Any = True) -> list[Obj]:
        """Operations that make this issue's synced comments follow ``comments`` (the
        replica's by default): create new ones, edit changed ones, delete removed ones.
        ``public`` is ``True``/``False`` or a function of a comment."""
        chosen = self.ctx.replica.get("comments", []) if comments is None else comments
        chosen = list(chosen)
        for comment in chosen:
            if not isinstance(comment, Mapping) or not isinstance(comment.get("id"), str):
                raise TypeError("merge_comments() takes replica comments (each with an id)")
        ctx = IncomingContext(
            replica={"comments": chosen},
            previous=None,
            first_sync=self.ctx.first_sync,
            project=self.ctx.project,
            body_format=self.ctx.body_format,
            remote_short_name=self.ctx.remote_short_name,
            comment_map=self.ctx.comment_map,
        )
        by_id = {c["id"]: c for c in chosen}
        ops = []
        for op in basic.merge_comments(ctx):
            data = _op_json(op)
            if op.action != "delete":
                flag = public(to_script(by_id[op.remote_id])) if callable(public) else public
                data["public"] = bool(flag)
            ops.append(data)
        return ops

    def merge_attachments(self, attachments: Any = None, max_size: Any = None) -> list[Obj]:
        """Operations that copy each attachment of ``attachments`` (the replica's by
        default) once; ``max_size`` (bytes) skips bigger ones."""
        chosen = self.ctx.replica.get("attachments", []) if attachments is None else attachments
        chosen = list(chosen)
        for item in chosen:
            if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
                raise TypeError("merge_attachments() takes replica attachments (with ids)")
        if max_size is not None:
            chosen = [a for a in chosen if int(a.get("size") or 0) <= int(max_size)]
        ctx = IncomingContext(
            replica={"attachments": chosen},
            previous=None,
            first_sync=self.ctx.first_sync,
            project=self.ctx.project,
            body_format=self.ctx.body_format,
            remote_short_name=self.ctx.remote_short_name,
            attachment_map=self.ctx.attachment_map,
        )
        return [_op_json(op) for op in basic.merge_attachments(ctx)]


def incoming_context(inputs: Mapping[str, Any]) -> IncomingContext:
    """The incoming request's inputs as the helpers need them."""
    project = inputs.get("project") or {}
    return IncomingContext(
        replica=inputs.get("replica") or {},
        previous=inputs.get("previous"),
        first_sync=bool(inputs.get("first_sync")),
        project=Project(
            key=str(project.get("key", "")),
            name=str(project.get("name", "")),
            issue_types=tuple(project.get("issue_types") or ()),
            default_issue_type=project.get("default_issue_type"),
            subtask_types=tuple(project.get("subtask_types") or ()),  # issue 18
        ),
        body_format=inputs.get("body_format") or "text",
        remote_short_name=str(inputs.get("remote_short_name") or ""),
        previous_hashes=dict(inputs.get("previous_hashes") or {}),
        comment_map=dict(inputs.get("comment_map") or {}),
        attachment_map=dict(inputs.get("attachment_map") or {}),
        worklog_map=dict(inputs.get("worklog_map") or {}),
    )


# --- running ------------------------------------------------------------------------------


def _script_line(tb: TracebackType | None, filename: str) -> int | None:
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _describe(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, ScriptTimeout):
        return "timeout", str(exc) or "the script ran out of time"
    if isinstance(exc, MemoryError):
        return "memory", "the script used more memory than allowed"
    if isinstance(exc, RecursionError):
        return "runtime", "RecursionError: too deep (a function calls itself without end?)"
    if isinstance(exc, ScriptPolicyError):
        return "policy", str(exc)
    return "runtime", f"{type(exc).__name__}: {exc}"


def run_code(code: CodeType, script: str, names: dict[str, Any], collector: LogCollector) -> None:
    """Execute ``code`` with ``names``; failures become ``ScriptError`` with the line."""
    env = restricted_globals(collector, {"skip": skip, **names})
    try:
        exec(code, env)  # noqa: S102 - compiled by RestrictedPython, run behind its guards
    except SkipRequested:
        raise
    except (Exception, ScriptTimeout) as exc:
        kind, message = _describe(exc)
        line = _script_line(exc.__traceback__, filename_of(script))
        raise ScriptError(message, kind=kind, line=line, script=script) from None


def _outgoing(code: CodeType, script: str, inputs: Mapping[str, Any], log: LogCollector) -> Any:
    issue = to_script(inputs.get("issue") or {})
    replica = to_script(inputs.get("replica") or {})
    run_code(code, script, {"issue": issue, "replica": replica}, log)
    return replica


def _incoming(code: CodeType, script: str, inputs: Mapping[str, Any], log: LogCollector) -> Any:
    ctx = incoming_context(inputs)
    helpers = IncomingHelpers(ctx)
    issue = Obj(key=inputs.get("local_key"), project=ctx.project.key, fields=Obj())
    names = {
        "replica": to_script(dict(ctx.replica)),
        "previous": to_script(ctx.previous) if ctx.previous is not None else None,
        "first_sync": ctx.first_sync,
        "issue": issue,
        "changed": helpers.changed,
        "get_issue_type": helpers.get_issue_type,
        "merge_comments": helpers.merge_comments,
        "merge_attachments": helpers.merge_attachments,
        **relations_api.helpers(ctx),
    }
    run_code(code, script, names, log)
    try:
        # the reference product's shorthand: ``issue.comments = replica.comments``
        issue["comments"] = _as_ops(issue.get("comments"), "action", helpers.merge_comments)
        issue["attachments"] = _as_ops(
            issue.get("attachments"), "action", helpers.merge_attachments
        )
        relations_api.finish(issue, ctx)
    except (TypeError, ValueError) as exc:
        raise ScriptError(str(exc), kind="result", script=script) from None
    return issue


def _as_ops(value: Any, marker: str, merge: Callable[[Any], list[Obj]]) -> Any:
    if not isinstance(value, list) or not value:
        return value
    if all(isinstance(v, Mapping) and marker not in v for v in value):
        return merge(value)
    return value


RUNNERS = {"outgoing": _outgoing, "incoming": _incoming}


def _encode(answer: dict[str, Any], limit: int, script: str) -> str:
    try:
        text = json.dumps(answer, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ScriptError(
            f"the result is not plain data (text, numbers, lists, objects): {exc}",
            kind="output",
            script=script,
        ) from None
    if len(text) > limit:
        raise ScriptError(
            f"the result is {len(text)} bytes; at most {limit} are allowed",
            kind="output",
            script=script,
        )
    return text


def _failure(error: dict[str, Any], log: LogCollector) -> str:
    return json.dumps({"ok": False, "error": error, "log": log.lines}, separators=(",", ":"))


def execute_text(request: Mapping[str, Any]) -> str:
    """Run the request's script; the JSON answer, never an exception."""
    script = str(request.get("script_name") or "script")
    log = LogCollector()
    try:
        direction = request.get("direction")
        runner = RUNNERS.get(str(direction))
        if runner is None:
            raise ScriptError(f"unknown direction {direction!r}", kind="runner", script=script)
        code = compile_script(request.get("script"), script)  # type: ignore[arg-type]
        result = runner(code, script, request.get("inputs") or {}, log)
        limit = int((request.get("limits") or {}).get("output_bytes") or DEFAULT_OUTPUT_BYTES)
        return _encode({"ok": True, "result": result, "log": log.lines}, limit, script)
    except SkipRequested as exc:
        reason = str(exc)[:500]
        return json.dumps({"ok": True, "skip": reason, "result": None, "log": log.lines})
    except ScriptError as exc:
        return _failure(exc.to_json(), log)
    except (MemoryError, ScriptTimeout, RecursionError) as exc:  # outside the script's frames
        kind, message = _describe(exc)
        return _failure({"kind": kind, "message": message, "line": None}, log)


def execute(request: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`execute_text`, parsed (for callers in the same process)."""
    answer: dict[str, Any] = json.loads(execute_text(request))
    return answer
