"""Drift, one end's part: describe this end's half of twins, and repair it.

What both ends run alike, whether the scan started here or on the other end (the node
routes ``POST /node/v1/connections/{cid}/drift`` and ``…/drift/repair`` call in here):

- :func:`views` reads each issue once through the (paced) tracker and runs the
  connection's outgoing rule, exactly what ingest would send now, without sending;
- :func:`repair` forgets mirrors that are gone from the tracker (so the owner's resend
  creates them again), takes fresh registers for the fields this end is the source of and
  resends the replica with ``force`` (and ``replica.repair``).

The comparison itself is pure (:mod:`chalicelib.ops.drift`); reaching the other end is
:func:`other_views` / :func:`other_repair` (in process for a local connection, a node API
call for a public peer; a private peer cannot be called, see ``docs/operations.md``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import msgspec
from pynamodb.expressions.update import Action

from chalicelib.ops.drift import EndRepair, FieldView, InvalidView, TwinView, parse_batch
from chalicelib.rules import merge
from chalicelib.rules.select import outgoing_rule
from chalicelib.rules.skip import SkipSync
from chalicelib.store.models import ConnectionModel, EntryModel, TwinModel
from chalicelib.store.namespaces import inbox_pk, outbox_pk
from chalicelib.sync.links import end_origin, get_connection, is_local, peer_end
from chalicelib.sync.outgoing import send_replica
from chalicelib.sync.services import SyncDeps
from chalicelib.sync.store import get_twin, holding, twin_by_remote, update_ending_lease
from chalicelib.trackers.base import Issue, NotFound, PermissionDenied

log = logging.getLogger("twinsync.ops.drift")


class PeerCannotBeCalled(Exception):
    """The other end is a private node: only it can start a drift scan."""


# --- what is under way ----------------------------------------------------------------------


class UnderWay(msgspec.Struct, frozen=True):
    """Keys with outbox entries not yet delivered and inbox entries not yet applied."""

    outgoing: frozenset[str]  # local keys
    incoming: frozenset[str]  # remote keys

    def holds(self, twin: TwinModel) -> bool:
        return twin.local_key in self.outgoing or (twin.remote_key or "") in self.incoming


def under_way(connection_id: str) -> UnderWay:
    out = EntryModel.query(outbox_pk(connection_id), filter_condition=EntryModel.state == "pending")
    into = EntryModel.query(
        inbox_pk(connection_id),
        # a child waiting for its parent (issue 18) is under way too
        filter_condition=EntryModel.state.is_in("pending", "held", "waiting"),
    )
    return UnderWay(frozenset(e.issue_key for e in out), frozenset(e.issue_key for e in into))


# --- describing this end ----------------------------------------------------------------------


def _comment_ids(mapping: Mapping[str, Any], live: set[str]) -> tuple[str, ...]:
    """The other end's comment ids whose mirror is still in the tracker."""
    held = []
    for remote_id, known in mapping.items():
        local_id = known.get("local_id") if isinstance(known, Mapping) else known
        if str(local_id) in live:
            held.append(str(remote_id))
    return tuple(sorted(held))


def _attachment_ids(mapping: Mapping[str, Any], live: set[str]) -> tuple[str, ...]:
    """The other end's attachment ids with a mirror here (one left out for its size counts:
    it is not copied on purpose)."""
    return tuple(
        sorted(
            str(remote_id)
            for remote_id, local_id in mapping.items()
            if str(local_id).startswith("skipped:") or str(local_id) in live
        )
    )


def _replica(connection: ConnectionModel, twin: TwinModel, issue: Issue, deps: SyncDeps) -> Any:
    """What ingest would send now (attachment bytes are not read: only ids matter here)."""
    return outgoing_rule(connection)(
        issue,
        connection_id=connection.id,
        integration_user_id=deps.integration_user_id(),
        attachment_sha=dict(twin.sent_attachments or {}),
    )


