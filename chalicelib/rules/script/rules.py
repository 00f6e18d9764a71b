"""Script mode as sync rules: requests out to the sandbox, answers back into rule results.

The sync workers call rules with one signature whatever the mode (see
:mod:`chalicelib.rules.select`). Here a Script end's rule builds a plain-JSON request from
its inputs, hands it to a :class:`~chalicelib.rules.script.runner.ScriptRunner` (a child
process or the ``script_runner`` Lambda function, never the worker itself), and checks the
answer as untrusted input: the replica must follow protocol 1 and keep the issue's identity;
the plan may only touch this twin's comments and the replica's attachments, with issue
types the project has. Anything else is a :class:`ScriptError` naming the script.

Everything here is pure except the runner call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.rules import basic
from chalicelib.rules.plan import AttachmentOp, CommentOp, IncomingContext, Plan
from chalicelib.rules.replica import (
    InvalidReplica,
    attachment_json,
    body_from_json,
    comment_json,
    empty_replica,
    validate,
)
from chalicelib.rules.script import fields_api, hierarchy_api, relations_api
from chalicelib.rules.script.errors import ScriptError, ScriptFailed
from chalicelib.rules.script.op_lists import INCOMING, merged_ops, refused
from chalicelib.rules.script.runner import ScriptRunner, default_runner
from chalicelib.rules.skip import SkipSync
from chalicelib.trackers.base import Body, Issue, IssueFields, Project

OUTGOING = "outgoing_script"
IDENTITY = ("id", "connection_id", "entity", "key", "url", "version", "updated", "removed")
BODY_FORMATS = ("adf", "wiki", "text")


# --- outgoing -------------------------------------------------------------------------------


def issue_view(
    issue: Issue, *, integration_user_id: str | None, attachment_sha: Mapping[str, str]
) -> dict[str, Any]:
    """The issue as an outgoing script sees it: replica-shaped, without our own mirrors."""
    view = {
        "id": issue.id,
        "key": issue.key,
        "url": issue.url,
        "project": issue.project,
        "summary": issue.summary,
        "description": basic_body(issue.description),
        "type": {"name": issue.issue_type},
        "labels": list(issue.labels),
        "priority": {"name": issue.priority} if issue.priority else None,
        "status": {"name": issue.status} if issue.status else None,
        "created": issue.created,
        "updated": issue.updated,
        "comments": [comment_json(c) for c in issue.comments if c.author.id != integration_user_id],
        "attachments": [
            attachment_json(a, attachment_sha.get(a.id))
            for a in issue.attachments
            if a.author is None or a.author.id != integration_user_id
        ],
        "fields": dict(issue.fields),
    }
    for api in API_PARTS:
        view.update(api.view(issue, integration_user_id=integration_user_id))
    return view


# issue 18: what each part of the script API adds to the views and the plan
API_PARTS = (fields_api, relations_api, hierarchy_api)


def basic_body(body: Body | None) -> dict[str, Any] | None:
    return None if body is None else {"format": body.format, "value": body.value}


def outgoing_request(
    script: str,
    issue: Issue,
    *,
    connection_id: str,
    integration_user_id: str | None,
    attachment_sha: Mapping[str, str],
) -> dict[str, Any]:
    return {
        "protocol": 1,
        "direction": "outgoing",
        "script_name": OUTGOING,
        "script": script,
        "inputs": {
            "issue": issue_view(
                issue, integration_user_id=integration_user_id, attachment_sha=attachment_sha
            ),
            "replica": empty_replica(issue, connection_id=connection_id),
        },
    }


def replica_from_result(result: Any, base: Mapping[str, Any]) -> dict[str, Any]:
    """The script's replica, checked: protocol 1, the issue's identity kept."""
    if not isinstance(result, dict):
        raise ScriptError("replica must stay an object", kind="result", script=OUTGOING)
    replica = {**base, **result}
    for name in IDENTITY:
        replica[name] = base[name]
    for name in ("summary",):
        if replica.get(name) is None:
            replica[name] = ""
    for name in ("labels", "comments", "attachments"):
        if replica.get(name) is None:
            replica[name] = []
    if replica.get("fields") is None:
        replica["fields"] = {}
    replica["type"] = _named(replica.get("type"), "replica.type", OUTGOING)
    replica["priority"] = _named(replica.get("priority"), "replica.priority", OUTGOING)
    replica["status"] = _named(replica.get("status"), "replica.status", OUTGOING)
    if isinstance(replica.get("description"), str):
        replica["description"] = {"format": "text", "value": replica["description"]}
    for api in API_PARTS:
        api.normalise(replica, script=OUTGOING)
    labels = replica["labels"]
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise ScriptError("replica.labels must be a list of text", kind="result", script=OUTGOING)
    try:
        validate({**replica, "id": "check", "version": 1})
    except InvalidReplica as exc:
        raise ScriptError(str(exc), kind="result", script=OUTGOING) from None
    return replica


def _named(value: Any, what: str, script: str) -> dict[str, str] | None:
    """``"Bug"`` or ``{"name": "Bug"}`` → ``{"name": "Bug"}``; ``None``/``""`` → ``None``."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return {"name": value}
    if isinstance(value, Mapping) and isinstance(value.get("name"), str):
        return {**value, "name": value["name"]}
    raise ScriptError(f"{what} must be a name or {{name}}", kind="result", script=script)


