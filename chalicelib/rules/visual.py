"""Visual mode: the mapping document (:mod:`chalicelib.rules.mapping_document`) compiled
to rule functions, no user code: the scope of a block, the outgoing rule (which fields
travel, mapped) and the incoming rule (which fields are written, and how conflicts merge).

Issue 18's kinds (components, versions, due date, environment, resolution, people,
parent, links, worklogs) travel in the replica's issue-18 keys only when the outgoing block
lists them (absent = not synced); incoming, a kind is written only when the block lists it
and the replica carries it, as the same :class:`~chalicelib.rules.plan.Plan` parts the
script API makes (the worker maps people, parents and linked issues and applies them).

Pure: the compiled rules touch no storage or network.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from msgspec.structs import replace

from chalicelib.rules import basic
from chalicelib.rules.mapping_document import (
    NAME_LIST_FIELDS,
    SCOPES,
    Block,
    FieldMapping,
    block_for,
)
from chalicelib.rules.plan import (
    IncomingContext,
    LinkOp,
    ParentOp,
    PersonOp,
    Plan,
)
from chalicelib.rules.replica import (
    body_from_json,
    body_hash,
    body_json,
    empty_replica,
    person_json,
)
from chalicelib.rules.skip import SkipSync
from chalicelib.rules.worklogs import merge_worklogs
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
        replica = _outgoing_replica(block, issue, base)
        replica.update(_outgoing_relations(block, issue, integration_user_id))
        return replica

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


# issue 18: the Issue attribute each name list is read from / IssueFields it is written to
_ISSUE_LISTS = {"components": "components", "fix_versions": "fix_versions"}
_ISSUE_LISTS["affects_versions"] = "versions"


def _outgoing_relations(
    block: Block, issue: Issue, integration_user_id: str | None
) -> dict[str, Any]:
    """Issue 18's replica keys for the kinds the outgoing block lists (others absent)."""
    out: dict[str, Any] = {}
    for name in NAME_LIST_FIELDS:
        mapping = block.mapping(name)
        if mapping:
            out[name] = mapping.map_all(getattr(issue, _ISSUE_LISTS[name]))
    if block.mapping("due_date"):
        out["due_date"] = issue.due_date or None
    if block.mapping("environment"):
        out["environment"] = body_json(issue.environment)
    mapping = block.mapping("resolution")
    if mapping:
        out["resolution"] = _named(mapping.map(issue.resolution))
    for role in ("assignee", "reporter"):
        if block.mapping(role):
            out[role] = person_json(getattr(issue, role))
    if block.mapping("parent"):
        out["parent"] = {"key": issue.parent} if issue.parent else None
    mapping = block.mapping("links")
    if mapping:
        out["links"] = _outgoing_links(mapping, issue)
    if block.mapping("worklogs"):
        out["worklogs"] = _outgoing_worklogs(issue, integration_user_id)
    return out


def _outgoing_links(mapping: FieldMapping, issue: Issue) -> list[dict[str, Any]]:
    """The issue's links, type mapped (a type mapped to null is not sent)."""
    links = []
    for link in issue.links:
        kind = mapping.map(link.type)
        if kind:
            links.append({"type": kind, "direction": link.direction, "key": link.issue_key})
    return links