def view_of(
    connection: ConnectionModel, twin: TwinModel, *, deps: SyncDeps, busy: UnderWay
) -> TwinView | None:
    """This end's half of ``twin`` (None: the rules leave the issue out)."""
    try:
        issue = deps.tracker.get_issue(twin.local_key)
    except (NotFound, PermissionDenied):
        return TwinView(twin.local_key, twin.remote_key, found=False)
    try:
        replica = _replica(connection, twin, issue, deps)
    except SkipSync:
        return None
    state = merge.load(twin.merge_state)
    fields = {}
    for name in merge.FIELDS:
        register = state.get(name)
        fields[name] = FieldView(
            hash=merge.value_hash(name, replica.get(name)),
            value=register.value if register else None,
            stamp=(register.stamp.at, register.stamp.origin) if register else None,
            local=register.local if register else None,
        )
    return TwinView(
        key=twin.local_key,
        twin_key=twin.remote_key,
        fields=fields,
        comments=tuple(str(c["id"]) for c in replica.get("comments", [])),
        attachments=tuple(str(a["id"]) for a in replica.get("attachments", [])),
        have_comments=_comment_ids(twin.comment_map or {}, {c.id for c in issue.comments}),
        have_attachments=_attachment_ids(
            twin.attachment_map or {}, {a.id for a in issue.attachments}
        ),
        sent_version=int(twin.last_sent_version or 0),
        applied_version=int(twin.last_applied_version or 0),
        pending=busy.holds(twin) or twin.status == "queued",
        unread=bool(issue.updated) and issue.updated != twin.seen_updated,
    )


def _twin_for(connection_id: str, key: str, twin_key: str | None) -> TwinModel | None:
    """Our twin of the other end's issue ``key`` (``twin_key``: ours, when it knows it)."""
    if twin_key:
        twin = get_twin(connection_id, twin_key)
        if twin is not None and twin.remote_key in (None, key) and twin.status != "stopped":
            return twin
    twin = twin_by_remote(connection_id, key)
    return twin if twin is not None and twin.status != "stopped" else None


def answer_views(
    connection: ConnectionModel, items: Sequence[TwinView], *, deps: SyncDeps
) -> list[TwinView]:
    """The other end sent its views: ours of the same twins, in the same order."""
    busy = under_way(connection.id)
    answers = []
    for item in items:
        twin = _twin_for(connection.id, item.key, item.twin_key)
        view = view_of(connection, twin, deps=deps, busy=busy) if twin is not None else None
        answers.append(view or TwinView(item.twin_key or "", item.key, found=False))
    return answers


# --- repairing this end -------------------------------------------------------------------------


def lost_mirrors(
    comment_map: Mapping[str, Any], attachment_map: Mapping[str, Any], issue: Issue
) -> tuple[set[str], set[str]]:
    """The map entries (remote ids) whose mirror ``issue`` lacks: comments, attachments.
    A skipped attachment (``skipped:...``) has no mirror to lose."""
    comments = {c.id for c in issue.comments}
    files = {a.id for a in issue.attachments}
    lost_comments = {
        rid
        for rid, known in comment_map.items()
        if str(known.get("local_id") if isinstance(known, Mapping) else known) not in comments
    }
    lost_files = {
        rid
        for rid, lid in attachment_map.items()
        if not str(lid).startswith("skipped:") and str(lid) not in files
    }
    return lost_comments, lost_files


def repair(
    connection: ConnectionModel, twin: TwinModel, action: EndRepair, *, deps: SyncDeps
) -> dict[str, Any]:
    """Forget lost mirrors, so the other end's resend creates them again (a mapped
    comment is otherwise taken as present), then (if asked) take fresh registers and
    resend with force.

    Both under the twin's lease: an apply that maps a comment meanwhile is not written
    over (it holds the twin too). Only entries the twin had before the issue was read can
    be lost: one an apply added since (its mirror made after the read) is kept."""
    before_comments = dict(twin.comment_map or {})
    before_files = dict(twin.attachment_map or {})
    try:
        issue = deps.tracker.get_issue(twin.local_key)
    except (NotFound, PermissionDenied):
        return {"key": twin.local_key, "repaired": False, "error": "issue not found"}
    lost_comments, lost_files = lost_mirrors(before_comments, before_files, issue)
    forgotten = len(lost_comments) + len(lost_files)
    sent = False
    if not forgotten and not action.acts:
        return {"key": twin.local_key, "repaired": True, "forgotten": 0, "resent": sent}
    with holding(twin):  # the maps and registers change: an ingest or apply waits
        if forgotten:
            update = _update if action.acts else update_ending_lease
            update(
                twin,
                [  # the maps as they are now (the hold read them), less what was lost
                    TwinModel.comment_map.set(_less(twin.comment_map, lost_comments)),
                    TwinModel.attachment_map.set(_less(twin.attachment_map, lost_files)),
                ],
            )
        if action.acts:
            if action.fields:
                try:
                    replica = _replica(connection, twin, issue, deps)
                except SkipSync:
                    return {"key": twin.local_key, "repaired": False, "error": "left out by rules"}
                state = merge.force_local(
                    merge.load(twin.merge_state),
                    replica,
                    action.fields,
                    at=merge.stamp_time(None),
                    origin=end_origin(connection, deps.settings.node_id),
                    after=[merge.Stamp(at, origin) for at, origin in action.after.values()],
                )
                twin.update(actions=[TwinModel.merge_state.set(merge.dump(state))])
            sent = send_replica(issue, twin, deps=deps, force=True, repair=action.fields)
    return {"key": twin.local_key, "repaired": True, "forgotten": forgotten, "resent": sent}


