"""The tracker protocol: the one interface the sync code uses to read and write issues.

Adapters (``jira_cloud``, ``jira_server``) translate it to a tracker's REST API. Values
crossing the interface are small frozen types; bodies carry their own format so the
receiving side decides how to convert them. Errors are typed so the queue layer can tell
"wait and retry" (``RateLimited``, ``Unavailable``) from "this will never work".

    TrackerError
    ├── NotFound            the issue, comment, attachment or project does not exist
    ├── PermissionDenied    bad credentials (401) or no permission (403)
    ├── RateLimited         429; ``retry_after`` seconds to wait (from Retry-After)
    ├── Unavailable         5xx, timeout, connection refused: retry later
    ├── InvalidRequest      400; ``field_errors`` holds Jira's per-field messages
    └── TooLarge            413 / over the attachment limit; ``limit`` bytes if known
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol, runtime_checkable

import msgspec

# Errors, change events, a comment's visibility and Jira's times live in modules of their
# own (not the adapters' value types below): the paths that only catch a
# tracker error, read a webhook's change or a connection's privacy do not import this
# module (issue 19, cold start). Named here too.
from chalicelib.trackers.changes import ChangeEvent as ChangeEvent
from chalicelib.trackers.changes import ChangeKind as ChangeKind
from chalicelib.trackers.changes import utc_time as utc_time
from chalicelib.trackers.errors import InvalidRequest as InvalidRequest
from chalicelib.trackers.errors import NotFound as NotFound
from chalicelib.trackers.errors import PermissionDenied as PermissionDenied
from chalicelib.trackers.errors import RateLimited as RateLimited
from chalicelib.trackers.errors import TooLarge as TooLarge
from chalicelib.trackers.errors import TrackerError as TrackerError
from chalicelib.trackers.errors import Unavailable as Unavailable
from chalicelib.trackers.visibility import DEFAULT_PRIVATE_VISIBILITY as DEFAULT_PRIVATE_VISIBILITY
from chalicelib.trackers.visibility import CommentVisibility as CommentVisibility

BodyFormat = Literal["adf", "wiki", "text"]


# --- values -----------------------------------------------------------------------------


class User(msgspec.Struct, frozen=True):
    """A tracker account: ``id`` is the accountId (Cloud) or the user key/name (Server)."""

    id: str
    name: str
    email: str | None = None  # issue 18: filled by user lookups, when Jira shows it
    # Server's username (``name``), beside its key in ``id``; Cloud has none
    username: str | None = None


class Body(msgspec.Struct, frozen=True):
    """Rich text in the tracker's own format: ADF (a dict) or wiki markup / text (a str)."""

    format: BodyFormat
    value: Any


class Comment(msgspec.Struct, frozen=True):
    id: str
    author: User
    created: str
    updated: str
    body: Body
    public: bool = True


class Attachment(msgspec.Struct, frozen=True):
    id: str
    filename: str
    size: int
    mime_type: str
    created: str = ""
    author: User | None = None


class LinkType(msgspec.Struct, frozen=True):
    """A kind of issue link: ``Blocks`` reads "blocks" outward, "is blocked by" inward."""

    id: str
    name: str
    inward: str
    outward: str


class IssueLink(msgspec.Struct, frozen=True):
    """A link as one issue sees it: ``direction`` "outward" means this issue is the link's
    source (this issue <type.outward> ``issue_key``), "inward" its destination."""

    id: str
    type: str  # the link type's name
    direction: Literal["inward", "outward"]
    issue_key: str


class IssueType(msgspec.Struct, frozen=True):
    """An issue type of a project; a ``subtask`` type needs a parent. ``hierarchy_level``
    is Cloud's (-1 sub-task, 0 standard, 1 epic); Server says none (``None``)."""

    id: str
    name: str
    subtask: bool = False
    hierarchy_level: int | None = None


class Component(msgspec.Struct, frozen=True):
    id: str
    name: str
    description: str = ""


class ProjectVersion(msgspec.Struct, frozen=True):
    """A project's version (Jira's fix and affects versions); ``release_date`` YYYY-MM-DD."""

    id: str
    name: str
    description: str = ""
    released: bool = False
    archived: bool = False
    release_date: str | None = None


class Worklog(msgspec.Struct, frozen=True):
    """Time logged on an issue: ``started`` in Jira's format, ``seconds`` spent."""

    id: str
    started: str
    seconds: int
    author: User | None = None
    comment: Body | None = None
    created: str = ""
    updated: str = ""


