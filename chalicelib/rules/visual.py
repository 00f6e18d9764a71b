"""Visual mode: the mapping document (:mod:`chalicelib.rules.mapping_document`) compiled
to rule functions, no user code: the scope of a block, the outgoing rule (which fields
travel, mapped) and the incoming rule (which fields are written, and how conflicts merge).

Pure: the compiled rules touch no storage or network.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from chalicelib.rules import basic
from chalicelib.rules.mapping_document import SCOPES, Block, FieldMapping, block_for
from chalicelib.rules.plan import IncomingContext, Plan
from chalicelib.rules.replica import body_from_json, body_hash, body_json, empty_replica
from chalicelib.rules.skip import SkipSync
from chalicelib.trackers.base import Body, Issue, IssueFields

# --- scope --------------------------------------------------------------------------------


def _facts_of_issue(issue: Issue) -> dict[str, list[str]]:
    return {
        "type": [issue.issue_type] if issue.issue_type else [],
        "priority": [issue.priority] if issue.priority else [],
        "status": [issue.status] if issue.status else [],
        "labels": list(issue.labels),
    }


def _name_of(value: Any) -> list[str]:
    if isinstance(value, Mapping) and isinstance(value.get("name"), str):
        return [value["name"]]
    return [value] if isinstance(value, str) and value else []


def _facts_of_replica(replica: Mapping[str, Any]) -> dict[str, list[str]]:
    return {
        "type": _name_of(replica.get("type")),
        "priority": _name_of(replica.get("priority")),
        "status": _name_of(replica.get("status")),
        "labels": [x for x in replica.get("labels") or [] if isinstance(x, str)],
    }


def out_of_scope(block: Block, facts: Mapping[str, list[str]]) -> str | None:
    """Why the facts fall outside the block's scope, or ``None`` when they are inside."""
    for key, wanted in block.scope.items():
        have = {v.lower() for v in facts.get(SCOPES[key], [])}
        if not have & {w.lower() for w in wanted}:
            shown = ", ".join(sorted(facts.get(SCOPES[key], []))) or "none"
            return f"{key} {shown} not in {', '.join(wanted)}"
    return None


# --- compiled rules -----------------------------------------------------------------------

OutgoingRule = Callable[..., dict[str, Any]]
IncomingRule = Callable[[IncomingContext], Plan]


def _named(value: str | None) -> dict[str, str] | None:
    return {"name": value} if value else None


def outgoing_rule(document: Any) -> OutgoingRule:
    """This end's outgoing block as an outgoing rule (validated once, here)."""
    block = block_for(document, "outgoing")

    def rule(
        issue: Issue,
        *,
        connection_id: str,
        integration_user_id: str | None,
        attachment_sha: Mapping[str, str],
    ) -> dict[str, Any]:
        if block.sync == "disabled":
            raise SkipSync("outgoing sync is disabled")
        reason = out_of_scope(block, _facts_of_issue(issue))
        if reason:
            raise SkipSync(f"out of the outgoing scope: {reason}")
        base = basic.outgoing(
            issue,
            connection_id=connection_id,
            integration_user_id=integration_user_id,
            attachment_sha=attachment_sha,
        )
        return _outgoing_replica(block, issue, base)

    return rule


def _outgoing_replica(block: Block, issue: Issue, base: Mapping[str, Any]) -> dict[str, Any]:
    replica = empty_replica(issue, connection_id=str(base["connection_id"]))
    plain = FieldMapping("identity")
    replica["type"] = _named((block.mapping("issue_type") or plain).map(issue.issue_type))
    replica["labels"] = (block.mapping("labels") or plain).map_all(issue.labels)
    replica["priority"] = _named((block.mapping("priority") or plain).map(issue.priority))
    replica["status"] = _named((block.mapping("status") or plain).map(issue.status))
    if block.mapping("summary"):
        replica["summary"] = issue.summary
    if block.mapping("description"):
        replica["description"] = body_json(issue.description)
    comments = block.mapping("comments")
    if comments:
        replica["comments"] = [
            c for c in base["comments"] if c.get("public", True) or not comments.only_public
        ]
    attachments = block.mapping("attachments")
    if attachments:
        replica["attachments"] = [
            a
            for a in base["attachments"]
            if attachments.max_size is None or int(a.get("size") or 0) <= attachments.max_size
        ]
    for custom in block.customs():
        value = issue.fields.get(custom.local or "")
        if isinstance(value, str):
            value = custom.map(value)
        replica["fields"][custom.remote] = value
    return replica


