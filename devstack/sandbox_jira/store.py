"""The sandbox site's state: users, projects, issues, comments, attachments, properties.

One lock guards everything (the server is threaded). Every mutation names the user who made
it, moves the issue's ``updated`` time, records changelog items as Jira does, and reports a
:class:`Change` to the listener (the webhook publisher) while the state is still consistent.
The state round-trips through JSON for the optional persistence file.
"""

from __future__ import annotations

import base64
import copy
import secrets
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from . import adf
from .index import SearchIndex
from .jql_eval import Catalog, FieldChange, IssueDoc
from .relations import REF_FIELDS, IssueLinkRec, Relations, WorklogRec
from .screens import RESOLUTIONS, parse_screens, resolution_id
from .timefmt import Clock, MonotonicClock, system_clock
from .workflow import CATEGORIES, initial_status, parse_workflow

FIRST_ID = 10000

DEFAULT_ISSUE_TYPES = {
    "Epic": "10000",
    "Task": "10001",
    "Bug": "10002",
    "Story": "10003",
    "Sub-task": "10004",
}
# id, name, status category (id, key, colour, name)
STATUSES = [
    ("10000", "To Do", (2, "new", "blue-gray", "To Do")),
    ("3", "In Progress", (4, "indeterminate", "yellow", "In Progress")),
    ("10001", "Done", (3, "done", "green", "Done")),
]
PRIORITIES = [("1", "Highest"), ("2", "High"), ("3", "Medium"), ("4", "Low"), ("5", "Lowest")]
DEFAULT_PRIORITY = "Medium"
ATTRS = {"issuetype": "issue_type"}  # REST field id -> IssueRec attribute
ATTRS["fixVersions"] = "fix_versions"  # issue 18
DEFAULT_STATUS = "To Do"
FIELD_TYPES = ("string", "number", "array", "any")  # custom field value types the sandbox checks
FIELD_TYPES += ("epic_link", "epic_name")  # issue 18: Jira Software's on Server (relations.py)
JQL_KINDS = {"epic_link": "array", "epic_name": "string"}  # searched like labels / text


@dataclass
class UserRec:
    """A site account. ``id`` is the accountId (Cloud) or the user key (Server)."""

    id: str
    display_name: str
    email: str
    token: str
    name: str | None = None  # Server username
    password: str | None = None  # Server basic auth
    active: bool = True
    time_zone: str = "UTC"
    groups: list[str] | None = None  # None: the default groups (see visibility.py)
    email_visible: bool = True  # issue 18: Cloud leaves out a hidden emailAddress


@dataclass
class ProjectRec:
    id: str
    key: str
    name: str
    issue_types: list[str]
    default_issue_type: str | None = None
    lead: str | None = None
    next_number: int = 1
    project_type: str = "software"
    workflow: dict[str, Any] | None = None  # None: the default workflow (see workflow.py)
    screens: dict[str, Any] | None = None  # None: the default screens (see screens.py)


@dataclass
class FieldRec:
    """A custom field defined on the site: values live on issues under ``id``."""

    id: str  # customfield_NNNNN
    name: str
    type: str = "string"


@dataclass
class CommentRec:
    id: str
    issue_id: str
    author: str
    update_author: str
    body: Any
    created: int
    updated: int
    visibility: dict[str, Any] | None = None
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class AttachmentRec:
    id: str
    issue_id: str
    filename: str
    mime_type: str
    size: int
    author: str
    created: int
    data: bytes = b""


@dataclass
class HistoryRec:
    id: str
    author: str
    created: int
    items: list[dict[str, Any]]


