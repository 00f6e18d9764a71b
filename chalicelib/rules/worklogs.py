"""Issue 18: the other side's worklogs copied here, as operations (like comments).

Pure. A worklog is mapped by the other side's id (``IncomingContext.worklog_map``: remote
id -> ``{local_id, hash}``): a new one is created, a changed one (started, time spent,
comment or author) updated, one the other side deleted is deleted. Each copy's comment
is led by an attribution line, "Logged by NAME on SHORTNAME", in this tracker's format.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chalicelib.rules.basic import convert_body
from chalicelib.rules.plan import IncomingContext, WorklogOp
from chalicelib.rules.replica import body_from_json, body_hash
from chalicelib.trackers.base import Body, BodyFormat


def attribution(worklog: Mapping[str, Any], remote_short_name: str) -> str:
    author = worklog.get("author")
    name = author.get("name") if isinstance(author, Mapping) else None
    return f"Logged by {name or 'someone'} on {remote_short_name}"


def attributed_comment(worklog: Mapping[str, Any], remote_short_name: str, to: BodyFormat) -> Body:
    """The worklog's comment in the local format, led by the attribution line."""
    line = attribution(worklog, remote_short_name)
    body = convert_body(body_from_json(worklog.get("comment")), to)
    if to == "adf":
        doc = (
            body.value
            if body is not None and isinstance(body.value, dict)
            else {"type": "doc", "content": []}
        )
        lead = {
            "type": "paragraph",
            "content": [{"type": "text", "text": line, "marks": [{"type": "em"}]}],
        }
        return Body(
            "adf", {**doc, "version": 1, "type": "doc", "content": [lead, *doc.get("content", [])]}
        )
    text = body.value if body is not None and isinstance(body.value, str) else ""
    if to == "wiki":
        return Body("wiki", f"_{line}_" + (f"\n\n{text}" if text else ""))
    return Body("text", line + (f"\n\n{text}" if text else ""))


def worklog_hash(worklog: Mapping[str, Any]) -> str:
    """What a copy shows of a worklog: an edit of any of it is an update."""
    author = worklog.get("author")
    return body_hash(
        {
            "started": worklog.get("started"),
            "seconds": worklog.get("seconds"),
            "comment": worklog.get("comment"),
            "author": author.get("name") if isinstance(author, Mapping) else None,
        }
    )


def merge_worklogs(
    ctx: IncomingContext, chosen: Iterable[Mapping[str, Any]] | None = None
) -> tuple[WorklogOp, ...]:
    """Operations making this issue's copies follow ``chosen`` (the replica's worklogs by
    default): create new ones, update changed ones, delete those no longer there.

    Deletion candidates are the mapped worklogs and those of the last replica applied
    (``previous``): a delete whose ``local_id`` is unknown here is resolved by the worker
    from the twin's map (and skipped when it never was copied).
    """
    items = list(ctx.replica.get("worklogs") or [] if chosen is None else chosen)
    ops: list[WorklogOp] = []
    seen: set[str] = set()
    for worklog in items:
        remote_id = str(worklog["id"])
        seen.add(remote_id)
        digest = worklog_hash(worklog)
        known = ctx.worklog_map.get(remote_id)
        if known is not None and known.get("hash") == digest:
            continue
        ops.append(
            WorklogOp(
                "update" if known is not None else "create",
                remote_id,
                local_id=known.get("local_id") if known is not None else None,
                started=str(worklog["started"]),
                seconds=int(worklog["seconds"]),
                comment=attributed_comment(worklog, ctx.remote_short_name, ctx.body_format),
                hash=digest,
            )
        )
    gone = [k for k in ctx.worklog_map if k not in seen]
    previous = (ctx.previous or {}).get("worklogs") or []
    for worklog in previous if isinstance(previous, list) else ():
        remote_id = str(worklog.get("id")) if isinstance(worklog, Mapping) else ""
        if remote_id and remote_id not in seen and remote_id not in gone:
            gone.append(remote_id)
    for remote_id in gone:
        known = ctx.worklog_map.get(remote_id)
        ops.append(
            WorklogOp("delete", remote_id, local_id=known.get("local_id") if known else None)
        )
    return tuple(ops)
