"""An in-memory tracker implementing the tracker protocol, for functional tests of sync stages.

It behaves like the protocol promises (typed errors, attribution to the integration user,
an attachment limit) so stages can be tested without HTTP; the contract tests prove the
real adapters against the sandbox Jira.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Any

from chalicelib.trackers.base import (
    Attachment,
    Body,
    BodyFormat,
    Comment,
    Issue,
    IssueFields,
    IssueRef,
    NotFound,
    Project,
    SearchPage,
    TooLarge,
    User,
)

BOT = User(id="acc-bot", name="Twinsync Bot")
STAMP = "2026-01-02T10:00:00.000+0000"


@dataclass
class FakeTracker:
    kind: str = "jira_server"
    body_format: BodyFormat = "wiki"
    attachment_limit: int | None = None
    projects: dict[str, Project] = field(default_factory=dict)
    issues: dict[str, Issue] = field(default_factory=dict)
    properties: dict[tuple[str, str], Any] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    user: User = BOT
    _ids: Any = field(default_factory=lambda: itertools.count(100))

    def _next(self) -> str:
        return str(next(self._ids))

    def _get(self, key: str) -> Issue:
        if key not in self.issues:
            raise NotFound(f"Issue {key} does not exist", status=404)
        return self.issues[key]

    def myself(self) -> User:
        self.calls.append("myself")
        return self.user

    def get_issue(self, key: str) -> Issue:
        self.calls.append(f"get_issue {key}")
        return self._get(key)

    def search(self, jql: str, *, cursor: str | None = None, limit: int = 50) -> SearchPage:
        self.calls.append(f"search {jql}")
        refs = tuple(IssueRef(i.id, i.key, i.url) for i in self.issues.values())
        return SearchPage(issues=refs, updated={i.key: i.updated for i in self.issues.values()})

    def create_issue(self, project: str, fields: IssueFields) -> IssueRef:
        self.calls.append(f"create_issue {project}")
        if project not in self.projects:
            from chalicelib.trackers.base import InvalidRequest

            raise InvalidRequest("valid project is required", field_errors={"project": "bad"})
        number = sum(1 for k in self.issues if k.startswith(project + "-")) + 1
        key = f"{project}-{number}"
        issue = Issue(
            id=self._next(),
            key=key,
            project=project,
            url=f"http://tracker.test/browse/{key}",
            summary=fields.summary or "",
            description=fields.description,
            issue_type=fields.issue_type or "Task",
            created=STAMP,
            updated=STAMP,
        )
        self.issues[key] = issue
        for name, value in fields.properties.items():
            self.properties[(key, name)] = value
        return IssueRef(issue.id, key, issue.url)

    def update_issue(self, key: str, fields: IssueFields) -> None:
        self.calls.append(f"update_issue {key}")
        issue = self._get(key)
        changes: dict[str, Any] = {}
        if fields.summary is not None:
            changes["summary"] = fields.summary
        if fields.description is not None:
            changes["description"] = fields.description
        if fields.issue_type is not None:
            changes["issue_type"] = fields.issue_type
        self.issues[key] = replace(issue, **changes)

    def delete_issue(self, key: str) -> None:
        self.issues.pop(key, None)

    def transition_issue(self, key: str, to_status: str) -> bool:
        self.calls.append(f"transition_issue {key} {to_status}")
        self.issues[key] = replace(self._get(key), status=to_status)
        return True

    def add_comment(self, key: str, body: Body, *, public: bool = True) -> Comment:
        self.calls.append(f"add_comment {key}")
        issue = self._get(key)
        comment = Comment(self._next(), self.user, STAMP, STAMP, body, public)
        self.issues[key] = replace(issue, comments=(*issue.comments, comment))
        return comment

    def update_comment(self, key: str, comment_id: str, body: Body) -> Comment:
        self.calls.append(f"update_comment {key}")
        issue = self._get(key)
        found = [c for c in issue.comments if c.id == comment_id]
        if not found:
            raise NotFound("no comment", status=404)
        new = replace(found[0], body=body)
        self.issues[key] = replace(
            issue, comments=tuple(new if c.id == comment_id else c for c in issue.comments)
        )
        return new

    def delete_comment(self, key: str, comment_id: str) -> None:
        self.calls.append(f"delete_comment {key}")
        issue = self._get(key)
        if not any(c.id == comment_id for c in issue.comments):
            raise NotFound("no comment", status=404)
        self.issues[key] = replace(
            issue, comments=tuple(c for c in issue.comments if c.id != comment_id)
        )

    def download_attachment(self, attachment_id: str) -> bytes:
        if attachment_id not in self.blobs:
            raise NotFound("no attachment", status=404)
        return self.blobs[attachment_id]

    def upload_attachment(self, key: str, filename: str, data: bytes, mime_type: str) -> Attachment:
        self.calls.append(f"upload_attachment {key}")
        if self.attachment_limit is not None and len(data) > self.attachment_limit:
            raise TooLarge("too large", limit=self.attachment_limit)
        issue = self._get(key)
        attachment = Attachment(self._next(), filename, len(data), mime_type, STAMP, self.user)
        self.blobs[attachment.id] = data
        self.issues[key] = replace(issue, attachments=(*issue.attachments, attachment))
        return attachment

    def delete_attachment(self, attachment_id: str) -> None:
        self.blobs.pop(attachment_id, None)

    def list_projects(self) -> list[Project]:
        return list(self.projects.values())

    def get_project(self, key: str) -> Project:
        if key not in self.projects:
            raise NotFound(f"No project {key}", status=404)
        return self.projects[key]

    def set_issue_property(self, key: str, name: str, value: Any) -> None:
        self.properties[(key, name)] = value

    def get_issue_property(self, key: str, name: str) -> Any | None:
        return self.properties.get((key, name))

    def find_issues_with_property(
        self, project: str, name: str, value: Any, *, created_within_hours: int = 24
    ) -> list[str]:
        self.calls.append(f"find_issues_with_property {project}")
        return [k for (k, n), v in self.properties.items() if n == name and v == value]

    def check_jql(self, jql: str) -> None:
        return None