@dataclass
class IssueRec:
    id: str
    key: str
    project_id: str
    number: int
    issue_type: str
    summary: str
    created: int
    updated: int
    reporter: str | None
    creator: str | None
    description: Any = None
    environment: Any = None
    labels: list[str] = field(default_factory=list)
    priority: str | None = DEFAULT_PRIORITY
    status: str = DEFAULT_STATUS
    assignee: str | None = None
    resolution: str | None = None
    resolved: int | None = None  # resolutiondate, epoch ms
    parent: str | None = None  # the parent issue's id
    custom: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    # issue 18: component and version ids, the due date (YYYY-MM-DD)
    components: list[str] = field(default_factory=list)
    fix_versions: list[str] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    duedate: str | None = None
    comments: list[str] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)
    history: list[HistoryRec] = field(default_factory=list)
    remote_links: list[dict[str, Any]] = field(default_factory=list)  # remotelinks.py


@dataclass
class WebhookRec:
    id: str
    url: str
    secret: str | None = None
    enabled: bool = True
    events: list[str] = field(default_factory=list)  # empty: every event
    jql: str | None = None
    name: str = ""


@dataclass(frozen=True)
class Change:
    """What one mutation did, for the webhook publisher."""

    event: str  # webhookEvent: jira:issue_created, comment_created, …
    type_name: str | None  # issue_event_type_name
    actor: UserRec
    issue: IssueRec
    timestamp: int
    history: HistoryRec | None = None
    comment: CommentRec | None = None
    attachment: AttachmentRec | None = None
    # issue 18: links and worklogs (relations.py)
    link: Any = None
    worklog: Any = None


Listener = Callable[[list[Change]], None]
Record = tuple[str, str]  # (section of the dump, id): what a change touched, for the journal


def body_text(body: Any) -> str:
    return adf.to_text(body) if isinstance(body, dict) else str(body or "")


