"""Issue 18: writing the planned issue links and worklogs of a twin (links mapped through
the twins; worklogs mapped by remote id, like comments).

Links. A :class:`~chalicelib.rules.plan.LinkOp` names the other issue by the other side's
key; it is mapped to ours through the twins (live ones only). A link to an issue not synced
here yet is skipped without a word: both issues' replicas carry the link, so the apply of
the other issue's first replica adds it. "add" looks at the issue's links first (type,
direction, other issue), so a link is never doubled, whichever replica brings it and
however often; "remove" deletes the matching link when there is one. A link type this
tracker lacks is a problem shown on the twin, never a failed sync.

Jira's ``POST issueLink`` calls the link's source ``inwardIssue``
(:meth:`~chalicelib.trackers.base.TrackerRelations.add_issue_link`): an "outward" link of
our issue makes our issue the source, an "inward" one the other issue.

Worklogs. Copies are mapped by the other side's worklog id (``TwinModel.worklog_map``:
remote id -> ``{local_id, hash}``), the map saved after each write; the twin's map is the
authority (an operation never reaches a worklog that is not this twin's copy). A retry
first maps copies an earlier attempt wrote without recording them (ours, same start and
time spent) instead of writing them twice; a copy deleted here meanwhile is written again
when its worklog changes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.rules.plan import LinkOp, Plan, WorklogOp
from chalicelib.store.keys import condition_failed
from chalicelib.store.models import ConnectionModel, TwinModel, set_or_remove
from chalicelib.sync.messages import Replica
from chalicelib.sync.services import SyncDeps
from chalicelib.sync.store import BUSY_RETRY_S, TwinBusy, get_twin, twin_by_remote
from chalicelib.trackers.base import IssueLink, NotFound, utc_time


def apply(
    connection: ConnectionModel,
    twin: TwinModel,
    replica: Replica,
    plan: Plan,
    *,
    deps: SyncDeps,
    heal: bool = False,
) -> list[str]:
    """Write the plan's link and worklog operations; problems to show on the twin."""
    problems = _apply_links(connection, twin, plan.links, deps=deps)
    problems += _apply_worklogs(twin, plan.worklogs, deps=deps, heal=heal)
    return problems


# --- links ------------------------------------------------------------------------------


def _other_issue(connection: ConnectionModel, twin: TwinModel, op: LinkOp) -> str | None:
    """Our key of the link's other issue, when that issue is synced here (else ``None``)."""
    other = twin_by_remote(connection.id, op.remote_key)
    if other is None or other.status == "stopped" or other.local_key == twin.local_key:
        return None
    return str(other.local_key)


def _matches(link: IssueLink, kind: str, direction: str, other: str) -> bool:
    return (
        link.type.lower() == kind.lower()
        and link.direction == direction
        and link.issue_key == other
    )


def _to_remove(
    present: list[IssueLink], name: str, op: LinkOp, other: str, claimed: set[tuple[str, str, str]]
) -> list[IssueLink]:
    """The links a "remove" means: those of its type; else (a type the incoming script
    mapped, the mapping unseen now that the link is gone) the one link to that issue in
    that direction that no "add" of this plan claims."""
    exact = [x for x in present if _matches(x, name, op.direction, other)]
    if exact:
        return exact
    rest = [
        x
        for x in present
        if x.issue_key == other
        and x.direction == op.direction
        and (x.type.lower(), x.direction, other) not in claimed
    ]
    return rest if len(rest) == 1 else []


def _apply_links(
    connection: ConnectionModel, twin: TwinModel, ops: tuple[LinkOp, ...], *, deps: SyncDeps
) -> list[str]:
    resolved = [(op, other) for op in ops if (other := _other_issue(connection, twin, op))]
    if not resolved:
        return []
    tracker: Any = deps.tracker
    if not hasattr(tracker, "add_issue_link"):
        return [f"This tracker cannot link issues; links of {twin.local_key} were not synced."]
    present = list(tracker.get_issue(twin.local_key).links)
    problems: list[str] = []
    claimed: set[tuple[str, str, str]] = {
        (op.type.lower(), op.direction, other) for op, other in resolved if op.action == "add"
    }
    types: dict[str, str] | None = None  # read only when a link is to be added
    copies = LinkCopies(connection.id)
    for op, other in resolved:
        if op.action == "remove":
            for link in _to_remove(present, op.type, op, other, claimed):
                if link.id:
                    with contextlib.suppress(NotFound):  # already gone: fine
                        tracker.delete_issue_link(link.id)
                present.remove(link)
                copies.forget(twin, link.type, link.direction, other)
            continue
        if any(_matches(x, op.type, op.direction, other) for x in present):
            continue  # already linked (a person, or the other issue's replica)
        if op.copied:
            continue  # the other side's copy of a link we had: we removed it since
        if types is None:
            types = {t.name.lower(): t.name for t in tracker.list_link_types()}
        name = types.get(op.type.lower())
        if name is None:
            problems.append(
                f"Link type '{op.type}' does not exist in this tracker: {twin.local_key} was "
                f"not linked to {other} (map the type in the incoming script). "
                "Everything else synced."
            )
            continue
        # POST issueLink: the link's source is called ``inwardIssue``
        source, destination = (
            (twin.local_key, other) if op.direction == "outward" else (other, twin.local_key)
        )
        # noted first: a read of either issue that shows the link must find it ours, and
        # the other issue is not held by this apply (its webhook may be read meanwhile)
        copies.remember(twin, name, op.direction, other)
        tracker.add_issue_link(name, source, destination)
        deps.hook("after_link", key=twin.local_key, other=other)
        present.append(IssueLink("", name, op.direction, other))
    return problems