def _changed(ctx: IncomingContext, name: str) -> bool:
    if ctx.first_sync:
        return True
    return body_hash(ctx.replica.get(name)) != ctx.previous_hashes.get(name)


def _custom_changed(ctx: IncomingContext, remote: str) -> bool:
    if ctx.first_sync:
        return True
    now = (ctx.replica.get("fields") or {}).get(remote)
    if ctx.previous is not None:
        return now != (ctx.previous.get("fields") or {}).get(remote)
    return _changed(ctx, "fields")


def incoming_rule(document: Any) -> IncomingRule:
    """This end's incoming block as an incoming rule (validated once, here)."""
    block = block_for(document, "incoming")

    def rule(ctx: IncomingContext) -> Plan:
        if block.sync == "disabled":
            raise SkipSync("incoming sync is disabled")
        reason = out_of_scope(block, _facts_of_replica(ctx.replica))
        if reason:
            raise SkipSync(f"out of the incoming scope: {reason}")
        comments = block.mapping("comments")
        attachments = block.mapping("attachments")
        return Plan(
            fields=_incoming_fields(block, ctx),
            comments=_comments(ctx, comments) if comments else (),
            attachments=_attachments(ctx, attachments) if attachments else (),
            status=_incoming_status(block, ctx),
        )

    return rule


def _incoming_fields(block: Block, ctx: IncomingContext) -> IssueFields | None:
    replica = ctx.replica
    values: dict[str, Any] = {}
    if block.mapping("summary") and _changed(ctx, "summary"):
        values["summary"] = replica.get("summary")
    if block.mapping("description") and _changed(ctx, "description"):
        description = basic.convert_body(
            body_from_json(replica.get("description")), ctx.body_format
        )
        if description is None and not ctx.first_sync:
            description = Body(ctx.body_format, "" if ctx.body_format != "adf" else None)
        values["description"] = description
    values.update(_incoming_names(block, ctx))
    custom: dict[str, Any] = {}
    for item in block.customs():
        if _custom_changed(ctx, item.remote or ""):
            value = (replica.get("fields") or {}).get(item.remote)
            custom[item.local or ""] = item.map(value) if isinstance(value, str) else value
    if custom:
        values["custom"] = custom
    if not any(v is not None for v in values.values()):
        return None
    if ctx.first_sync and not values.get("summary"):
        values["summary"] = replica.get("summary") or f"(no summary) {replica.get('key', '')}"
    return IssueFields(**values)


def _incoming_names(block: Block, ctx: IncomingContext) -> dict[str, Any]:
    """Issue type, labels and priority: mapped through their value maps."""
    values: dict[str, Any] = {}
    mapping = block.mapping("issue_type")
    if mapping and _changed(ctx, "type"):
        name = mapping.map(next(iter(_name_of(ctx.replica.get("type"))), None))
        values["issue_type"] = basic.resolve_issue_type(name, ctx.project)
    mapping = block.mapping("labels")
    if mapping and _changed(ctx, "labels"):
        values["labels"] = tuple(mapping.map_all(_facts_of_replica(ctx.replica)["labels"]))
    mapping = block.mapping("priority")
    if mapping and _changed(ctx, "priority"):
        priority = mapping.map(next(iter(_name_of(ctx.replica.get("priority"))), None))
        if priority:
            values["priority"] = priority
    return values


def _incoming_status(block: Block, ctx: IncomingContext) -> str | None:
    """The status to transition to: the replica's, mapped, when it changed."""
    mapping = block.mapping("status")
    if mapping is None or not _changed(ctx, "status"):
        return None
    return mapping.map(next(iter(_name_of(ctx.replica.get("status"))), None)) or None


def _comments(ctx: IncomingContext, mapping: FieldMapping) -> tuple[Any, ...]:
    ops = basic.merge_comments(ctx)
    if mapping.public:
        return ops
    return tuple(replace(op, public=False) if op.action != "delete" else op for op in ops)


def _attachments(ctx: IncomingContext, mapping: FieldMapping) -> tuple[Any, ...]:
    ops = basic.merge_attachments(ctx)
    if mapping.max_size is None:
        return ops
    return tuple(op for op in ops if op.size <= mapping.max_size)
