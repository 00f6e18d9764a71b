"""The sandbox state issue 18 adds beside issues: issue links and their types, hierarchy,
worklogs, project components and versions.

Kept apart from ``store.py`` so the store's own code stays as it was: :class:`Relations` is
a mixin of :class:`~devstack.sandbox_jira.store.Store` and uses its lock, ids, clock and
change reporting. Links follow Jira's model: a link goes from a *source* issue to a
*destination* issue; ``POST issueLink`` names the source ``inwardIssue`` and the
destination ``outwardIssue`` (Atlassian's example: HSP-1 "duplicates" MKY-1), the source
lists the link with ``outwardIssue`` (the destination) and the destination with
``inwardIssue`` (the source). Creating or deleting a link writes a ``Link`` changelog item
on both issues, as Jira does.

Hierarchy: a sub-task type (``Sub-task``, or Cloud's newer ``Subtask``) is level -1, an
``Epic`` level 1 on Cloud, every other type level 0; on Cloud a ``parent`` must be exactly
one level up (a sub-task under a standard issue, a standard issue under an epic). Server
has no epic level: a sub-task's ``parent`` is a standard issue (epics included), and an
epic's children name it in Jira Software's ``Epic Link`` custom field instead; a Server
site gets ``Epic Link`` and ``Epic Name`` when a project with the ``Epic`` type is created.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .store import IssueRec, UserRec

SUBTASK_TYPES = ("Sub-task", "Subtask")
EPIC = "Epic"
EPIC_LINK, EPIC_NAME = "Epic Link", "Epic Name"
# Jira Software's custom fields on Server: name -> (sandbox type, preferred id)
EPIC_FIELDS = {
    EPIC_LINK: ("epic_link", "customfield_10100"),
    EPIC_NAME: ("epic_name", "customfield_10101"),
}
# id, name, inward, outward: Jira's default issue link types
DEFAULT_LINK_TYPES = (
    ("10000", "Blocks", "is blocked by", "blocks"),
    ("10001", "Cloners", "is cloned by", "clones"),
    ("10002", "Duplicate", "is duplicated by", "duplicates"),
    ("10003", "Relates", "relates to", "relates to"),
)


@dataclass
class LinkTypeRec:
    id: str
    name: str
    inward: str
    outward: str


@dataclass
class ComponentRec:
    id: str
    project_id: str
    name: str
    description: str = ""


@dataclass
class VersionRec:
    id: str
    project_id: str
    name: str
    description: str = ""
    released: bool = False
    archived: bool = False
    release_date: str | None = None  # YYYY-MM-DD


# issue fields holding component / version ids -> (kind, changelog label)
REF_FIELDS = {
    "components": ("component", "Component"),
    "fixVersions": ("version", "Fix Version"),
    "versions": ("version", "Version"),
}


@dataclass
class WorklogRec:
    id: str
    issue_id: str
    author: str
    update_author: str
    started: int  # epoch ms
    seconds: int
    created: int
    updated: int
    comment: Any = None  # ADF on Cloud, wiki markup on Server
    visibility: dict[str, Any] | None = None


@dataclass
class IssueLinkRec:
    id: str
    type_id: str
    source: str  # issue id (POST's inwardIssue)
    destination: str  # issue id (POST's outwardIssue)
    created: int


class Relations:
    """Links between issues (a mixin of ``Store``: its lock, ids, clock, ``_emit``)."""

    # provided by Store
    lock: Any
    clock: Any
    issues: dict[str, IssueRec]
    flavour: str

    def clear_relations(self) -> None:
        self.link_types: dict[str, LinkTypeRec] = {
            tid: LinkTypeRec(tid, name, inward, outward)
            for tid, name, inward, outward in DEFAULT_LINK_TYPES
        }
        self.links: dict[str, IssueLinkRec] = {}
        self.worklogs: dict[str, WorklogRec] = {}
        self.components: dict[str, ComponentRec] = {}
        self.versions: dict[str, VersionRec] = {}

    # --- link types ---------------------------------------------------------------------

    def find_link_type(self, ref: Any) -> LinkTypeRec | None:
        """A link type by ``{"id": ...}`` or ``{"name": ...}`` (names compared as Jira does,
        ignoring case)."""
        if not isinstance(ref, dict):
            return None
        if ref.get("id") is not None:
            return self.link_types.get(str(ref["id"]))
        name = str(ref.get("name") or "").lower()
        return next((t for t in self.link_types.values() if t.name.lower() == name), None)

    # --- links --------------------------------------------------------------------------

    def issue_links(self, issue: IssueRec) -> list[IssueLinkRec]:
        return [link for link in self.links.values() if issue.id in (link.source, link.destination)]

    def add_link(
        self, actor: UserRec, link_type: LinkTypeRec, source: IssueRec, destination: IssueRec
    ) -> IssueLinkRec:
        """Link ``source`` to ``destination``; the same link again is no new link (Jira
        answers 201 and changes nothing)."""
        with self.lock:
            for link in self.links.values():
                if (link.type_id, link.source, link.destination) == (
                    link_type.id,
                    source.id,
                    destination.id,
                ):
                    return link
            now = self.clock()
            link = IssueLinkRec(
                self.next_id("issuelink"), link_type.id, source.id, destination.id, now
            )
            self.links[link.id] = link
            self._link_history(actor, link, now, created=True)
            return link

    def delete_link(self, actor: UserRec, link: IssueLinkRec) -> None:
        with self.lock:
            now = self.clock()
            self.links.pop(link.id, None)
            self._link_history(actor, link, now, created=False)

    def forget_relations(self, issue: IssueRec) -> None:
        """Drop what hangs off a deleted issue: its links and worklogs (Jira deletes them
        with it); its children (an epic's on Cloud) are left without a parent."""
        for link in self.issue_links(issue):
            self.links.pop(link.id, None)
        for worklog in self.issue_worklogs(issue):
            self.worklogs.pop(worklog.id, None)
        for child in self.children(issue, subtasks_only=False):
            child.parent = None
            self._reindex(child)

    def _link_history(self, actor: UserRec, link: IssueLinkRec, now: int, *, created: bool) -> None:
        from .store import Change, HistoryRec

        link_type = self.link_types[link.type_id]
        source, destination = self.issues[link.source], self.issues[link.destination]
        event = "issuelink_created" if created else "issuelink_deleted"
        changes = [Change(event, None, actor, source, now, link=link)]
        for issue, other, phrase in (
            (source, destination, link_type.outward),
            (destination, source, link_type.inward),
        ):
            text = f"This issue {phrase} {other.key}"
            item: dict[str, Any] = {
                "field": "Link",
                "fieldtype": "jira",
                "from": None if created else other.key,
                "fromString": None if created else text,
                "to": other.key if created else None,
                "toString": text if created else None,
            }
            history = HistoryRec(self.next_id("changelog"), actor.id, now, [item])
            issue.history.append(history)
            issue.updated = now
            changes.append(
                Change("jira:issue_updated", "issue_updated", actor, issue, now, history=history)
            )
        self._emit(*changes)

    # --- components and versions ------------------------------------------------------

    def project_components(self, project_id: str) -> list[ComponentRec]:
        return [c for c in self.components.values() if c.project_id == project_id]

    def project_versions(self, project_id: str) -> list[VersionRec]:
        return [v for v in self.versions.values() if v.project_id == project_id]

    def add_component(self, project_id: str, name: str, description: str = "") -> ComponentRec:
        with self.lock:
            rec = ComponentRec(self.next_id("component"), project_id, name, description)
            self.components[rec.id] = rec
            self.on_change()
            return rec

    def add_version(self, project_id: str, **values: Any) -> VersionRec:
        with self.lock:
            rec = VersionRec(self.next_id("version"), project_id, **values)
            self.versions[rec.id] = rec
            self.on_change()
            return rec

    def ref_name(self, field_name: str, ref_id: str) -> str:
        kind = REF_FIELDS[field_name][0]
        table: dict[str, Any] = self.components if kind == "component" else self.versions
        rec = table.get(ref_id)
        return rec.name if rec else ref_id

    def ref_items(self, name: str, old: Any, new: Any) -> list[dict[str, Any]]:
        """Changelog items of a components/versions change, as Jira writes them: one per
        id (``Fix Version`` from ``10000``/``v1`` to ``10001``/``v2``), a removal and an
        addition paired into one item."""
        label = REF_FIELDS[name][1]
        removed = [i for i in old or [] if i not in (new or [])]
        added = [i for i in new or [] if i not in (old or [])]
        items = []
        for index in range(max(len(removed), len(added))):
            gone = removed[index] if index < len(removed) else None
            came = added[index] if index < len(added) else None
            item: dict[str, Any] = {
                "field": label,
                "fieldtype": "jira",
                "fieldId": name,
                "from": gone,
                "fromString": self.ref_name(name, gone) if gone else None,
                "to": came,
                "toString": self.ref_name(name, came) if came else None,
            }
            if self.flavour == "server":
                del item["fieldId"]
            items.append(item)
        return items

    # --- worklogs -----------------------------------------------------------------------

    def issue_worklogs(self, issue: IssueRec) -> list[WorklogRec]:
        return [w for w in self.worklogs.values() if w.issue_id == issue.id]

    def time_spent(self, issue: IssueRec) -> int | None:
        total = sum(w.seconds for w in self.issue_worklogs(issue))
        return total or None

    def add_worklog(self, actor: UserRec, issue: IssueRec, values: dict[str, Any]) -> WorklogRec:
        with self.lock:
            now = self.clock()
            before = self.time_spent(issue)
            worklog = WorklogRec(
                id=self.next_id("worklog"),
                issue_id=issue.id,
                author=actor.id,
                update_author=actor.id,
                started=values["started"],
                seconds=values["seconds"],
                created=now,
                updated=now,
                comment=values.get("comment"),
                visibility=values.get("visibility"),
            )
            self.worklogs[worklog.id] = worklog
            self._worklog_changed(actor, issue, worklog, "created", before, now)
            return worklog

    def edit_worklog(
        self, actor: UserRec, issue: IssueRec, worklog: WorklogRec, values: dict[str, Any]
    ) -> None:
        with self.lock:
            now = self.clock()
            before = self.time_spent(issue)
            for name in ("started", "seconds", "comment", "visibility"):
                if name in values:
                    setattr(worklog, name, values[name])
            worklog.update_author, worklog.updated = actor.id, now
            self._worklog_changed(actor, issue, worklog, "updated", before, now)

    def delete_worklog(self, actor: UserRec, issue: IssueRec, worklog: WorklogRec) -> None:
        with self.lock:
            now = self.clock()
            before = self.time_spent(issue)
            self.worklogs.pop(worklog.id, None)
            self._worklog_changed(actor, issue, worklog, "deleted", before, now)

    def _worklog_changed(
        self,
        actor: UserRec,
        issue: IssueRec,
        worklog: WorklogRec,
        what: str,
        before: int | None,
        now: int,
    ) -> None:
        """``worklog_<what>`` and Jira's ``jira:issue_updated`` with ``timespent`` and
        ``WorklogId`` changelog items (the issue's total time spent, in seconds)."""
        from .store import Change, HistoryRec

        after = self.time_spent(issue)
        items = []
        if before != after:
            items.append(self._plain_item("timespent", before, after))
        gone = what == "deleted"
        items.append(
            self._plain_item(
                "WorklogId", worklog.id if gone else None, None if gone else worklog.id
            )
        )
        history = HistoryRec(self.next_id("changelog"), actor.id, now, items)
        issue.history.append(history)
        issue.updated = now
        type_name = {
            "created": "issue_work_logged",
            "updated": "issue_worklog_updated",
            "deleted": "issue_worklog_deleted",
        }[what]
        self._emit(
            Change(f"worklog_{what}", None, actor, issue, now, worklog=worklog),
            Change("jira:issue_updated", type_name, actor, issue, now, history=history),
        )

    def _plain_item(self, name: str, old: Any, new: Any) -> dict[str, Any]:
        item: dict[str, Any] = {"field": name, "fieldtype": "jira", "fieldId": name}
        item.update(
            {
                "from": None if old is None else str(old),
                "fromString": None if old is None else str(old),
                "to": None if new is None else str(new),
                "toString": None if new is None else str(new),
            }
        )
        if self.flavour == "server":
            del item["fieldId"]
        return item

    # --- hierarchy ----------------------------------------------------------------------

    def hierarchy_level(self, type_name: str) -> int:
        if type_name in SUBTASK_TYPES:
            return -1
        return 1 if type_name == EPIC and self.flavour == "cloud" else 0

    def children(self, issue: IssueRec, *, subtasks_only: bool = True) -> list[IssueRec]:
        return [
            i
            for i in self.issues.values()
            if i.parent == issue.id and (not subtasks_only or i.issue_type in SUBTASK_TYPES)
        ]

    def ensure_epic_fields(self) -> None:
        """Server: Jira Software's ``Epic Link`` and ``Epic Name`` (when a project has epics)."""
        if self.flavour != "server":
            return
        for name, (kind, preferred) in EPIC_FIELDS.items():
            if self.field_by_name(name) is None:
                free = preferred if preferred not in self.fields else None
                self.add_field(name=name, field_type=kind, field_id=free)

    def field_by_name(self, name: str) -> Any:
        return next((f for f in self.fields.values() if f.name.lower() == name.lower()), None)

    # --- persistence --------------------------------------------------------------------

    def dump_relations(self) -> dict[str, Any]:
        return {
            "link_types": [asdict(t) for t in self.link_types.values()],
            "links": [asdict(link) for link in self.links.values()],
            "worklogs": [asdict(w) for w in self.worklogs.values()],
            "components": [asdict(c) for c in self.components.values()],
            "versions": [asdict(ver) for ver in self.versions.values()],
        }

    def load_relations(self, data: dict[str, Any]) -> None:
        if data.get("link_types"):
            self.link_types = {t["id"]: LinkTypeRec(**t) for t in data["link_types"]}
        self.links = {item["id"]: IssueLinkRec(**item) for item in data.get("links", [])}
        self.worklogs = {w["id"]: WorklogRec(**w) for w in data.get("worklogs", [])}
        self.components = {c["id"]: ComponentRec(**c) for c in data.get("components", [])}
        self.versions = {x["id"]: VersionRec(**x) for x in data.get("versions", [])}

    if TYPE_CHECKING:  # the Store's own
        fields: dict[str, Any]

        def on_change(self) -> None: ...

        def add_field(
            self, *, name: str, field_type: str = "string", field_id: str | None = None
        ) -> Any: ...

        def next_id(self, kind: str) -> str: ...

        def _emit(self, *changes: Any) -> None: ...

        def _reindex(self, issue: IssueRec) -> None: ...