class LinkCopies:
    """The links this node added as copies, kept on both issues' twins
    (``TwinModel.links_copied``): the outgoing replica marks them ``copied``
    (:func:`mark_copied`), so the other side never takes our copy of its link, read back
    after it removed the link, for a new link to add.

    A copy is noted before the link is written, as *pending*: the other issue is not held
    by the apply that writes the link, and its webhook may be read the moment the link
    exists. The first read that shows the link anchors the note at that read's
    ``updated``; from then on a later read (the tracker's own clock: no clock of ours is
    compared with it) that no longer shows the link forgets it (a person removed our copy:
    made again, the link is theirs). A read that does not show a pending copy is older
    than the link, and forgets nothing. Notes are written conditioned on the notes as read
    (:func:`_write_notes`): an apply notes a copy on the other issue's twin without holding
    it."""

    def __init__(self, connection_id: str) -> None:
        self.connection_id = connection_id

    def remember(self, twin: TwinModel, kind: str, direction: str, other: str) -> None:
        self._note(twin, kind, direction, other, keep=True)

    def forget(self, twin: TwinModel, kind: str, direction: str, other: str) -> None:
        self._note(twin, kind, direction, other, keep=False)

    def _note(self, twin: TwinModel, kind: str, direction: str, other: str, *, keep: bool) -> None:
        _set_copy(twin, (kind.lower(), direction, other), keep=keep)
        mirror = get_twin(self.connection_id, other)  # the link shows on the other issue too
        if mirror is not None:
            back = "inward" if direction == "outward" else "outward"
            _set_copy(mirror, (kind.lower(), back, twin.local_key), keep=keep)


Note = list[Any]  # [type (lower case), direction, other key, anchor]: anchor None = pending
NOTE_TRIES = 5


def _link_of(note: Any) -> tuple[str, str, str] | None:
    if isinstance(note, list) and len(note) in (3, 4):
        return (str(note[0]), str(note[1]), str(note[2]))
    return None


def _notes(twin: TwinModel) -> list[Note]:
    return [list(x) for x in twin.links_copied or [] if _link_of(x) is not None]


def _set_copy(twin: TwinModel, link: tuple[str, str, str], *, keep: bool) -> None:
    def change(notes: list[Note]) -> list[Note]:
        others = [x for x in notes if _link_of(x) != link]
        if not keep:
            return others
        if len(others) < len(notes):
            return notes  # noted already (pending or anchored): as it is
        return [*notes, [*link, None]]

    _write_notes(twin, change)


def _write_notes(twin: TwinModel, change: Callable[[list[Note]], list[Note]]) -> None:
    """``twin.links_copied = change(notes)``, conditioned on the notes being as read; read
    again and changed again when another handler wrote them meanwhile."""
    for _ in range(NOTE_TRIES):
        stored = twin.links_copied
        after = change(_notes(twin)) or None
        if after == (stored or None):
            return
        condition = (
            TwinModel.links_copied.does_not_exist()
            if stored is None
            else TwinModel.links_copied == stored
        )
        try:
            twin.update(actions=[set_or_remove(TwinModel.links_copied, after)], condition=condition)
            return
        except UpdateError as exc:
            if not condition_failed(exc):
                raise
        fresh = get_twin(twin.connection_id, twin.local_key)
        if fresh is None:
            return  # the twin is gone: nothing to note
        twin.links_copied = fresh.links_copied
    raise TwinBusy(f"the link notes of {twin.local_key} keep changing", delay=BUSY_RETRY_S)


