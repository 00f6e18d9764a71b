"""Basic mode: the fixed sync rules of the reference pages.

Outgoing: summary, description, comments, attachments and issue type. Incoming: create the
twin in the connection's incoming project, then update it; issue types mirrored by name
(falling back to a type the project has: its default, else its first standard type);
every comment created as a public comment with an attribution line; attachments copied
once each. Comments and attachments that the integration user wrote are mirrors of the
other side's, so they are never sent back (no echo).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.rules.plan import AttachmentOp, CommentOp, IncomingContext, Plan
from chalicelib.rules.replica import (
    attachment_json,
    body_from_json,
    body_hash,
    body_json,
    comment_json,
    empty_replica,
)
from chalicelib.trackers.base import Body, BodyFormat, Issue, IssueFields, Project

FALLBACK_TYPE = "Task"  # only for a project that lists no type at all


def outgoing(
    issue: Issue,
    *,
    connection_id: str,
    integration_user_id: str | None,
    attachment_sha: Mapping[str, str],
) -> dict[str, Any]:
    """Issue → replica (unversioned: the outbox stamps the version)."""
    replica = empty_replica(issue, connection_id=connection_id)
    replica["summary"] = issue.summary
    replica["description"] = body_json(issue.description)
    replica["type"] = {"name": issue.issue_type}
    replica["comments"] = [
        comment_json(c) for c in issue.comments if c.author.id != integration_user_id
    ]
    replica["attachments"] = [
        attachment_json(a, attachment_sha.get(a.id))
        for a in issue.attachments
        if a.author is None or a.author.id != integration_user_id
    ]
    return replica


def resolve_issue_type(name: str | None, project: Project, *, subtask: bool = False) -> str:
    """Mirror by name; else the project's default type; else its first standard type.

    ``project.issue_types`` are the types one can create at top level (the adapters leave
    sub-tasks out). Jira Server never reports a default type, and a project need not have
    ``Task`` (Service Management, custom schemes): falling back to a name the project lacks
    makes every create a 400, so the fallback is always a type the project has. Basic, Visual
    and Script's ``get_issue_type`` all resolve through this one function.

    Issue 18: with ``subtask`` (the other side's issue is a sub-task with a parent; Basic
    never says so) the project's sub-task type of that name ("Sub-task" and "Subtask" are
    the same name here), else its first sub-task type.
    """
    if subtask and project.subtask_types:
        wanted = type_name_key(name or "")
        for candidate in project.subtask_types:
            if type_name_key(candidate) == wanted:
                return candidate
        return project.subtask_types[0]
    if name:
        for candidate in project.issue_types:
            if candidate.lower() == name.lower():
                return candidate
    default = project.default_issue_type
    if default and (default in project.issue_types or not project.issue_types):
        return default  # a default one cannot create (e.g. a sub-task type) is no fallback
    return project.issue_types[0] if project.issue_types else FALLBACK_TYPE


def type_name_key(name: str) -> str:
    """An issue type name compared loosely: "Sub-task", "Subtask" and "sub task" match."""
    return "".join(c for c in name.lower() if c.isalnum())


def convert_body(body: Body | None, to: BodyFormat) -> Body | None:
    if body is None or body.format == to:
        return body
    from chalicelib.trackers.formats import convert

    return Body(to, convert(body.format, body.value, to))


def attribution_text(comment: Mapping[str, Any], remote_short_name: str) -> str:
    author = (comment.get("author") or {}).get("name") or "Someone"
    when = str(comment.get("created") or "")[:16].replace("T", " ")
    return f"{author} wrote on {when} UTC in {remote_short_name}:"


def attributed_body(comment: Mapping[str, Any], remote_short_name: str, to: BodyFormat) -> Body:
    """The comment body in the local format, led by who wrote it, when and where."""
    line = attribution_text(comment, remote_short_name)
    body = convert_body(body_from_json(comment.get("body")), to) or Body(to, "")
    if to == "adf":
        doc = body.value if isinstance(body.value, dict) else {"type": "doc", "content": []}
        lead = {
            "type": "paragraph",
            "content": [{"type": "text", "text": line, "marks": [{"type": "em"}]}],
        }
        return Body(
            "adf", {**doc, "version": 1, "type": "doc", "content": [lead, *doc.get("content", [])]}
        )
    text = body.value if isinstance(body.value, str) else ""
    if to == "wiki":
        return Body("wiki", f"_{line}_\n\n{text}")
    return Body("text", f"{line}\n\n{text}")


def _changed(ctx: IncomingContext, name: str) -> bool:
    if ctx.first_sync:
        return True
    return body_hash(ctx.replica.get(name)) != ctx.previous_hashes.get(name)


def _fields(ctx: IncomingContext) -> IssueFields | None:
    replica = ctx.replica
    summary = replica.get("summary") if _changed(ctx, "summary") else None
    description = None
    if _changed(ctx, "description"):
        description = convert_body(body_from_json(replica.get("description")), ctx.body_format)
        if description is None and not ctx.first_sync:
            description = Body(ctx.body_format, "" if ctx.body_format != "adf" else None)
    issue_type = None
    if _changed(ctx, "type"):
        issue_type = resolve_issue_type((replica.get("type") or {}).get("name"), ctx.project)
    if summary is None and description is None and issue_type is None:
        return None
    if ctx.first_sync and not summary:
        summary = f"(no summary) {replica.get('key', '')}".strip()
    return IssueFields(summary=summary, description=description, issue_type=issue_type)


def merge_comments(ctx: IncomingContext) -> tuple[CommentOp, ...]:
    """Create new remote comments, edit changed ones, delete removed ones (by remote id)."""
    ops: list[CommentOp] = []
    seen = set()
    for comment in ctx.replica.get("comments", []):
        remote_id = comment["id"]
        seen.add(remote_id)
        digest = body_hash(comment.get("body"))
        known = ctx.comment_map.get(remote_id)
        if known is None:
            body = attributed_body(comment, ctx.remote_short_name, ctx.body_format)
            ops.append(CommentOp("create", remote_id, body=body, body_hash=digest))
        elif known.get("hash") != digest:
            body = attributed_body(comment, ctx.remote_short_name, ctx.body_format)
            ops.append(
                CommentOp(
                    "update", remote_id, local_id=known["local_id"], body=body, body_hash=digest
                )
            )
    for remote_id, known in ctx.comment_map.items():
        if remote_id not in seen:
            ops.append(CommentOp("delete", remote_id, local_id=known.get("local_id")))
    return tuple(ops)


def merge_attachments(ctx: IncomingContext) -> tuple[AttachmentOp, ...]:
    """Copy each remote attachment once (by remote id)."""
    return tuple(
        AttachmentOp(
            "copy",
            a["id"],
            filename=str(a.get("filename") or a["id"]),
            size=int(a.get("size") or 0),
            mime_type=str(a.get("mime_type") or "application/octet-stream"),
            sha256=a.get("sha256"),
        )
        for a in ctx.replica.get("attachments", [])
        if a["id"] not in ctx.attachment_map
    )


def incoming(ctx: IncomingContext) -> Plan:
    """Replica → plan of writes to the local twin."""
    return Plan(
        fields=_fields(ctx), comments=merge_comments(ctx), attachments=merge_attachments(ctx)
    )