class Store(Relations):
    """All state of one sandbox site, guarded by one re-entrant lock."""

    def __init__(self, flavour: str, clock: Clock = system_clock) -> None:
        self.flavour = flavour
        self.clock = MonotonicClock(clock)
        self.lock = threading.RLock()
        self.listener: Listener = lambda changes: None
        self.on_dirty: Callable[[], None] = lambda: None  # the site persists (sandbox.py)
        self._touched: set[Record] = set()
        self._full = True
        self.clear()

    def on_change(self, *records: Record) -> None:
        """State changed: ``records`` name what (journalled alone), none: anything may have
        (the next flush writes a whole snapshot)."""
        with self.lock:
            if records:
                self._touched.update(records)
            else:
                self._full = True
        self.on_dirty()

    def take_changes(self) -> dict[str, Any] | None:
        """What changed since the last call, as a journal entry; None when only a whole
        snapshot can tell (see statefile.py). Records read as they are now."""
        with self.lock:
            touched, full = self._touched, self._full
            self._touched, self._full = set(), False
            if full:
                return None
            put: dict[str, list[dict[str, Any]]] = {}
            drop: dict[str, list[str]] = {}
            for section, rid in sorted(touched):
                rec = getattr(self, section).get(rid)
                if rec is None:
                    drop.setdefault(section, []).append(rid)
                else:
                    put.setdefault(section, []).append(_record_json(section, rec))
            small = {"seq": dict(self.seq), "issue_types": dict(self.issue_types)}
            small["statuses"] = {name: list(v) for name, v in self.statuses.items()}
            return {**small, "put": put, "drop": drop}

    def apply_changes(self, entry: dict[str, Any]) -> None:
        """Replay one journal entry over the loaded state."""
        with self.lock:
            self.seq = dict(entry.get("seq", self.seq))
            self.issue_types = dict(entry.get("issue_types", self.issue_types))
            for name, (sid, category) in (entry.get("statuses") or {}).items():
                self.statuses[name] = (str(sid), str(category))
            for section, ids in (entry.get("drop") or {}).items():
                for rid in ids:
                    gone = getattr(self, section).pop(rid, None)
                    if section == "issues" and gone is not None:
                        self.keys.pop(gone.key, None)
            for section, records in (entry.get("put") or {}).items():
                for raw in records:
                    rec = _record_from_json(section, dict(raw))
                    getattr(self, section)[rec.id] = rec
                    if section == "issues":
                        self.keys[rec.key] = rec.id

    def clear(self) -> None:
        with self.lock:
            self._full = True
            self.seq: dict[str, int] = {}
            self.users: dict[str, UserRec] = {}
            self.projects: dict[str, ProjectRec] = {}
            self.issues: dict[str, IssueRec] = {}
            self.keys: dict[str, str] = {}  # KEY-1 -> issue id
            self.comments: dict[str, CommentRec] = {}
            self.attachments: dict[str, AttachmentRec] = {}
            self.webhooks: dict[str, WebhookRec] = {}
            self.issue_types: dict[str, str] = dict(DEFAULT_ISSUE_TYPES)
            # status name -> (id, category key); grows with the statuses workflows name
            self.statuses: dict[str, tuple[str, str]] = {
                name: (sid, category[1]) for sid, name, category in STATUSES
            }
            self.fields: dict[str, FieldRec] = {}
            self.indexed_properties: list[str] | None = None
            self.index = SearchIndex()  # what JQL sees; may lag behind (index.py)
            self.clear_relations()  # issue 18 (relations.py)

    def next_id(self, kind: str) -> str:
        value = self.seq.get(kind, FIRST_ID)
        self.seq[kind] = value + 1
        return str(value)

    # --- users and projects -------------------------------------------------------------

    def add_user(
        self,
        *,
        display_name: str,
        email: str | None = None,
        name: str | None = None,
        token: str | None = None,
        password: str | None = None,
        user_id: str | None = None,
        groups: list[str] | None = None,
    ) -> UserRec:
        with self.lock:
            if self.flavour == "cloud":
                uid = user_id or "712020:" + secrets.token_hex(16)
                username = None
            else:
                username = name or (email or display_name).split("@")[0].lower().replace(" ", "")
                uid = user_id or f"JIRAUSER{self.next_id('user')}"
            user = UserRec(
                id=uid,
                display_name=display_name,
                email=email or f"{username or uid}@sandbox.invalid",
                token=token or secrets.token_urlsafe(24),
                name=username,
                password=password,
                groups=groups,
            )
            self.users[uid] = user
            self.on_change()
            return user

    def user_by_login(self, login: str) -> UserRec | None:
        """The user a basic-auth login names: email (Cloud) or username (Server)."""
        low = login.lower()
        for user in self.users.values():
            if self.flavour == "cloud" and user.email.lower() == low:
                return user
            if self.flavour == "server" and (user.name or "").lower() == low:
                return user
        return None

    def user_by_token(self, token: str) -> UserRec | None:
        return next(
            (u for u in self.users.values() if secrets.compare_digest(u.token, token)), None
        )

    def find_user(self, ref: str) -> UserRec | None:
        """A user by accountId (Cloud) or name/key (Server)."""
        low = ref.lower()
        for user in self.users.values():
            if user.id.lower() == low or (user.name or "").lower() == low:
                return user
        return None

    def add_project(
        self,
        *,
        key: str,
        name: str,
        issue_types: list[str] | None = None,
        default_issue_type: str | None = None,
        lead: str | None = None,
        project_id: str | None = None,
        workflow: dict[str, Any] | None = None,
        screens: dict[str, Any] | None = None,
    ) -> ProjectRec:
        with self.lock:
            key = key.upper()
            if self.project(key):
                raise ValueError(f"project {key} exists")
            checked = parse_workflow(workflow) if workflow is not None else None
            checked_screens = parse_screens(screens)
            for status in (checked or {}).get("statuses", []):
                self.status_id(status["name"], status["category"])
            types = list(issue_types or ["Task", "Bug", "Story"])
            for type_name in types:
                self.issue_type_id(type_name)
            if default_issue_type and default_issue_type not in types:
                raise ValueError(f"default issue type {default_issue_type} is not in {types}")
            if "Epic" in types:
                self.ensure_epic_fields()  # issue 18 (relations.py)
            project = ProjectRec(
                id=project_id or self.next_id("project"),
                key=key,
                name=name,
                issue_types=types,
                default_issue_type=default_issue_type,
                lead=lead,
                workflow=checked,
                screens=checked_screens,
            )
            self.projects[project.id] = project
            self.on_change()
            return project

    def project(self, ref: str) -> ProjectRec | None:
        low = str(ref).lower()
        return next(
            (p for p in self.projects.values() if low in (p.id, p.key.lower())),
            None,
        )

    def workflow(self, project: ProjectRec) -> dict[str, Any]:
        """The project's workflow (the default one when it names none)."""
        return parse_workflow(project.workflow)

    def status_id(self, name: str, category: str = "indeterminate") -> str:
        """The global id of a status name (made on first use, like a new status)."""
        if name not in self.statuses:
            self.statuses[name] = (self.next_id("status"), category)
        return self.statuses[name][0]

    def status_category(self, name: str) -> tuple[int, str, str, str]:
        """Jira's status category (id, key, colour, name) of a status."""
        return CATEGORIES[self.statuses.get(name, ("", "indeterminate"))[1]]

    def add_field(
        self, *, name: str, field_type: str = "string", field_id: str | None = None
    ) -> FieldRec:
        """Define a custom field (``customfield_NNNNN``); names are unique on a site here."""
        with self.lock:
            if field_type not in FIELD_TYPES:
                raise ValueError(f"type must be one of {list(FIELD_TYPES)}")
            if not name.strip():
                raise ValueError("a custom field needs a name")
            if any(f.name.lower() == name.strip().lower() for f in self.fields.values()):
                raise ValueError(f"a custom field named {name} exists")
            fid = field_id or f"customfield_{self.next_id('customfield')}"
            if not fid.startswith("customfield_") or not fid[12:].isdigit() or fid in self.fields:
                raise ValueError(f"{fid} is not a free customfield_NNNNN id")
            rec = FieldRec(id=fid, name=name.strip(), type=field_type)
            self.fields[fid] = rec
            self.on_change()
            return rec

    def field_name(self, field_id: str) -> str | None:
        rec = self.fields.get(field_id)
        return rec.name if rec else None

    def issue_type_id(self, name: str) -> str:
        """The global id of an issue type name (made on first use, like a new type)."""
        if name not in self.issue_types:
            self.issue_types[name] = self.next_id("issuetype")
        return self.issue_types[name]

    # --- reads --------------------------------------------------------------------------

    def issue(self, ref: str) -> IssueRec | None:
        with self.lock:
            ref = str(ref)
            issue_id = ref if ref in self.issues else self.keys.get(ref.upper())
            return self.issues.get(issue_id) if issue_id else None

    def issue_comments(self, issue: IssueRec) -> list[CommentRec]:
        return [self.comments[c] for c in issue.comments]

    def issue_attachments(self, issue: IssueRec) -> list[AttachmentRec]:
        return [self.attachments[a] for a in issue.attachments]

    # --- issue mutations ----------------------------------------------------------------

    def create_issue(
        self,
        actor: UserRec,
        project: ProjectRec,
        values: dict[str, Any],
        properties: dict[str, Any] | None = None,
    ) -> IssueRec:
        with self.lock:
            now = self.clock()
            issue_id = self.next_id("issue")
            number = project.next_number
            project.next_number += 1
            issue = IssueRec(
                id=issue_id,
                key=f"{project.key}-{number}",
                project_id=project.id,
                number=number,
                issue_type=values["issuetype"],
                summary=values["summary"],
                created=now,
                updated=now,
                reporter=values.get("reporter", actor.id),
                creator=actor.id,
                status=initial_status(self.workflow(project)),
            )
            for name, value in values.items():
                if name not in ("issuetype", "summary", "reporter"):
                    self._set_field(issue, name, value)
            issue.properties.update(copy.deepcopy(properties or {}))
            self.issues[issue_id] = issue
            self.keys[issue.key] = issue_id
            items = [
                item
                for n in sorted(values)
                for item in self._items(n, None, self._field_value(issue, n))
            ]
            items.append(self._item("status", None, issue.status, created=True))
            history = HistoryRec(self.next_id("changelog"), actor.id, now, items)
            self._emit(
                Change("jira:issue_created", "issue_created", actor, issue, now, history=history)
            )
            return issue

    def edit_issue(self, actor: UserRec, issue: IssueRec, values: dict[str, Any]) -> None:
        with self.lock:
            items = []
            for name, value in values.items():
                old = self._field_value(issue, name)
                self._set_field(issue, name, value)
                new = self._field_value(issue, name)
                if old != new:
                    items.extend(self._items(name, old, new))
            if not items:
                return
            now = self.clock()
            issue.updated = now
            history = HistoryRec(self.next_id("changelog"), actor.id, now, items)
            issue.history.append(history)
            type_name = "issue_updated"
            if any(i["field"] == "assignee" for i in items) and len(items) == 1:
                type_name = "issue_assigned"
            self._emit(Change("jira:issue_updated", type_name, actor, issue, now, history=history))

    def delete_issue(self, actor: UserRec, issue: IssueRec) -> None:
        with self.lock:
            now = self.clock()
            # announce first: the webhook body shows the issue as it was
            self._emit(Change("jira:issue_deleted", "issue_deleted", actor, issue, now))
            self.issues.pop(issue.id, None)
            self.keys.pop(issue.key, None)
            for cid in issue.comments:
                self.comments.pop(cid, None)
            for aid in issue.attachments:
                self.attachments.pop(aid, None)
            self.forget_relations(issue)  # issue 18 (relations.py)
            self.on_change()

    def set_property(self, issue: IssueRec, key: str, value: Any) -> bool:
        """Set an issue property; True when it was created. Does not move ``updated``."""
        with self.lock:
            created = key not in issue.properties
            issue.properties[key] = copy.deepcopy(value)
            self._reindex(issue)
            self.on_change(("issues", issue.id))
            return created

    def delete_property(self, issue: IssueRec, key: str) -> bool:
        with self.lock:
            found = key in issue.properties
            issue.properties.pop(key, None)
            self._reindex(issue)
            self.on_change(("issues", issue.id))
            return found

    # --- comments -----------------------------------------------------------------------

    def add_comment(
        self,
        actor: UserRec,
        issue: IssueRec,
        body: Any,
        visibility: dict[str, Any] | None,
        properties: dict[str, Any] | None = None,
    ) -> CommentRec:
        with self.lock:
            now = self.clock()
            comment = CommentRec(
                self.next_id("comment"),
                issue.id,
                actor.id,
                actor.id,
                body,
                now,
                now,
                visibility,
                copy.deepcopy(properties or {}),
            )
            self.comments[comment.id] = comment
            issue.comments.append(comment.id)
            issue.updated = now
            self._emit(
                Change("comment_created", None, actor, issue, now, comment=comment),
                Change("jira:issue_updated", "issue_commented", actor, issue, now, comment=comment),
            )
            return comment

    def edit_comment(
        self,
        actor: UserRec,
        issue: IssueRec,
        comment: CommentRec,
        body: Any,
        visibility: dict[str, Any] | None,
    ) -> None:
        with self.lock:
            now = self.clock()
            comment.body = body
            comment.visibility = visibility
            comment.update_author = actor.id
            comment.updated = now
            issue.updated = now
            self._emit(
                Change("comment_updated", None, actor, issue, now, comment=comment),
                Change(
                    "jira:issue_updated", "issue_comment_edited", actor, issue, now, comment=comment
                ),
            )

    def delete_comment(self, actor: UserRec, issue: IssueRec, comment: CommentRec) -> None:
        with self.lock:
            now = self.clock()
            self.comments.pop(comment.id, None)
            issue.comments.remove(comment.id)
            issue.updated = now
            self._emit(
                Change("comment_deleted", None, actor, issue, now, comment=comment),
                Change(
                    "jira:issue_updated",
                    "issue_comment_deleted",
                    actor,
                    issue,
                    now,
                    comment=comment,
                ),
            )

    # --- attachments --------------------------------------------------------------------

    def add_attachment(
        self, actor: UserRec, issue: IssueRec, filename: str, mime_type: str, data: bytes
    ) -> AttachmentRec:
        with self.lock:
            now = self.clock()
            att = AttachmentRec(
                self.next_id("attachment"),
                issue.id,
                filename,
                mime_type,
                len(data),
                actor.id,
                now,
                data,
            )
            self.attachments[att.id] = att
            issue.attachments.append(att.id)
            issue.updated = now
            item = self._item("attachment", None, None, ids=(None, att.id))
            item.update(toString=filename)
            history = HistoryRec(self.next_id("changelog"), actor.id, now, [item])
            issue.history.append(history)
            self._emit(
                Change("attachment_created", None, actor, issue, now, attachment=att),
                Change("jira:issue_updated", "issue_updated", actor, issue, now, history=history),
            )
            return att

    def delete_attachment(self, actor: UserRec, att: AttachmentRec) -> None:
        with self.lock:
            issue = self.issues[att.issue_id]
            now = self.clock()
            self.attachments.pop(att.id, None)
            issue.attachments.remove(att.id)
            issue.updated = now
            item = self._item("attachment", None, None, ids=(att.id, None))
            item.update(fromString=att.filename)
            history = HistoryRec(self.next_id("changelog"), actor.id, now, [item])
            issue.history.append(history)
            self._emit(
                Change("attachment_deleted", None, actor, issue, now, attachment=att),
                Change("jira:issue_updated", "issue_updated", actor, issue, now, history=history),
            )

    # --- webhooks registry --------------------------------------------------------------

    def add_webhook(self, **values: Any) -> WebhookRec:
        with self.lock:
            hook = WebhookRec(id=self.next_id("webhook"), **values)
            self.webhooks[hook.id] = hook
            self.on_change()
            return hook

    # --- helpers ------------------------------------------------------------------------

    def _emit(self, *changes: Change) -> None:
        touched: list[Record] = []
        for change in changes:
            self._reindex(change.issue)
            touched += [("issues", change.issue.id), ("projects", change.issue.project_id)]
            for section, rec in (
                ("comments", change.comment),
                ("attachments", change.attachment),
                ("links", change.link),
                ("worklogs", change.worklog),
            ):
                if rec is not None:
                    touched.append((section, rec.id))
        self.listener(list(changes))
        self.on_change(*touched)

    def _reindex(self, issue: IssueRec) -> None:
        if self.index.lag_ms:
            self.index.touch(self.doc(issue), self.clock.clock())

    def set_search_lag(self, lag_ms: int) -> None:
        """Search sees a change ``lag_ms`` after it happens (0: at once), see index.py."""
        with self.lock:
            self.index.set_lag(lag_ms, [self.doc(i) for i in self.issues.values()])

    def _set_field(self, issue: IssueRec, name: str, value: Any) -> None:
        if name == "resolution" and value != issue.resolution:
            issue.resolved = self.clock() if value else None
        if name.startswith("customfield_"):
            if value is None:
                issue.custom.pop(name, None)
            else:
                issue.custom[name] = copy.deepcopy(value)
        else:
            setattr(issue, ATTRS.get(name, name), copy.deepcopy(value))

    def _field_value(self, issue: IssueRec, name: str) -> Any:
        if name.startswith("customfield_"):
            return issue.custom.get(name)
        return copy.deepcopy(getattr(issue, ATTRS.get(name, name)))

    def _items(self, name: str, old: Any, new: Any) -> list[dict[str, Any]]:
        """The changelog items of one field's change (components/versions: one per id)."""
        if name in REF_FIELDS:
            return self.ref_items(name, old, new)  # issue 18 (relations.py)
        return [self._item(name, old, new)]

    def _item(
        self,
        name: str,
        old: Any,
        new: Any,
        *,
        ids: tuple[Any, Any] | None = None,
        created: bool = False,
    ) -> dict[str, Any]:
        """One changelog item shaped as Jira writes it (Server omits ``fieldId``)."""
        # captured payloads: a create's item says "Status", a later change's says "status"
        labels = {"attachment": "Attachment", "status": "Status" if created else "status"}
        label = labels.get(name, name)
        label = self.field_name(name) or label  # Jira labels custom field items by name
        from_id, to_id = ids or (self._change_id(name, old), self._change_id(name, new))
        item: dict[str, Any] = {
            "field": label,
            "fieldtype": "custom" if name.startswith("customfield_") else "jira",
            "fieldId": name,
            "from": from_id,
            "fromString": self._change_string(name, old),
            "to": to_id,
            "toString": self._change_string(name, new),
        }
        if self.flavour == "server":
            del item["fieldId"]
        return item

    def _change_id(self, name: str, value: Any) -> str | None:
        if value is None:
            return None
        if name == "issuetype":
            return self.issue_types.get(value)
        if name == "priority":
            return next((pid for pid, pname in PRIORITIES if pname == value), None)
        if name == "status":
            return self.statuses[value][0] if value in self.statuses else None
        if name == "resolution":
            return resolution_id(value)
        if name == "parent":
            return str(value)
        if name in ("reporter", "assignee"):
            return str(value)
        return None

    def _change_string(self, name: str, value: Any) -> str | None:
        if value is None:
            return None
        if name == "labels":
            return " ".join(sorted(value)) if value else ""
        if name in ("reporter", "assignee"):
            user = self.users.get(value)
            return user.display_name if user else str(value)
        if name in ("description", "environment"):
            return body_text(value)
        if name == "parent":
            parent = self.issues.get(value)
            return parent.key if parent else str(value)
        return value if isinstance(value, str) else str(value)

    # --- JQL view -----------------------------------------------------------------------

    def catalog(self, current_user: str | None) -> Catalog:
        with self.lock:
            users = {
                u.id: {a.lower() for a in (u.id, u.name, u.email if u.name else None) if a}
                for u in self.users.values()
            }
            return Catalog(
                projects=[(p.id, p.key, p.name) for p in self.projects.values()],
                users=users,
                issue_types=[(tid, name) for name, tid in self.issue_types.items()],
                statuses=[(sid, name) for name, (sid, _) in self.statuses.items()],
                priorities=list(PRIORITIES),
                issue_keys={key: int(iid) for key, iid in self.keys.items()},
                now_ms=self.clock.clock(),
                current_user=current_user,
                indexed_properties=(
                    set(self.indexed_properties) if self.indexed_properties is not None else None
                ),
                custom_fields=[
                    (f.id, f.name, JQL_KINDS.get(f.type, f.type)) for f in self.fields.values()
                ],
                status_categories={n.lower(): c for n, (_, c) in self.statuses.items()},
                resolutions=[(rid, name) for rid, name, _ in RESOLUTIONS],
            )

    def docs(self) -> list[IssueDoc]:
        """What a search sees now (the search index may lag behind the issues)."""
        with self.lock:
            ids = [int(i) for i in self.issues]
            return self.index.view(ids, lambda i: self.doc(self.issues[str(i)]), self.clock.clock())

    def doc(self, issue: IssueRec) -> IssueDoc:
        comments = " \n".join(body_text(self.comments[c].body) for c in issue.comments)
        return IssueDoc(
            id=int(issue.id),
            key=issue.key,
            project_id=issue.project_id,
            number=issue.number,
            issue_type=issue.issue_type,
            status=issue.status,
            labels=tuple(issue.labels),
            priority=issue.priority,
            reporter=issue.reporter,
            assignee=issue.assignee,
            creator=issue.creator,
            created=issue.created,
            updated=issue.updated,
            texts={
                "summary": issue.summary,
                "description": body_text(issue.description),
                "environment": body_text(issue.environment),
                "comment": comments,
            },
            properties=issue.properties,
            resolution=issue.resolution,
            parent=int(issue.parent) if issue.parent else None,
            custom=issue.custom,
            history=tuple(
                FieldChange(
                    str(item.get("fieldId") or item["field"]).lower(),
                    item["from"],
                    item["fromString"],
                    item["to"],
                    item["toString"],
                    h.author,
                    h.created,
                )
                for h in issue.history
                for item in h.items
            ),
        )

    # --- persistence --------------------------------------------------------------------

    def dump(self, *, include_secrets: bool = True, include_data: bool = True) -> dict[str, Any]:
        """The whole state as JSON-ready data (attachment bytes base64-encoded)."""
        with self.lock:
            users = [asdict(u) for u in self.users.values()]
            if not include_secrets:
                for user in users:
                    user["token"] = user["password"] = None
            attachments = []
            for att in self.attachments.values():
                item = _record_json("attachments", att)
                if not include_data:
                    item["data"] = None
                attachments.append(item)
            return {
                "flavour": self.flavour,
                "seq": dict(self.seq),
                "issue_types": dict(self.issue_types),
                "statuses": {name: list(value) for name, value in self.statuses.items()},
                "fields": [asdict(f) for f in self.fields.values()],
                "indexed_properties": self.indexed_properties,
                "users": users,
                "projects": [asdict(p) for p in self.projects.values()],
                "issues": [asdict(i) for i in self.issues.values()],
                "comments": [asdict(c) for c in self.comments.values()],
                "attachments": attachments,
                "webhooks": [
                    {**asdict(w), "secret": w.secret if include_secrets else None}
                    for w in self.webhooks.values()
                ],
                **self.dump_relations(),  # issue 18 (relations.py)
            }

    def load(self, data: dict[str, Any]) -> None:
        with self.lock:
            self.clear()
            self.seq = dict(data.get("seq", {}))
            self.issue_types = dict(data.get("issue_types", DEFAULT_ISSUE_TYPES))
            for name, (sid, category) in (data.get("statuses") or {}).items():
                self.statuses[name] = (str(sid), str(category))
            self.fields = {f["id"]: FieldRec(**f) for f in data.get("fields", [])}
            self.indexed_properties = data.get("indexed_properties")
            self.users = {u["id"]: UserRec(**u) for u in data.get("users", [])}
            self.projects = {p["id"]: ProjectRec(**p) for p in data.get("projects", [])}
            for raw in data.get("issues", []):
                issue = _record_from_json("issues", dict(raw))
                self.issues[issue.id] = issue
                self.keys[issue.key] = issue.id
            self.comments = {c["id"]: CommentRec(**c) for c in data.get("comments", [])}
            for raw in data.get("attachments", []):
                self.attachments[raw["id"]] = _record_from_json("attachments", dict(raw))
            self.webhooks = {w["id"]: WebhookRec(**w) for w in data.get("webhooks", [])}
            self.load_relations(data)  # issue 18 (relations.py)


# --- records as JSON (the dump's and the journal's shapes) ---------------------------------

_RECORD_TYPES: dict[str, type[Any]] = {
    "comments": CommentRec,
    "projects": ProjectRec,
    "links": IssueLinkRec,
    "worklogs": WorklogRec,
}


def _record_json(section: str, rec: Any) -> dict[str, Any]:
    item = asdict(rec)
    if section == "attachments":
        item["data"] = base64.b64encode(rec.data).decode()
    return item


def _record_from_json(section: str, raw: dict[str, Any]) -> Any:
    if section == "issues":
        history = [HistoryRec(**h) for h in raw.pop("history", [])]
        return IssueRec(**raw, history=history)
    if section == "attachments":
        raw["data"] = base64.b64decode(raw.get("data") or "")
        return AttachmentRec(**raw)
    return _RECORD_TYPES[section](**raw)
