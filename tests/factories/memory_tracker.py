"""The in-memory tracker for tests: the tracker protocol without HTTP.

The one fake :class:`~chalicelib.trackers.base.Tracker` the tests use (the contract tests
prove the real adapters against the sandbox Jira). It keeps the protocol's promises:

- unknown projects, issues, comments and attachments raise ``NotFound``; creating an issue
  in an unknown project is ``InvalidRequest`` ("valid project is required", as Jira's 400);
- keys are ``<PROJECT>-<n>`` and never reused after a deletion (like Jira);
- what the tracker writes (comments, attachments) is attributed to the integration user
  (``user``, what ``myself`` answers);
- an upload over ``attachment_limit`` bytes is ``TooLarge``;
- issues start in "To Do"; ``workflow`` (status -> statuses reachable from it; ``None``: any
  status from any) decides what ``transition_issue`` may do;
- custom fields are kept by the name they are set by (``Issue.fields``);
- every write moves the issue's ``updated`` one second on the tracker's own clock (from
  ``START``), so "updated since" and "ORDER BY updated" mean something;
- ``search`` understands the JQL subset the sync code and operations use (below) and pages
  by an offset cursor (as Jira Server's ``startAt``); ``check_jql`` refuses anything else
  with ``InvalidRequest`` and a Jira-like message, as a real tracker would.

Failures a test can inject, checked at the start of every call after it is recorded:
``fail_with`` (every call raises it: an outage), ``refuse`` (call name -> error, every time:
e.g. a 400 to every create) and ``fail_next`` (call name -> errors raised by the next calls
of that name, one each: e.g. one 429 to the next search).

The changelog (``Issue.history``, issue 19) records the summary, description and type
changes made by ``update_issue`` (the integration user) and by :meth:`edit` (a person), as
Jira's ``expand=changelog`` shows them; a test that replaces an issue directly leaves no
changelog entry, as a change Jira did not record.

``calls`` lists the protocol calls by name (``"get_issue"``, ``"update_issue"``…),
``searches`` the JQL of every search. ``add_issue`` creates an issue as a person would
(bypassing the recorded calls and injected failures).

JQL subset: ``AND``, ``OR``, ``NOT``, parentheses, ``key =`` / ``!=`` (also ``issuekey``),
``project =`` / ``!=`` / ``in (…)``, ``labels =`` / ``in (…)``, ``summary ~ "words"`` (all
words, any case), ``updated >= -Nm`` (minutes before the tracker's clock) and ``ORDER BY``:
results come in key order, or in ``updated`` then key order for ``ORDER BY updated``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from msgspec.structs import replace

from chalicelib.trackers import base
from chalicelib.trackers.base import (
    DEFAULT_PRIVATE_VISIBILITY,
    Attachment,
    Body,
    Comment,
    CommentVisibility,
    Issue,
    IssueFields,
    IssueRef,
    Project,
    SearchPage,
    User,
)
from tests.factories.memory_catalog import MemoryCatalog

INTEGRATION_USER = User(id="bot", name="Twinsync bot")
START = "2026-01-02T10:00:00.000+0000"  # the tracker's clock before its first write
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f%z"


class MemoryTracker(MemoryCatalog):  # issue 18: components, versions, users
    def __init__(
        self,
        *,
        projects: Iterable[Project] = (),
        kind: str = "jira_cloud",
        body_format: base.BodyFormat | None = None,
        url: str = "https://tracker.test",
        user: User = INTEGRATION_USER,
        attachment_limit: int | None = None,
    ) -> None:
        self.kind = kind
        self.body_format: base.BodyFormat = body_format or (
            "wiki" if kind == "jira_server" else "adf"
        )
        self.url = url.rstrip("/")
        self.user = user
        self.attachment_limit = attachment_limit
        self.projects: dict[str, Project] = {p.key: p for p in projects}
        self.issues: dict[str, Issue] = {}
        self.properties: dict[tuple[str, str], Any] = {}
        self.links: dict[str, dict[str, base.RemoteLink]] = {}  # issue key -> global id -> link
        self.blobs: dict[str, bytes] = {}
        self.workflow: dict[str, tuple[str, ...]] | None = None
        self.fail_with: base.TrackerError | None = None
        self.refuse: dict[str, base.TrackerError] = {}
        self.fail_next: dict[str, list[base.TrackerError]] = {}
        self.calls: list[str] = []
        self.searches: list[str] = []
        self.restricted_to: dict[str, CommentVisibility] = {}  # comment id -> role or group
        self._ids = itertools.count(10_000)
        self._numbers: dict[str, int] = {}
        self._ticks = 0
        # issue 18: issue link types (Jira's defaults); links live on both issues' ``links``
        self.link_types: list[base.LinkType] = [
            base.LinkType("10000", "Blocks", "is blocked by", "blocks"),
            base.LinkType("10001", "Cloners", "is cloned by", "clones"),
            base.LinkType("10002", "Duplicate", "is duplicated by", "duplicates"),
            base.LinkType("10003", "Relates", "relates to", "relates to"),
        ]
        self._init_catalog()

    @classmethod
    def with_projects(cls, *keys: str, **options: Any) -> MemoryTracker:
        """A tracker with projects ``keys``, each with Task, Bug and Story (Task default)."""
        projects = [
            Project(
                key=k,
                name=f"Project {k}",
                issue_types=("Task", "Bug", "Story"),
                default_issue_type="Task",
            )
            for k in keys
        ]
        return cls(projects=projects, **options)

    # --- helpers for tests --------------------------------------------------------------------

    def now(self) -> str:
        """The tracker's clock, as Jira writes times."""
        return _jira_time(_parse_time(START) + timedelta(seconds=self._ticks))

    def advance(self, seconds: int) -> None:
        """Time passes on the tracker's clock (what it has becomes ``seconds`` older)."""
        self._ticks += seconds

    def add_issue(
        self, project: str, summary: str, *, labels: tuple[str, ...] = (), text: str = ""
    ) -> Issue:
        """An issue a person created (not a call of the code under test)."""
        self._project(project)
        description = None
        if text:
            value = _adf(text) if self.body_format == "adf" else text
            description = Body(self.body_format, value)
        fields = IssueFields(summary=summary, description=description, labels=labels)
        return self._create(project, fields)

    def edit(self, key: str, *, by: User | None = None, **changes: Any) -> Issue:
        """A person (``by``, by default one who is not the integration user) edits the
        issue in Jira: ``summary``, ``description``, ``issue_type``…, recorded in the
        changelog with the person as its author."""
        who = by or User(id="person", name="A Person")
        before = self._issue(key)
        issue = self._write(key, **changes)
        self._record(before, issue, who)
        return issue

    def link_issues(self, link_type: str, source: str, destination: str) -> str:
        """A person links ``source`` <outward> ``destination``; the link's id."""
        return self._link(link_type, source, destination)

    def log_work(
        self,
        key: str,
        *,
        started: str,
        seconds: int,
        comment: Body | None = None,
        author: User | None = None,
    ) -> base.Worklog:
        """A person (``author``, by default one who is not the integration user) logs work."""
        who = author or User(id="person", name="A Person")
        return self._add_worklog(key, who, started=started, seconds=seconds, comment=comment)

    # --- internals ----------------------------------------------------------------------------

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if self.fail_with is not None:
            raise self.fail_with
        if name in self.refuse:
            raise self.refuse[name]
        if self.fail_next.get(name):
            raise self.fail_next[name].pop(0)

    def _tick(self) -> str:
        self._ticks += 1
        return self.now()

    def _issue(self, key: str) -> Issue:
        if key not in self.issues:
            raise base.NotFound(f"issue {key} does not exist", status=404)
        return self.issues[key]

    def _write(self, key: str, **changes: Any) -> Issue:
        """The issue with ``changes``, its ``updated`` moved on."""
        issue = replace(self._issue(key), **changes, updated=self._tick())
        self.issues[key] = issue
        return issue

    def _record(self, before: Issue, after: Issue, who: User) -> None:
        """The changelog items of a write (summary, description, type), by ``who``."""
        at = base.utc_time(after.updated) or ""
        items = [
            base.FieldChange(name, at, who.id, to_string=text)
            for name, old, text in (
                ("summary", before.summary, after.summary),
                ("description", _text(before.description), _text(after.description)),
                ("issuetype", before.issue_type, after.issue_type),
            )
            if old != text
        ]
        if items:
            self.issues[after.key] = replace(after, history=(*after.history, *items))

    def _create(self, project: str, fields: IssueFields) -> Issue:
        extra = self._catalog_changes(project, fields)  # issue 18 (refused before a key)
        self._numbers[project] = self._numbers.get(project, 0) + 1
        key = f"{project}-{self._numbers[project]}"
        stamp = self._tick()
        issue = Issue(
            id=str(next(self._ids)),
            key=key,
            project=project,
            url=f"{self.url}/browse/{key}",
            summary=fields.summary or "",
            description=fields.description,
            issue_type=fields.issue_type or "Task",
            labels=tuple(fields.labels or ()),
            priority=fields.priority,
            status="To Do",
            created=stamp,
            updated=stamp,
            fields=dict(fields.custom),
        )
        issue = replace(issue, **extra)
        self.issues[key] = issue
        for name, value in fields.properties.items():
            self.properties[(key, name)] = value
        return issue

    # --- the protocol -------------------------------------------------------------------------

    def myself(self) -> User:
        self._call("myself")
        return self.user

    def get_issue(self, key: str) -> Issue:
        self._call("get_issue")
        # like Jira, an issue's id reads it too (webhooks of worklogs and links name ids)
        by_id = next((i for i in self.issues.values() if i.id == key), None)
        return by_id if by_id is not None else self._issue(key)

    def search(self, jql: str, *, cursor: str | None = None, limit: int = 50) -> SearchPage:
        self.searches.append(jql)
        self._call("search")
        query = _Query(jql, self.now())
        found = sorted((i for i in self.issues.values() if query.matches(i)), key=_key_order)
        if query.by_updated:
            found.sort(key=lambda i: _parse_time(i.updated))  # stable: key order in ties
        start = int(cursor or 0)
        page = found[start : start + limit]
        more = start + limit < len(found)
        return SearchPage(
            issues=tuple(IssueRef(id=i.id, key=i.key, url=i.url) for i in page),
            next_cursor=str(start + limit) if more else None,
            total=len(found),
            updated={i.key: i.updated for i in page},
        )

    def create_issue(self, project: str, fields: IssueFields) -> IssueRef:
        self._call("create_issue")
        if project not in self.projects:
            message = "valid project is required"
            raise base.InvalidRequest(message, field_errors={"project": message})
        issue = self._create(project, fields)
        if fields.parent or issue.issue_type in self.projects[project].subtask_types:
            issue = self._with_parent(issue, fields.parent)  # issue 18
        return IssueRef(id=issue.id, key=issue.key, url=issue.url)

    def update_issue(self, key: str, fields: IssueFields) -> None:
        self._call("update_issue")
        issue = self._issue(key)
        changes: dict[str, Any] = {}
        for name in ("summary", "description", "issue_type", "labels", "priority"):
            value = getattr(fields, name)
            if value is not None:
                changes[name] = value
        if fields.custom:
            changes["fields"] = {**issue.fields, **fields.custom}
        changes.update(self._catalog_changes(issue.project, fields))
        self._record(issue, self._write(key, **changes), self.user)
        if fields.parent is not None:  # issue 18: "" removes it
            self._with_parent(self._issue(key), fields.parent or None)

    def transition_issue(self, key: str, to_status: str) -> bool:
        self._call("transition_issue")
        issue = self._issue(key)
        current = issue.status or ""
        if current.lower() == to_status.lower():
            return True
        if self.workflow is None:
            target: str | None = to_status
        else:
            reachable = self.workflow.get(current, ())
            target = next((s for s in reachable if s.lower() == to_status.lower()), None)
        if target is None:
            return False
        self._write(key, status=target)
        return True

    def delete_issue(self, key: str) -> None:
        self._call("delete_issue")
        issue = self._issue(key)
        del self.issues[key]
        for attachment in issue.attachments:
            self.blobs.pop(attachment.id, None)
        for prop in [p for p in self.properties if p[0] == key]:
            del self.properties[prop]

    def add_comment(
        self,
        key: str,
        body: Body,
        *,
        public: bool = True,
        visibility: CommentVisibility | None = None,
    ) -> Comment:
        self._call("add_comment")
        issue = self._issue(key)
        stamp = self.now()
        comment = Comment(
            id=str(next(self._ids)),
            author=self.user,
            created=stamp,
            updated=stamp,
            body=body,
            public=public,
        )
        if not public:  # whom Jira would show it to
            self.restricted_to[comment.id] = visibility or DEFAULT_PRIVATE_VISIBILITY
        self._write(key, comments=(*issue.comments, comment))
        return comment

    def update_comment(self, key: str, comment_id: str, body: Body) -> Comment:
        self._call("update_comment")
        issue = self._issue(key)
        for c in issue.comments:
            if c.id == comment_id:
                updated = replace(c, body=body, updated=self.now())
                comments = tuple(updated if x.id == comment_id else x for x in issue.comments)
                self._write(key, comments=comments)
                return updated
        raise base.NotFound(f"comment {comment_id} does not exist", status=404)

    def delete_comment(self, key: str, comment_id: str) -> None:
        self._call("delete_comment")
        issue = self._issue(key)
        if all(c.id != comment_id for c in issue.comments):
            raise base.NotFound(f"comment {comment_id} does not exist", status=404)
        self._write(key, comments=tuple(c for c in issue.comments if c.id != comment_id))

    def download_attachment(self, attachment_id: str) -> bytes:
        self._call("download_attachment")
        if attachment_id not in self.blobs:
            raise base.NotFound(f"attachment {attachment_id} does not exist", status=404)
        return self.blobs[attachment_id]

    def upload_attachment(self, key: str, filename: str, data: bytes, mime_type: str) -> Attachment:
        self._call("upload_attachment")
        issue = self._issue(key)
        if self.attachment_limit is not None and len(data) > self.attachment_limit:
            raise base.TooLarge(f"{filename} is over the limit", limit=self.attachment_limit)
        attachment = Attachment(
            id=str(next(self._ids)),
            filename=filename,
            size=len(data),
            mime_type=mime_type,
            created=self.now(),
            author=self.user,
        )
        self.blobs[attachment.id] = data
        self._write(key, attachments=(*issue.attachments, attachment))
        return attachment

    def delete_attachment(self, attachment_id: str) -> None:
        self._call("delete_attachment")
        if self.blobs.pop(attachment_id, None) is None:
            raise base.NotFound(f"attachment {attachment_id} does not exist", status=404)
        for key, issue in list(self.issues.items()):
            kept = tuple(a for a in issue.attachments if a.id != attachment_id)
            if kept != issue.attachments:
                self._write(key, attachments=kept)

    def list_projects(self) -> list[Project]:
        self._call("list_projects")
        return list(self.projects.values())

    def get_project(self, key: str) -> Project:
        self._call("get_project")
        return self._project(key)

    def _project(self, key: str) -> Project:
        if key not in self.projects:
            raise base.NotFound(f"project {key} does not exist", status=404)
        return self.projects[key]

    def set_issue_property(self, key: str, name: str, value: Any) -> None:
        self._call("set_issue_property")
        self._issue(key)
        self.properties[(key, name)] = value

    def get_issue_property(self, key: str, name: str) -> Any | None:
        self._call("get_issue_property")
        self._issue(key)
        return self.properties.get((key, name))

    def put_remote_link(self, key: str, link: base.RemoteLink) -> None:
        self._call("put_remote_link")
        self._issue(key)
        self.links.setdefault(key, {})[link.global_id] = link

    def delete_remote_link(self, key: str, global_id: str) -> bool:
        self._call("delete_remote_link")
        self._issue(key)
        return self.links.get(key, {}).pop(global_id, None) is not None

    def remote_links(self, key: str) -> list[base.RemoteLink]:
        self._call("remote_links")
        self._issue(key)
        return list(self.links.get(key, {}).values())

    # --- issue 18: links and worklogs (``TrackerRelations``) --------------------------------

    def list_link_types(self) -> list[base.LinkType]:
        self._call("list_link_types")
        return list(self.link_types)

    def _link(self, link_type: str, source: str, destination: str) -> str:
        kind = next((t for t in self.link_types if t.name.lower() == link_type.lower()), None)
        if kind is None:
            raise base.NotFound(f"No issue link type with name '{link_type}' found.", status=404)
        self._issue(source)
        self._issue(destination)
        link_id = str(next(self._ids))
        out = base.IssueLink(link_id, kind.name, "outward", destination)
        self._write(source, links=(*self.issues[source].links, out))
        back = base.IssueLink(link_id, kind.name, "inward", source)
        self._write(destination, links=(*self.issues[destination].links, back))
        return link_id

    def add_issue_link(self, link_type: str, inward_key: str, outward_key: str) -> None:
        """As Jira's ``POST issueLink``: ``inward_key`` is the link's source."""
        self._call("add_issue_link")
        self._link(link_type, inward_key, outward_key)

    def delete_issue_link(self, link_id: str) -> None:
        self._call("delete_issue_link")
        holders = [k for k, i in self.issues.items() if any(x.id == link_id for x in i.links)]
        if not holders:
            raise base.NotFound(f"issue link {link_id} does not exist", status=404)
        for key in holders:
            self._write(key, links=tuple(x for x in self.issues[key].links if x.id != link_id))

    def list_worklogs(self, key: str) -> list[base.Worklog]:
        self._call("list_worklogs")
        return list(self._issue(key).worklogs)

    def _add_worklog(
        self, key: str, author: User, *, started: str, seconds: int, comment: Body | None
    ) -> base.Worklog:
        issue = self._issue(key)
        stamp = self.now()
        worklog = base.Worklog(
            id=str(next(self._ids)),
            started=_worklog_time(started),
            seconds=int(seconds),
            author=author,
            comment=comment,
            created=stamp,
            updated=stamp,
        )
        self._write(key, worklogs=(*issue.worklogs, worklog))
        return worklog

    def add_worklog(
        self, key: str, *, started: str, seconds: int, comment: Body | None = None
    ) -> base.Worklog:
        self._call("add_worklog")
        return self._add_worklog(key, self.user, started=started, seconds=seconds, comment=comment)

    def update_worklog(
        self,
        key: str,
        worklog_id: str,
        *,
        started: str | None = None,
        seconds: int | None = None,
        comment: Body | None = None,
    ) -> base.Worklog:
        self._call("update_worklog")
        issue = self._issue(key)
        for w in issue.worklogs:
            if w.id == worklog_id:
                changed = replace(
                    w,
                    started=_worklog_time(started) if started is not None else w.started,
                    seconds=int(seconds) if seconds is not None else w.seconds,
                    comment=comment if comment is not None else w.comment,
                    updated=self.now(),
                )
                kept = tuple(changed if x.id == worklog_id else x for x in issue.worklogs)
                self._write(key, worklogs=kept)
                return changed
        raise base.NotFound(f"worklog {worklog_id} does not exist", status=404)

    def delete_worklog(self, key: str, worklog_id: str) -> None:
        self._call("delete_worklog")
        issue = self._issue(key)
        if all(w.id != worklog_id for w in issue.worklogs):
            raise base.NotFound(f"worklog {worklog_id} does not exist", status=404)
        self._write(key, worklogs=tuple(w for w in issue.worklogs if w.id != worklog_id))

    def find_issues_with_property(
        self, project: str, name: str, value: Any, *, created_within_hours: int = 24
    ) -> list[str]:
        self._call("find_issues_with_property")
        return [
            key
            for (key, prop), stored in self.properties.items()
            if prop == name and stored == value and self.issues[key].project == project
        ]

    def check_jql(self, jql: str) -> None:
        self._call("check_jql")
        _Query(jql, self.now())

    # --- hierarchy (issue 18) -----------------------------------------------------------------

    def set_parent(self, key: str, parent_key: str | None) -> None:
        self._call("set_parent")
        self._with_parent(self._issue(key), parent_key)

    def list_issue_types(self, project: str) -> list[base.IssueType]:
        self._call("list_issue_types")
        known = self._project(project)
        return [
            *(base.IssueType(id=n, name=n) for n in known.issue_types),
            *(base.IssueType(id=n, name=n, subtask=True) for n in known.subtask_types),
        ]

    def _with_parent(self, issue: Issue, parent_key: str | None) -> Issue:
        """Jira's rules: a sub-task always has a parent, which is no sub-task itself."""
        subtasks = self._project(issue.project).subtask_types
        if issue.issue_type in subtasks and not parent_key:
            raise base.InvalidRequest("a sub-task needs a parent", field_errors={"parent": "x"})
        if parent_key is not None:
            parent = self.issues.get(parent_key)
            if parent is None or parent.issue_type in subtasks or parent_key == issue.key:
                message = f"issue {parent_key} cannot be the parent of {issue.key}"
                raise base.InvalidRequest(message, field_errors={"parent": message})
        if issue.parent == parent_key:
            return issue
        return self._write(issue.key, parent=parent_key)