def mark_copied(twin: TwinModel, replica: dict[str, Any]) -> None:
    """Mark the outgoing replica's links that this node added as copies (``copied``), and
    forget copies a newer read no longer shows (see :class:`LinkCopies`)."""
    if twin.links_copied:  # (every send comes here; almost no twin has a copied link)
        _write_notes(twin, lambda notes: _marked(notes, replica))


def copies_unchanged(twin: TwinModel, replica: dict[str, Any]) -> bool:
    """Mark the replica's copied links (as :func:`mark_copied`, without writing); True when
    the twin's notes stay as they are (issue 19: a send that writes nothing)."""
    links = replica.get("links")
    if not isinstance(links, list) or not twin.links_copied:
        return True
    notes = _notes(twin)
    return _marked(notes, replica) == notes


def _marked(notes: list[Note], replica: dict[str, Any]) -> list[Note]:
    """The notes after this read: each link shown is marked ``copied`` in the replica (and
    a pending note anchored at the read); one not shown is kept while pending or when the
    read is not newer than its anchor. A note from before anchors (three items) is kept
    only while shown, as it always was."""
    shown = {
        (str(x.get("type", "")).lower(), x.get("direction"), x.get("key")): x
        for x in replica.get("links") or ()
        if isinstance(x, dict)
    }
    read = utc_time(str(replica.get("updated") or "")) or ""
    kept: list[Note] = []
    for note in notes:
        link = _link_of(note)
        if link is None:
            continue
        anchor = note[3] if len(note) == 4 else ""
        if link in shown:
            shown[link]["copied"] = True
            kept.append([*link, anchor or read or None] if len(note) == 4 else note)
        elif anchor is None or (anchor and read and read <= (utc_time(str(anchor)) or "")):
            kept.append(note)
    return kept


# --- worklogs ---------------------------------------------------------------------------


def _save_map(twin: TwinModel, mapping: dict[str, Any]) -> None:
    twin.update(actions=[TwinModel.worklog_map.set(mapping)])


def _moment(started: str | None) -> str:
    return (utc_time(started or "") or started or "")[:19]


def _unmapped_own_worklogs(
    twin: TwinModel, mapping: dict[str, Any], *, deps: SyncDeps
) -> dict[tuple[str, int], str]:
    """On a retry: worklogs we wrote whose creation was not recorded (a crash, an answer
    lost), by start and time spent, so the retry maps them instead of writing them twice."""
    known = {str(v.get("local_id")) for v in mapping.values() if isinstance(v, dict)}
    ours = deps.integration_user_id()
    found: dict[tuple[str, int], str] = {}
    for worklog in deps.tracker.get_issue(twin.local_key).worklogs:
        if worklog.author is not None and worklog.author.id == ours and worklog.id not in known:
            found.setdefault((_moment(worklog.started), int(worklog.seconds)), worklog.id)
    return found


def _apply_worklogs(
    twin: TwinModel, ops: tuple[WorklogOp, ...], *, deps: SyncDeps, heal: bool = False
) -> list[str]:
    if not ops:
        return []
    tracker: Any = deps.tracker
    mapping: dict[str, Any] = dict(twin.worklog_map or {})
    orphans = (
        _unmapped_own_worklogs(twin, mapping, deps=deps)
        if heal and any(op.action != "delete" for op in ops)
        else {}
    )
    for op in ops:
        known = mapping.get(op.remote_id)
        local_id = known.get("local_id") if isinstance(known, dict) else None
        if op.action == "delete":
            if known is None:
                continue  # never copied here
            if local_id:
                with contextlib.suppress(NotFound):  # already gone here: fine
                    tracker.delete_worklog(twin.local_key, local_id)
            mapping.pop(op.remote_id, None)
            _save_map(twin, mapping)
            continue
        if op.started is None or op.seconds is None:
            continue
        if isinstance(known, dict) and op.hash and known.get("hash") == op.hash:
            continue  # this copy is up to date (a replica again, or a retry)
        if local_id is None:
            local_id = orphans.pop((_moment(op.started), int(op.seconds)), None)
            if local_id is None:
                local_id = tracker.add_worklog(
                    twin.local_key, started=op.started, seconds=op.seconds, comment=op.comment
                ).id
                deps.hook("after_worklog", key=twin.local_key, worklog_id=local_id)
        else:
            try:
                tracker.update_worklog(
                    twin.local_key,
                    local_id,
                    started=op.started,
                    seconds=op.seconds,
                    comment=op.comment,
                )
            except NotFound:  # deleted here meanwhile: bring it back
                local_id = tracker.add_worklog(
                    twin.local_key, started=op.started, seconds=op.seconds, comment=op.comment
                ).id
        mapping[op.remote_id] = {"local_id": local_id, "hash": op.hash or ""}
        _save_map(twin, mapping)
    return []