def _less(entries: Mapping[str, Any] | None, lost: set[str]) -> dict[str, Any]:
    return {k: v for k, v in (entries or {}).items() if k not in lost}


def _update(twin: TwinModel, actions: list[Action]) -> None:
    twin.update(actions=actions)


def parse_repairs(items: Any) -> list[tuple[str, str | None, EndRepair]]:
    """``{items: [{key, twin_key, fields, after, resend}]}``: ``key`` is the caller's issue,
    ``twin_key`` ours (as in a replica)."""
    if not isinstance(items, list) or not 1 <= len(items) <= 50:
        raise InvalidView("items must be a list of 1 to 50 repairs")
    parsed = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping) or not isinstance(item.get("key"), str):
            raise InvalidView(f"items[{i}].key must be the sender's issue key")
        twin_key = item.get("twin_key")
        if twin_key is not None and not isinstance(twin_key, str):
            raise InvalidView(f"items[{i}].twin_key must be a string or null")
        parsed.append((item["key"], twin_key, EndRepair.from_json(item, f"items[{i}]")))
    return parsed


def answer_repairs(
    connection: ConnectionModel,
    items: Iterable[tuple[str, str | None, EndRepair]],
    *,
    deps: SyncDeps,
) -> list[dict[str, Any]]:
    results = []
    for key, twin_key, action in items:
        twin = _twin_for(connection.id, key, twin_key)
        if twin is None:
            results.append({"key": twin_key, "repaired": False, "error": "no such twin"})
            continue
        results.append(repair(connection, twin, action, deps=deps))
    return results


# --- the other end --------------------------------------------------------------------------


def _path(connection: ConnectionModel, suffix: str) -> str:
    return f"/node/v1/connections/{quote(connection.id, safe='')}/drift{suffix}"


def _local_other(connection: ConnectionModel) -> ConnectionModel:
    other = get_connection(str(connection.local_peer_id))
    if other is None:
        raise PeerCannotBeCalled("the other end of this local connection is gone")
    return other


def can_call_other(connection: ConnectionModel) -> bool:
    return is_local(connection) or bool(connection.remote_public and connection.remote_url)


def other_views(
    connection: ConnectionModel, mine: Sequence[TwinView], *, deps: SyncDeps
) -> list[TwinView]:
    """The other end's views of ``mine`` (same order). Raises the peer client's errors."""
    if is_local(connection):
        return answer_views(_local_other(connection), mine, deps=deps)
    if not can_call_other(connection):
        raise PeerCannotBeCalled(connection.id)
    answer = deps.peer.call(
        peer_end(connection), "POST", _path(connection, ""), {"items": [v.to_json() for v in mine]}
    )
    items = answer.get("items") if isinstance(answer, dict) else None
    views = parse_batch(items)
    if len(views) != len(mine):
        raise InvalidView("the other end answered a different number of views")
    return views


def other_repair(
    connection: ConnectionModel,
    items: Sequence[tuple[str, str | None, EndRepair]],
    *,
    deps: SyncDeps,
) -> list[dict[str, Any]]:
    """Ask the other end to repair its half; ``items`` are (our key, its key, action)."""
    if is_local(connection):
        return answer_repairs(_local_other(connection), items, deps=deps)
    if not can_call_other(connection):
        raise PeerCannotBeCalled(connection.id)
    body = {"items": [{"key": k, "twin_key": t, **a.to_json()} for k, t, a in items]}
    answer = deps.peer.call(peer_end(connection), "POST", _path(connection, "/repair"), body)
    results = answer.get("items") if isinstance(answer, dict) else None
    return list(results) if isinstance(results, list) else []