class FieldChange(msgspec.Struct, frozen=True):
    """One changelog item: a field's change, who made it and when (issue 19: an edit our
    write replaced is found here). ``field`` as the changelog names it, lower case
    (``summary``, ``issuetype``, ``description``); ``at`` UTC with milliseconds;
    ``author_id`` the user's id as :class:`User` has it (None: anonymous); ``to`` and
    ``to_string`` the new value's id and text as Jira gives them."""

    field: str
    at: str
    author_id: str | None = None
    to: str | None = None
    to_string: str | None = None


class Issue(msgspec.Struct, frozen=True):
    id: str
    key: str
    project: str
    url: str
    summary: str
    description: Body | None
    issue_type: str
    labels: tuple[str, ...] = ()
    priority: str | None = None
    status: str | None = None
    created: str = ""
    updated: str = ""
    comments: tuple[Comment, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    fields: Mapping[str, Any] = msgspec.field(default_factory=dict)
    # field (as the changelog names it: summary, description, issuetype, …) -> when it last
    # changed, from the issue's changelog; empty when the tracker did not say
    changed_at: Mapping[str, str] = msgspec.field(default_factory=dict)
    # issue 19: the changelog's field changes, oldest first (empty when not read)
    history: tuple[FieldChange, ...] = ()
    # issue 18: relations, parsed from the issue's fields
    links: tuple[IssueLink, ...] = ()
    # the parent's key: Cloud's ``parent`` (sub-task or epic child), Server's sub-task
    # ``parent`` or its ``Epic Link``
    parent: str | None = None
    components: tuple[str, ...] = ()  # names
    fix_versions: tuple[str, ...] = ()  # names
    versions: tuple[str, ...] = ()  # affects versions, names
    due_date: str | None = None  # YYYY-MM-DD
    environment: Body | None = None
    assignee: User | None = None
    reporter: User | None = None
    resolution: str | None = None  # its name; None while unresolved
    # the issue's worklogs as the issue shows them (Jira includes up to 20; the adapter
    # lists the rest when there are more)
    worklogs: tuple[Worklog, ...] = ()


class IssueRef(msgspec.Struct, frozen=True):
    id: str
    key: str
    url: str


class IssueFields(msgspec.Struct, frozen=True):
    """Fields to set when creating or updating an issue; ``None`` means "leave as is".

    ``custom`` is keyed by field name as Jira shows it (``{"Customer": "ACME"}``); the
    adapter translates names to field ids (a ``customfield_NNNNN`` id is taken as is).
    Status is not a field: it changes through workflow transitions (``transition_issue``).
    """

    summary: str | None = None
    description: Body | None = None
    issue_type: str | None = None
    labels: tuple[str, ...] | None = None
    priority: str | None = None
    custom: Mapping[str, Any] = msgspec.field(default_factory=dict)
    properties: Mapping[str, Any] = msgspec.field(default_factory=dict)  # set on create
    # issue 18: the parent issue's key (a sub-task's parent, an epic); the adapter writes
    # it the way its flavour does (see ``TrackerRelations.set_parent``); ``""`` removes it
    parent: str | None = None
    # by name, as the project has them (Jira refuses an unknown name: InvalidRequest);
    # an empty tuple clears, as ``due_date=""`` does
    components: tuple[str, ...] | None = None
    fix_versions: tuple[str, ...] | None = None
    versions: tuple[str, ...] | None = None
    due_date: str | None = None
    environment: Body | None = None
    resolution: str | None = None  # a name; "" clears it (where the edit screen has it)


class RemoteLink(msgspec.Struct, frozen=True):
    """A remote issue link: a link on an issue to an item elsewhere (Jira's ``remotelink``).

    ``global_id`` names it for updates and removal (one link per ``global_id`` and issue).
    """

    global_id: str
    url: str
    title: str
    summary: str = ""
    relationship: str = ""
    application: str = ""


class Project(msgspec.Struct, frozen=True):
    key: str
    name: str
    issue_types: tuple[str, ...]
    default_issue_type: str | None = None
    # issue 18: the project's sub-task types (a sub-task needs a parent; not in issue_types)
    subtask_types: tuple[str, ...] = ()


class SearchPage(msgspec.Struct, frozen=True):
    """One page of a JQL search; ``next_cursor`` is ``None`` on the last page.

    ``next_cursor`` continues right after the last issue of this page even when results
    move meanwhile (an issue updated or deleted between pages): an issue may come again,
    none that still matches is skipped. Cloud's ``nextPageToken`` does this itself; the
    Server adapter checks where its offset landed.
    """

    issues: tuple[IssueRef, ...]
    next_cursor: str | None = None
    total: int | None = None
    updated: Mapping[str, str] = msgspec.field(default_factory=dict)  # key -> updated time


# --- the protocol -----------------------------------------------------------------------


@runtime_checkable
class Tracker(Protocol):
    """What the sync code needs from an issue tracker, and nothing more."""

    @property
    def kind(self) -> str: ...

    body_format: BodyFormat
    attachment_limit: int | None

    def myself(self) -> User: ...

    def get_issue(self, key: str) -> Issue: ...

    def search(self, jql: str, *, cursor: str | None = None, limit: int = 50) -> SearchPage: ...

    def create_issue(self, project: str, fields: IssueFields) -> IssueRef: ...

    def update_issue(self, key: str, fields: IssueFields) -> None: ...

    def delete_issue(self, key: str) -> None: ...

    def transition_issue(self, key: str, to_status: str) -> bool:
        """Move the issue to the status named ``to_status`` (case-insensitive) through a
        workflow transition; ``False`` when no transition available now leads there."""
        ...

    def add_comment(
        self,
        key: str,
        body: Body,
        *,
        public: bool = True,
        visibility: CommentVisibility | None = None,
    ) -> Comment:
        """``public=False`` restricts the comment to ``visibility`` (by default
        :data:`DEFAULT_PRIVATE_VISIBILITY`)."""
        ...

    def update_comment(self, key: str, comment_id: str, body: Body) -> Comment: ...

    def delete_comment(self, key: str, comment_id: str) -> None: ...

    def download_attachment(self, attachment_id: str) -> bytes: ...

    def upload_attachment(
        self, key: str, filename: str, data: bytes, mime_type: str
    ) -> Attachment: ...

    def delete_attachment(self, attachment_id: str) -> None: ...

    def list_projects(self) -> list[Project]: ...

    def get_project(self, key: str) -> Project: ...

    def set_issue_property(self, key: str, name: str, value: Any) -> None: ...

    def get_issue_property(self, key: str, name: str) -> Any | None: ...

    def put_remote_link(self, key: str, link: RemoteLink) -> None:
        """Create the remote link, or update the one with the same ``global_id``."""
        ...

    def delete_remote_link(self, key: str, global_id: str) -> bool:
        """Remove the issue's remote link named ``global_id``; False when there is none."""
        ...

    def remote_links(self, key: str) -> list[RemoteLink]: ...

    def find_issues_with_property(
        self, project: str, name: str, value: Any, *, created_within_hours: int = 24
    ) -> list[str]: ...

    def check_jql(self, jql: str) -> None: ...


@runtime_checkable
class TrackerRelations(Protocol):
    """Issue 18: what an issue hangs together with (links, parents, worklogs, components,
    versions, users). Separate from :class:`Tracker` so that trackers and wrappers without
    these operations still satisfy the core protocol."""

    def list_link_types(self) -> list[LinkType]: ...

    def add_issue_link(self, link_type: str, inward_key: str, outward_key: str) -> None:
        """Link two issues as Jira's ``POST issueLink`` names them: ``inward_key`` becomes
        the link's source (it <outward description> ``outward_key``)."""
        ...

    def delete_issue_link(self, link_id: str) -> None: ...

    def list_issue_types(self, project: str) -> list[IssueType]:
        """Every issue type of a project, sub-task types included (``subtask``)."""
        ...

    def list_worklogs(self, key: str) -> list[Worklog]: ...

    def add_worklog(
        self, key: str, *, started: str, seconds: int, comment: Body | None = None
    ) -> Worklog:
        """``started``: any ISO 8601 time (sent in Jira's ``2026-12-01T09:30:00.000+0000``)."""
        ...

    def update_worklog(
        self,
        key: str,
        worklog_id: str,
        *,
        started: str | None = None,
        seconds: int | None = None,
        comment: Body | None = None,
    ) -> Worklog: ...

    def delete_worklog(self, key: str, worklog_id: str) -> None: ...

    def list_components(self, project: str) -> list[Component]: ...

    def create_component(self, project: str, name: str, description: str = "") -> Component: ...

    def list_versions(self, project: str) -> list[ProjectVersion]: ...

    def create_version(
        self,
        project: str,
        name: str,
        *,
        description: str = "",
        released: bool = False,
        release_date: str | None = None,
    ) -> ProjectVersion: ...

    def find_user_by_email(self, email: str) -> User | None:
        """The active user with this address (Cloud finds a hidden address only whole)."""
        ...

    def get_user(self, user_id: str) -> User:
        """A user by ``User.id`` (accountId on Cloud, key on Server); ``NotFound``."""
        ...

    def set_assignee(self, key: str, user_id: str | None) -> None:
        """Assign to ``User.id`` (``None``: unassign)."""
        ...

    def set_reporter(self, key: str, user_id: str) -> None: ...

    def set_parent(self, key: str, parent_key: str | None) -> None:
        """Make ``parent_key`` the issue's parent (``None``: none). Cloud sets ``parent``
        for sub-tasks and epic children alike; Server sets a sub-task's ``parent`` and any
        other issue's ``Epic Link``."""
        ...