def _outgoing_worklogs(issue: Issue, integration_user_id: str | None) -> list[dict[str, Any]]:
    """The issue's worklogs, without those the integration user logged (our copies of the
    other side's: never sent back)."""
    return [
        {
            "id": w.id,
            "started": w.started,
            "seconds": w.seconds,
            "comment": body_json(w.comment),
            "author": None if w.author is None else {"id": w.author.id, "name": w.author.name},
            "updated": w.updated,
        }
        for w in issue.worklogs
        if w.seconds > 0
        and (w.author is None or integration_user_id is None or w.author.id != integration_user_id)
    ]


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
        worklogs = block.mapping("worklogs")
        return Plan(
            fields=_incoming_fields(block, ctx),
            comments=_comments(ctx, comments) if comments else (),
            attachments=_attachments(ctx, attachments) if attachments else (),
            status=_incoming_status(block, ctx),
            worklogs=merge_worklogs(ctx) if worklogs and "worklogs" in ctx.replica else (),
            links=_incoming_links(block, ctx),
            people=_incoming_people(block, ctx),
            parent=_incoming_parent(block, ctx),
            create_missing=frozenset(
                name for name in NAME_LIST_FIELDS if (block.mapping(name) or _NO).create_missing
            ),
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
    values.update(_incoming_relation_fields(block, ctx))
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


# --- issue 18 -----------------------------------------------------------------------------

_NO = FieldMapping("none")


def _listed(block: Block, ctx: IncomingContext, name: str) -> FieldMapping | None:
    """The block's mapping of ``name`` when the replica carries it and it changed."""
    mapping = block.mapping(name)
    if mapping is None or name not in ctx.replica or not _changed(ctx, name):
        return None
    return mapping


def _incoming_relation_fields(block: Block, ctx: IncomingContext) -> dict[str, Any]:
    """Components, versions, due date, environment and resolution as IssueFields values
    (an empty value clears, except on a first sync where there is nothing to clear)."""
    replica = ctx.replica
    values: dict[str, Any] = {}
    for name in NAME_LIST_FIELDS:
        mapping = _listed(block, ctx, name)
        if mapping:
            names = [x for x in replica.get(name) or [] if isinstance(x, str)]
            values[_ISSUE_LISTS[name]] = tuple(mapping.map_all(names))
    if _listed(block, ctx, "due_date"):
        due = replica.get("due_date")
        values["due_date"] = due if due else (None if ctx.first_sync else "")
    if _listed(block, ctx, "environment"):
        environment = basic.convert_body(
            body_from_json(replica.get("environment")), ctx.body_format
        )
        if environment is None and not ctx.first_sync:
            environment = Body(ctx.body_format, "" if ctx.body_format != "adf" else None)
        values["environment"] = environment
    mapping = _listed(block, ctx, "resolution")
    if mapping:
        resolution = next(iter(_name_of(replica.get("resolution"))), None)
        if resolution is None:
            values["resolution"] = None if ctx.first_sync else ""  # unresolved: clear
        else:
            values["resolution"] = mapping.map(resolution) or None  # mapped to null: as is
    return values


def _incoming_people(block: Block, ctx: IncomingContext) -> tuple[PersonOp, ...]:
    ops = []
    for role in ("assignee", "reporter"):
        if _listed(block, ctx, role):
            person = ctx.replica.get(role)
            ops.append(PersonOp(role, dict(person) if isinstance(person, Mapping) else None))
    return tuple(ops)


def _incoming_parent(block: Block, ctx: IncomingContext) -> ParentOp | None:
    """The replica's parent (``None`` when it went away; nothing on a first sync without)."""
    if not _listed(block, ctx, "parent"):
        return None
    parent = ctx.replica.get("parent")
    key = parent.get("key") if isinstance(parent, Mapping) else None
    if not key and ctx.first_sync:
        return None
    return ParentOp(str(key) if key else None)


def _link_ops(mapping: FieldMapping, links: Any) -> dict[tuple[str, str, str], LinkOp]:
    ops: dict[tuple[str, str, str], LinkOp] = {}
    for link in links if isinstance(links, list) else []:
        if not isinstance(link, Mapping) or link.get("direction") not in ("inward", "outward"):
            continue
        kind = mapping.map(str(link.get("type") or ""))
        key = str(link.get("key") or "")
        if kind and key:
            way: Literal["inward", "outward"] = (
                "inward" if link["direction"] == "inward" else "outward"
            )
            ops[(kind, way, key)] = LinkOp("add", kind, way, key, copied=link.get("copied") is True)
    return ops


def _incoming_links(block: Block, ctx: IncomingContext) -> tuple[LinkOp, ...]:
    """An add for every link the replica carries (type mapped; the worker adds each once,
    and one to an issue not synced yet when it is), a remove for each link the previous
    replica carried and this one does not."""
    mapping = block.mapping("links")
    if mapping is None or "links" not in ctx.replica:
        return ()
    now = _link_ops(mapping, ctx.replica.get("links"))
    before = _link_ops(mapping, (ctx.previous or {}).get("links"))
    removed = [replace(op, action="remove") for k, op in before.items() if k not in now]
    return (*now.values(), *removed)