# --- incoming -------------------------------------------------------------------------------


def incoming_request(
    script: str, ctx: IncomingContext, *, local_key: str | None = None
) -> dict[str, Any]:
    project = ctx.project
    return {
        "protocol": 1,
        "direction": "incoming",
        "script_name": INCOMING,
        "script": script,
        "inputs": {
            "replica": dict(ctx.replica),
            "previous": dict(ctx.previous) if ctx.previous is not None else None,
            "first_sync": ctx.first_sync,
            "local_key": local_key,
            "project": {
                "key": project.key,
                "name": project.name,
                "issue_types": list(project.issue_types),
                "default_issue_type": project.default_issue_type,
                "subtask_types": list(project.subtask_types),  # issue 18
            },
            "body_format": ctx.body_format,
            "remote_short_name": ctx.remote_short_name,
            "previous_hashes": dict(ctx.previous_hashes),
            "comment_map": {k: dict(v) for k, v in ctx.comment_map.items()},
            "attachment_map": dict(ctx.attachment_map),
            "worklog_map": {k: dict(v) for k, v in ctx.worklog_map.items()},
        },
    }


_refuse = refused


def _issue_type(value: Any, project: Project) -> str | None:
    named = _named(value, "issue.type", INCOMING)
    if named is None:
        return None
    for candidate in (*project.issue_types, *project.subtask_types):  # issue 18: sub-tasks
        if candidate.lower() == named["name"].lower():
            return candidate
    raise _refuse(
        f"issue type {named['name']!r} is not a type of project {project.key} "
        f"({', '.join(project.issue_types) or 'none'}); map it to one of those"
    )


def _description(issue: Mapping[str, Any], ctx: IncomingContext) -> Body | None:
    if "description" not in issue:
        return None
    return fields_api.incoming_body(issue["description"], ctx, "issue.description")


def _fields(issue: Mapping[str, Any], ctx: IncomingContext) -> IssueFields | None:
    summary = issue.get("summary")
    if summary is not None and not isinstance(summary, str):
        raise _refuse("issue.summary must be text")
    description = _description(issue, ctx)
    issue_type = _issue_type(issue.get("type"), ctx.project)
    labels = issue.get("labels")
    if labels is not None and (
        not isinstance(labels, list) or not all(isinstance(x, str) for x in labels)
    ):
        raise _refuse("issue.labels must be a list of text")
    priority = _named(issue.get("priority"), "issue.priority", INCOMING)
    custom = issue.get("fields") or {}
    if not isinstance(custom, Mapping) or not all(isinstance(k, str) for k in custom):
        raise _refuse("issue.fields must be an object of field name -> value")
    extra: dict[str, Any] = {}
    for api in API_PARTS:
        extra.update(api.issue_fields(issue, ctx))
    if (
        summary is None
        and description is None
        and issue_type is None
        and labels is None
        and priority is None
        and not custom
        and all(v is None for v in extra.values())
    ):
        return None
    if ctx.first_sync and not summary:  # creating needs one: the replica's, else a marker
        replica_summary = ctx.replica.get("summary")
        summary = replica_summary if isinstance(replica_summary, str) and replica_summary else None
        summary = summary or f"(no summary) {ctx.replica.get('key', '')}".strip()
    return IssueFields(
        summary=summary,
        description=description,
        issue_type=issue_type,
        labels=tuple(labels) if labels is not None else None,
        priority=priority["name"] if priority else None,
        custom=dict(custom),
        **extra,
    )


def _comment_ops(value: Any, ctx: IncomingContext) -> tuple[CommentOp, ...]:
    ops = []
    for item, action, remote_id, local_id in merged_ops(
        value, noun="comment", known=ctx.comment_map, synced_only=True
    ):
        body = None
        if action != "delete":
            try:
                body = body_from_json(item.get("body"))
            except InvalidReplica:
                raise _refuse("a comment body must be {format, value}") from None
            body = basic.convert_body(body, ctx.body_format)
        digest = item.get("body_hash")
        ops.append(
            CommentOp(
                action,
                remote_id,
                local_id=local_id,
                body=body,
                body_hash=digest if isinstance(digest, str) else None,
                public=bool(item.get("public", True)),
            )
        )
    return tuple(ops)


