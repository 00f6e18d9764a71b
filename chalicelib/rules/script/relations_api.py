"""Issue 18, Script mode: issue links and worklogs (``merge_worklogs``), as the scripts
see and set them.

Pure. :mod:`chalicelib.rules.script.rules` calls :func:`view` (the outgoing ``issue``),
:func:`normalise` (the outgoing script's replica) and :func:`issue_fields` /
:func:`plan_parts` (what the incoming script set on ``issue``).

- ``issue.links``: ``[{type, direction, key}]`` (this side's keys). An incoming script's
  ``issue.links = replica.links`` (types may be mapped) becomes an "add" operation for
  every link of the replica (the worker maps the other issue through the twins, skips a
  link already here or to an issue not synced yet) and a "remove" operation for every link
  of the last replica applied that the replica no longer has.
- ``issue.worklogs``: ``[{id, started, seconds, comment, author: {id, name}, updated}]``
  without the copies this node wrote. ``issue.worklogs = merge_worklogs()`` (or the
  shorthand ``issue.worklogs = replica.worklogs``) creates, updates and deletes copies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.rules import worklogs as worklog_rules
from chalicelib.rules.basic import convert_body
from chalicelib.rules.plan import IncomingContext, LinkOp, WorklogOp
from chalicelib.rules.replica import InvalidReplica, body_from_json, body_json
from chalicelib.rules.script.errors import ScriptError
from chalicelib.rules.script.op_lists import INCOMING, merged_ops, refused
from chalicelib.trackers.base import Issue

DIRECTIONS = ("inward", "outward")


def view(issue: Issue, *, integration_user_id: str | None) -> dict[str, Any]:
    """Keys added to the outgoing script's ``issue``."""
    return {
        "links": [
            {"type": link.type, "direction": link.direction, "key": link.issue_key}
            for link in issue.links
        ],
        "worklogs": [
            {
                "id": w.id,
                "started": w.started,
                "seconds": w.seconds,
                "comment": body_json(w.comment),
                "author": {"id": w.author.id, "name": w.author.name} if w.author else None,
                "updated": w.updated,
            }
            for w in issue.worklogs
            if w.author is None or w.author.id != integration_user_id
        ],
    }


# --- outgoing ---------------------------------------------------------------------------


def _link(item: Any, what: str, script: str) -> dict[str, Any]:
    if isinstance(item, Mapping):
        kind, direction, key = item.get("type"), item.get("direction"), item.get("key")
        if isinstance(kind, Mapping):
            kind = kind.get("name")
        if isinstance(key, Mapping):
            key = key.get("key")
        if isinstance(direction, str):
            direction = direction.lower()
        named = isinstance(kind, str) and bool(kind) and isinstance(key, str) and bool(key)
        if named and direction in DIRECTIONS:
            link = {"type": str(kind), "direction": direction, "key": str(key)}
            if item.get("copied") is True:  # the sender's own copy of one of ours
                link["copied"] = True
            return link
    raise ScriptError(
        f"{what} must be {{type, direction: 'inward' or 'outward', key}}",
        kind="result",
        script=script,
    )