# --- times and keys ---------------------------------------------------------------------------


def _parse_time(stamp: str) -> datetime:
    return datetime.strptime(stamp, _TIME_FORMAT)


def _text(body: Body | None) -> str | None:
    """A body as Jira's changelog gives it (wiki markup as it is; ADF as its text)."""
    if body is None or body.value in (None, ""):
        return None
    if isinstance(body.value, str):
        return body.value
    return " ".join(_adf_texts(body.value))


def _adf_texts(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["text"]] if isinstance(node.get("text"), str) else []
        return own + [t for child in node.get("content") or () for t in _adf_texts(child)]
    return []


def _jira_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _worklog_time(text: str) -> str:
    """A worklog's ``started`` as Jira keeps it (UTC, ``+0000``)."""
    from chalicelib.trackers.jira_worklogs import jira_started

    return jira_started(text)


def _key_order(issue: Issue) -> tuple[str, int]:
    project, _, number = issue.key.rpartition("-")
    return project, int(number or 0)


def _adf(text: str) -> dict[str, Any]:
    paragraph = {"type": "paragraph", "content": [{"type": "text", "text": text}]}
    return {"type": "doc", "version": 1, "content": [paragraph]}


# --- the JQL subset -----------------------------------------------------------------------------

Predicate = Callable[[Issue], bool]