def _attachment_ops(value: Any, ctx: IncomingContext) -> tuple[AttachmentOp, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _refuse("issue.attachments must be what merge_attachments() returns")
    offered = {a["id"]: a for a in ctx.replica.get("attachments", []) if isinstance(a, Mapping)}
    ops = []
    for item in value:
        if not isinstance(item, Mapping) or item.get("action") != "copy":
            raise _refuse("issue.attachments must be what merge_attachments() returns")
        source = offered.get(item.get("remote_id"))
        if source is None:
            raise _refuse(f"attachment {item.get('remote_id')!r} is not in the replica")
        if source["id"] in ctx.attachment_map:
            continue
        ops.append(
            AttachmentOp(
                "copy",
                source["id"],
                filename=str(item.get("filename") or source.get("filename") or source["id"]),
                size=int(source.get("size") or 0),
                mime_type=str(source.get("mime_type") or "application/octet-stream"),
                sha256=source.get("sha256"),
            )
        )
    return tuple(ops)


def plan_from_result(result: Any, ctx: IncomingContext) -> Plan:
    """What the incoming script set on ``issue``, as checked tracker writes.

    ``issue.status`` (a name or ``{name}``) becomes the plan's status: reached through a
    workflow transition after the fields are written.
    """
    if not isinstance(result, Mapping):
        raise _refuse("issue must stay an object")
    status = _named(result.get("status"), "issue.status", INCOMING)
    parts: dict[str, Any] = {}
    for api in API_PARTS:
        parts.update(api.plan_parts(result, ctx))
    return Plan(
        fields=_fields(result, ctx),
        comments=_comment_ops(result.get("comments"), ctx),
        attachments=_attachment_ops(result.get("attachments"), ctx),
        status=(status["name"].strip() or None) if status else None,
        **parts,
    )


# --- running --------------------------------------------------------------------------------


def run(runner: ScriptRunner, request: Mapping[str, Any]) -> tuple[Any, list[str]]:
    """The script's result and log; ``ScriptError``, or ``SkipSync`` when it skipped."""
    answer = runner.run(request)
    if not answer.get("ok"):
        raise ScriptError.from_json(answer.get("error"), script=str(request["script_name"]))
    if answer.get("skip") is not None:
        raise SkipSync(f"{request['script_name']}: {answer['skip']}")
    return answer.get("result"), list(answer.get("log") or [])


def run_outgoing(
    runner: ScriptRunner,
    script: str,
    issue: Issue,
    *,
    connection_id: str,
    integration_user_id: str | None,
    attachment_sha: Mapping[str, str],
) -> tuple[dict[str, Any], list[str]]:
    request = outgoing_request(
        script,
        issue,
        connection_id=connection_id,
        integration_user_id=integration_user_id,
        attachment_sha=attachment_sha,
    )
    result, lines = run(runner, request)
    return replica_from_result(result, request["inputs"]["replica"]), lines


def run_incoming(
    runner: ScriptRunner, script: str, ctx: IncomingContext, *, local_key: str | None = None
) -> tuple[Plan, list[str]]:
    result, lines = run(runner, incoming_request(script, ctx, local_key=local_key))
    return plan_from_result(result, ctx), lines


OutgoingRule = Callable[..., dict[str, Any]]
IncomingRule = Callable[[IncomingContext], Plan]


def outgoing_rule(script: str, *, runner: ScriptRunner | None = None) -> OutgoingRule:
    """A Script end's outgoing rule, with the sync workers' signature."""

    def rule(
        issue: Issue,
        *,
        connection_id: str,
        integration_user_id: str | None,
        attachment_sha: Mapping[str, str],
    ) -> dict[str, Any]:
        try:
            replica, _ = run_outgoing(
                runner or default_runner(),
                script,
                issue,
                connection_id=connection_id,
                integration_user_id=integration_user_id,
                attachment_sha=attachment_sha,
            )
        except ScriptError as exc:
            raise ScriptFailed(
                exc, connection_id=connection_id, issue_key=issue.key, local_key=issue.key
            ) from None
        return replica

    return rule


def incoming_rule(
    script: str, *, connection_id: str, runner: ScriptRunner | None = None
) -> IncomingRule:
    """A Script end's incoming rule, with the sync workers' signature."""

    def rule(ctx: IncomingContext) -> Plan:
        try:
            plan, _ = run_incoming(runner or default_runner(), script, ctx)
        except ScriptError as exc:
            raise ScriptFailed(
                exc, connection_id=connection_id, issue_key=str(ctx.replica.get("key") or "")
            ) from None
        return plan

    return rule