def _links(value: Any, what: str, script: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise ScriptError(f"{what} must be a list of links", kind="result", script=script)
    out: list[dict[str, Any]] = []
    for n, item in enumerate(value):
        link = _link(item, f"{what}[{n}]", script)
        if link not in out:
            out.append(link)
    return out


def _worklog(item: Any, what: str, script: str) -> dict[str, Any]:
    if not isinstance(item, Mapping):
        raise ScriptError(f"{what} must be a worklog object", kind="result", script=script)
    wid, started, seconds = item.get("id"), item.get("started"), item.get("seconds")
    if isinstance(wid, int) and not isinstance(wid, bool):
        wid = str(wid)
    if not isinstance(wid, str) or not wid:
        raise ScriptError(f"{what}.id must be text", kind="result", script=script)
    if not isinstance(started, str) or not started:
        raise ScriptError(f"{what}.started must be a time (text)", kind="result", script=script)
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
        raise ScriptError(
            f"{what}.seconds must be a whole number above 0", kind="result", script=script
        )
    comment = item.get("comment")
    if isinstance(comment, str):
        comment = {"format": "text", "value": comment}
    try:
        body_from_json(comment)
    except InvalidReplica:
        raise ScriptError(
            f"{what}.comment must be text or {{format, value}}", kind="result", script=script
        ) from None
    author = item.get("author")
    if isinstance(author, str):
        author = {"id": author, "name": author}
    if author is not None and not (
        isinstance(author, Mapping) and isinstance(author.get("name") or "", str)
    ):
        raise ScriptError(f"{what}.author must be {{id, name}}", kind="result", script=script)
    return {
        **item,
        "id": wid,
        "started": started,
        "seconds": seconds,
        "comment": comment,
        "author": dict(author) if author is not None else None,
    }


def normalise(replica: dict[str, Any], *, script: str) -> None:
    """The outgoing script's values in replica form (a name for ``{name}``, …), in place."""
    if "links" in replica:
        if replica["links"] is None:
            del replica["links"]
        else:
            replica["links"] = _links(replica["links"], "replica.links", script)
    if "worklogs" in replica:
        value = replica["worklogs"]
        if value is None:
            del replica["worklogs"]
        elif not isinstance(value, list):
            raise ScriptError("replica.worklogs must be a list", kind="result", script=script)
        else:
            replica["worklogs"] = [
                _worklog(w, f"replica.worklogs[{n}]", script) for n, w in enumerate(value)
            ]


# --- incoming ---------------------------------------------------------------------------


_refuse = refused


def issue_fields(result: Mapping[str, Any], ctx: IncomingContext) -> dict[str, Any]:
    """:class:`~chalicelib.trackers.base.IssueFields` keyword arguments set by the script."""
    return {}


def _worklog_ops(value: Any, ctx: IncomingContext) -> tuple[WorklogOp, ...]:
    ops = []
    # only this twin's copies: the worker resolves the local id from the twin's map
    for item, action, remote_id, local_id in merged_ops(
        value, noun="worklog", known=ctx.worklog_map, synced_only=False
    ):
        if action == "delete":
            ops.append(WorklogOp("delete", remote_id, local_id=local_id))
            continue
        started, seconds = item.get("started"), item.get("seconds")
        if not isinstance(started, str) or not started:
            raise _refuse(f"worklog {remote_id}: started must be a time (text)")
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
            raise _refuse(f"worklog {remote_id}: seconds must be a whole number above 0")
        comment = item.get("comment")
        if isinstance(comment, str):
            comment = {"format": "text", "value": comment}
        try:
            body = convert_body(body_from_json(comment), ctx.body_format)
        except InvalidReplica:
            raise _refuse(f"worklog {remote_id}: a comment must be {{format, value}}") from None
        digest = item.get("hash")
        ops.append(
            WorklogOp(
                action,
                remote_id,
                local_id=local_id,
                started=started,
                seconds=seconds,
                comment=body,
                hash=digest if isinstance(digest, str) else None,
            )
        )
    return tuple(ops)


def _raw_links(value: Any) -> list[dict[str, Any]]:
    """A replica's links (already checked on arrival); odd items left out."""
    out = []
    for item in value if isinstance(value, list) else ():
        try:
            out.append(_link(item, "link", INCOMING))
        except ScriptError:
            continue
    return out


def link_ops(value: Any, ctx: IncomingContext) -> tuple[LinkOp, ...]:
    """``value`` (the links to have, types possibly mapped; ``None``: links not synced) as
    operations: an "add" for each, a "remove" for each link of ``ctx.previous`` that
    ``ctx.replica`` no longer has (its type mapped as ``value`` maps the links it kept).
    Visual mode's ``links`` field compiles to the same operations."""
    if value is None:
        return ()
    try:
        now = _links(value, "issue.links", INCOMING)
    except ScriptError as exc:
        raise _refuse(exc.message) from None
    ops = [
        LinkOp("add", x["type"], x["direction"], x["key"], copied=bool(x.get("copied")))
        for x in now
    ]
    # what the other side removed since the last replica applied, its type mapped as the
    # script mapped the links it kept (matched by other issue and direction)
    current = _raw_links(ctx.replica.get("links"))
    previous = _raw_links((ctx.previous or {}).get("links"))
    mapped: dict[str, str] = {}
    for raw in current:
        for x in now:
            if (x["key"], x["direction"]) == (raw["key"], raw["direction"]):
                mapped.setdefault(raw["type"], x["type"])
    added = {(op.type, op.direction, op.remote_key) for op in ops}
    for raw in previous:
        if raw in current:
            continue
        kind = mapped.get(raw["type"], raw["type"])
        if (kind, raw["direction"], raw["key"]) in added:
            continue
        op = LinkOp("remove", kind, raw["direction"], raw["key"])
        if op not in ops:
            ops.append(op)
    return tuple(ops)


def plan_parts(result: Mapping[str, Any], ctx: IncomingContext) -> dict[str, Any]:
    """:class:`~chalicelib.rules.plan.Plan` keyword arguments (``worklogs``, ``links``)
    set by the script."""
    parts: dict[str, Any] = {}
    worklogs = _worklog_ops(result.get("worklogs"), ctx)
    if worklogs:
        parts["worklogs"] = worklogs
    links = link_ops(result.get("links"), ctx)
    if links:
        parts["links"] = links
    return parts


# --- inside the sandbox -----------------------------------------------------------------


def _op_json(op: WorklogOp) -> dict[str, Any]:
    return {
        "action": op.action,
        "remote_id": op.remote_id,
        "local_id": op.local_id,
        "started": op.started,
        "seconds": op.seconds,
        "comment": body_json(op.comment),
        "hash": op.hash,
    }


def helpers(ctx: IncomingContext) -> dict[str, Any]:
    """Functions offered to the incoming script (run inside the sandbox process)."""
    from chalicelib.rules.script.guards import to_script

    def merge_worklogs(worklogs: Any = None) -> list[Any]:
        """Operations that make this issue's copies of the other side's worklogs follow
        ``worklogs`` (the replica's by default): create, update, delete."""
        chosen = None if worklogs is None else list(worklogs)
        for item in chosen or ():
            if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
                raise TypeError("merge_worklogs() takes replica worklogs (each with an id)")
            if not isinstance(item.get("started"), str) or not isinstance(item.get("seconds"), int):
                raise TypeError("merge_worklogs() takes replica worklogs (started, seconds)")
        return [to_script(_op_json(op)) for op in worklog_rules.merge_worklogs(ctx, chosen)]

    return {"merge_worklogs": merge_worklogs}


def finish(issue: dict[str, Any], ctx: IncomingContext) -> None:
    """After the incoming script ran (inside the sandbox process): shorthands such as
    ``issue.worklogs = replica.worklogs`` made into operations, in place."""
    value = issue.get("worklogs")
    if not isinstance(value, list):
        return
    merge = helpers(ctx)["merge_worklogs"]
    if value and all(isinstance(v, Mapping) and "action" not in v for v in value):
        issue["worklogs"] = merge(value)
    elif not value and not ctx.replica.get("worklogs"):
        # ``issue.worklogs = replica.worklogs`` when the other side has none left
        issue["worklogs"] = merge([])