_TOKEN = re.compile(r'\s*(?:(\()|(\))|(,)|"([^"]*)"|(!=|>=|<=|=|~)|([A-Za-z0-9_.\-]+))')


def _bad(detail: str) -> base.InvalidRequest:
    message = f"Error in the JQL Query: {detail}"
    return base.InvalidRequest(message, error_messages=(message,))


def _tokens(text: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise _bad(f"unexpected character at {pos + 1}")
        lp, rp, comma, string, op, word = match.groups()
        if lp:
            found.append(("(", lp))
        elif rp:
            found.append((")", rp))
        elif comma:
            found.append((",", comma))
        elif string is not None:
            found.append(("str", string))
        elif op:
            found.append(("op", op))
        else:
            found.append(("word", word))
        pos = match.end()
    return found


class _Query:
    """A parsed query: ``matches(issue)`` and whether it is ordered by ``updated``.

    Parsing raises ``InvalidRequest`` for anything outside the subset.
    """

    def __init__(self, text: str, now: str) -> None:
        where, *order = re.split(r"\bORDER\s+BY\b", text, maxsplit=1, flags=re.IGNORECASE)
        self.by_updated = bool(order) and order[0].strip().lower().startswith("updated")
        self.now = now
        self.tokens = _tokens(where)
        self.i = 0
        self.matches = self._parse()

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise _bad("the query ends too early")
        self.i += 1
        return token

    def _is_word(self, token: tuple[str, str] | None, text: str) -> bool:
        return token is not None and token[0] == "word" and token[1].lower() == text

    def _parse(self) -> Predicate:
        if not self.tokens:
            return lambda issue: True
        node = self._or()
        rest = self._peek()
        if rest is not None:
            raise _bad(f"unexpected {rest[1]!r}")
        return node

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._is_word(self._peek(), "or"):
            self._take()
            parts.append(self._and())
        return lambda issue: any(p(issue) for p in parts)

    def _and(self) -> Predicate:
        parts = [self._not()]
        while self._is_word(self._peek(), "and"):
            self._take()
            parts.append(self._not())
        return lambda issue: all(p(issue) for p in parts)

    def _not(self) -> Predicate:
        if self._is_word(self._peek(), "not"):
            self._take()
            inner = self._not()
            return lambda issue: not inner(issue)
        if self._peek() == ("(", "("):
            self._take()
            inner = self._or()
            if self._take()[0] != ")":
                raise _bad("expected ')'")
            return inner
        return self._clause()

    def _clause(self) -> Predicate:
        name = self._take()
        if name[0] != "word":
            raise _bad(f"expected a field, got {name[1]!r}")
        op = self._take()
        if self._is_word(op, "in"):
            if self._take()[0] != "(":
                raise _bad("expected '('")
            values = []
            while True:
                token = self._take()
                if token[0] == ")":
                    break
                if token[0] != ",":
                    values.append(token[1])
            return self._field(name[1].lower(), "in", values)
        value = self._take()
        if op[0] != "op" or value[0] not in ("word", "str"):
            raise _bad(f"bad clause near {name[1]!r}")
        return self._field(name[1].lower(), op[1], [value[1]])

    def _field(self, name: str, op: str, values: list[str]) -> Predicate:
        wanted = op != "!="
        if name in ("key", "issuekey"):
            return lambda issue: (issue.key in values) == wanted
        if name == "project":
            return lambda issue: (issue.project in values) == wanted
        if name == "labels":
            return lambda issue: any(v in issue.labels for v in values) == wanted
        if name == "updated" and op == ">=":
            match = re.fullmatch(r"-(\d+)m", values[0])
            if not match:
                raise _bad(f"Date value '{values[0]}' for field 'updated' is invalid.")
            since = _parse_time(self.now) - timedelta(minutes=int(match.group(1)))
            return lambda issue: _parse_time(issue.updated) >= since
        if name == "summary" and op == "~":
            words = values[0].lower().split()
            return lambda issue: all(w in issue.summary.lower() for w in words)
        raise _bad(f"Field '{name}' does not exist or you do not have permission to view it.")
