"""An in-memory tracker that implements the tracker protocol (for functional tests).

It keeps the protocol's contract: unknown projects, issues, comments and attachments raise
``NotFound``; keys are ``<PROJECT>-<n>``; a JQL it does not understand raises
``InvalidRequest``. ``fail_with`` makes every call raise a given ``TrackerError`` (an outage);
``refuse`` (call name -> error) makes one kind of call raise it, e.g. a 400 to every create.
Issues start in "To Do"; ``workflow`` (status -> statuses reachable from it, ``None``: any)
decides what ``transition_issue`` may do. Custom fields are kept by the name they are set by.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

from chalicelib.trackers import base
from chalicelib.trackers.base import (
    Attachment,
    Body,
    Comment,
    Issue,
    IssueFields,
    IssueRef,
    Project,
    SearchPage,
    User,
)

INTEGRATION_USER = User(id="bot", name="Twinsync bot")


class MemoryTracker:
    kind = "jira_cloud"
    body_format: base.BodyFormat = "adf"
    attachment_limit: int | None = None

    def __init__(self, url: str = "https://tracker.test", projects: list[Project] | None = None):
        self.url = url.rstrip("/")
        self.projects: dict[str, Project] = {p.key: p for p in projects or []}
        self.issues: dict[str, Issue] = {}
        self.properties: dict[tuple[str, str], Any] = {}
        self.blobs: dict[str, bytes] = {}
        self.fail_with: base.TrackerError | None = None
        self.refuse: dict[str, base.TrackerError] = {}
        self.calls: list[str] = []
        self.workflow: dict[str, tuple[str, ...]] | None = None
        self._ids = itertools.count(10_000)

    @classmethod
    def with_projects(cls, *keys: str, url: str = "https://tracker.test") -> MemoryTracker:
        return cls(
            url,
            [
                Project(
                    key=k,
                    name=f"Project {k}",
                    issue_types=("Task", "Bug", "Story"),
                    default_issue_type="Task",
                )
                for k in keys
            ],
        )

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if self.fail_with is not None:
            raise self.fail_with
        if name in self.refuse:
            raise self.refuse[name]

    def _issue(self, key: str) -> Issue:
        if key not in self.issues:
            raise base.NotFound(f"issue {key} does not exist", status=404)
        return self.issues[key]

    # --- the protocol ---------------------------------------------------------------------

    def myself(self) -> User:
        self._call("myself")
        return INTEGRATION_USER

    def get_issue(self, key: str) -> Issue:
        self._call("get_issue")
        return self._issue(key)

    def search(self, jql: str, *, cursor: str | None = None, limit: int = 50) -> SearchPage:
        self._call("search")
        self.check_jql(jql)
        refs = tuple(IssueRef(id=i.id, key=i.key, url=i.url) for i in self.issues.values())
        start = int(cursor or 0)
        page = refs[start : start + limit]
        more = start + limit < len(refs)
        return SearchPage(issues=page, next_cursor=str(start + limit) if more else None)

    def create_issue(self, project: str, fields: IssueFields) -> IssueRef:
        self._call("create_issue")
        self.get_project(project)
        number = sum(1 for i in self.issues.values() if i.project == project) + 1
        key = f"{project}-{number}"
        issue = Issue(
            id=str(next(self._ids)),
            key=key,
            project=project,
            url=f"{self.url}/browse/{key}",
            summary=fields.summary or "",
            description=fields.description,
            issue_type=fields.issue_type or "Task",
            labels=fields.labels or (),
            priority=fields.priority,
            status="To Do",
            fields=dict(fields.custom),
        )
        self.issues[key] = issue
        for name, value in fields.properties.items():
            self.properties[(key, name)] = value
        return IssueRef(id=issue.id, key=key, url=issue.url)

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
        self.issues[key] = replace(issue, **changes)

    def transition_issue(self, key: str, to_status: str) -> bool:
        self._call("transition_issue")
        issue = self._issue(key)
        current = issue.status or ""
        if current.lower() == to_status.lower():
            return True
        reachable = None if self.workflow is None else self.workflow.get(current, ())
        target = next((s for s in reachable or () if s.lower() == to_status.lower()), None)
        if reachable is None:
            target = to_status
        if target is None:
            return False
        self.issues[key] = replace(issue, status=target)
        return True

    def delete_issue(self, key: str) -> None:
        self._call("delete_issue")
        self._issue(key)
        del self.issues[key]

    def add_comment(self, key: str, body: Body, *, public: bool = True) -> Comment:
        self._call("add_comment")
        issue = self._issue(key)
        comment = Comment(
            id=str(next(self._ids)),
            author=INTEGRATION_USER,
            created="2026-01-01T00:00:00.000+0000",
            updated="2026-01-01T00:00:00.000+0000",
            body=body,
            public=public,
        )
        self.issues[key] = replace(issue, comments=(*issue.comments, comment))
        return comment

    def update_comment(self, key: str, comment_id: str, body: Body) -> Comment:
        self._call("update_comment")
        issue = self._issue(key)
        for c in issue.comments:
            if c.id == comment_id:
                updated = replace(c, body=body)
                comments = tuple(updated if x.id == comment_id else x for x in issue.comments)
                self.issues[key] = replace(issue, comments=comments)
                return updated
        raise base.NotFound(f"comment {comment_id} does not exist", status=404)

    def delete_comment(self, key: str, comment_id: str) -> None:
        self._call("delete_comment")
        issue = self._issue(key)
        if all(c.id != comment_id for c in issue.comments):
            raise base.NotFound(f"comment {comment_id} does not exist", status=404)
        comments = tuple(c for c in issue.comments if c.id != comment_id)
        self.issues[key] = replace(issue, comments=comments)

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
            author=INTEGRATION_USER,
        )
        self.blobs[attachment.id] = data
        self.issues[key] = replace(issue, attachments=(*issue.attachments, attachment))
        return attachment

    def delete_attachment(self, attachment_id: str) -> None:
        self._call("delete_attachment")
        if self.blobs.pop(attachment_id, None) is None:
            raise base.NotFound(f"attachment {attachment_id} does not exist", status=404)
        for key, issue in self.issues.items():
            kept = tuple(a for a in issue.attachments if a.id != attachment_id)
            self.issues[key] = replace(issue, attachments=kept)

    def list_projects(self) -> list[Project]:
        self._call("list_projects")
        return list(self.projects.values())

    def get_project(self, key: str) -> Project:
        self._call("get_project")
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
        if not jql.strip() or jql.count("(") != jql.count(")") or "~~" in jql:
            raise base.InvalidRequest(f"Error in the JQL query: {jql!r}", status=400)
