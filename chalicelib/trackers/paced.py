"""A tracker that counts what the node spends of its budget and keeps Jira Cloud's caps.

It wraps the real adapter (the sync stages get it through ``SyncDeps``), so live sync and
bulk jobs draw from one budget without either knowing about it:

- every call is counted; counts are flushed to the shared usage counter every 25 calls
  or about every half window (one DynamoDB write, not one per call; none while no job is
  under way to read it: :func:`chalicelib.trackers.budget.add_usage`);
- a 429 answer pauses every bulk job for its ``Retry-After`` (the error still goes up, so
  the live stage retries through its queue as before);
- on Jira Cloud, writes to one issue are kept under the per-issue caps: a short wait is
  slept here, a longer one becomes ``RateLimited`` with the wait as ``retry_after``, which
  the stages already turn into a delayed retry of that issue only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from chalicelib.trackers.base import (
    Attachment,
    Body,
    Comment,
    CommentVisibility,
    Component,
    Issue,
    IssueFields,
    IssueRef,
    IssueType,
    LinkType,
    Project,
    ProjectVersion,
    RateLimited,
    RemoteLink,
    SearchPage,
    Tracker,
    User,
    Worklog,
)
from chalicelib.trackers.pacing import IssueWriteCaps, budget_for

log = logging.getLogger("twinsync.ops.paced")

# Issue 19: every second was a write per change on each node at a change a second (the
# counter was a sixth of a change's writes). Jobs read the larger of this window's usage
# and the last's, so counts half a window (5 s of 10) late change no admission, and a
# burst of live calls (what makes jobs yield) is flushed by its count.
FLUSH_EVERY_S = 5.0
FLUSH_AT_CALLS = 25
MAX_INLINE_WAIT_S = 2.5

UsageSink = Callable[[int, float], None]
PauseSink = Callable[[float, float], None]


def _store_usage(kind: str) -> UsageSink:
    def sink(calls: int, now: float) -> None:
        from chalicelib.trackers.budget import add_usage

        add_usage(calls, now, budget_for(kind))

    return sink


def _store_pause(seconds: float, now: float) -> None:
    from chalicelib.trackers.budget import pause

    pause(seconds, now)


class PacedTracker:
    """The :class:`~chalicelib.trackers.base.Tracker` protocol, counted and capped."""

    def __init__(
        self,
        inner: Tracker,
        *,
        usage: UsageSink | None = None,
        on_pause: PauseSink = _store_pause,
        caps: IssueWriteCaps | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.body_format = inner.body_format
        self.attachment_limit = inner.attachment_limit
        self._usage = usage or _store_usage(inner.kind)
        self._on_pause = on_pause
        self._caps = (
            caps if caps is not None else (IssueWriteCaps() if inner.kind == "jira_cloud" else None)
        )
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._pending = 0
        self._flushed_at = clock()

    def __getattr__(self, name: str) -> Any:
        # anything beyond the protocol (an adapter's own helpers) is the inner tracker's
        return getattr(self.inner, name)

    # --- the chokepoint ----------------------------------------------------------------

    def _call(self, fn: Callable[..., Any], *args: Any, issue: str | None = None, **kw: Any) -> Any:
        if issue is not None and self._caps is not None:
            self._keep_cap(issue)
        self._count()
        try:
            return fn(*args, **kw)
        except RateLimited as exc:
            self._pause(exc.retry_after)
            raise

    def _keep_cap(self, issue: str) -> None:
        assert self._caps is not None
        with self._lock:
            wait = self._caps.wait_for(issue, self._clock())
        if wait > MAX_INLINE_WAIT_S:
            raise RateLimited(
                f"{issue}: Jira Cloud's per-issue write cap; next write in {wait:.1f} s",
                retry_after=wait,
                status=None,
            )
        if wait > 0:
            self._sleep(wait)
        with self._lock:
            self._caps.record(issue, self._clock())

    def _count(self) -> None:
        now = self._clock()
        with self._lock:
            self._pending += 1
            if self._pending < FLUSH_AT_CALLS and now - self._flushed_at < FLUSH_EVERY_S:
                return
            calls, self._pending, self._flushed_at = self._pending, 0, now
        try:
            self._usage(calls, now)
        except Exception:  # counting must never break a sync
            log.warning("could not record %d tracker calls in the budget", calls, exc_info=True)

    def flush(self) -> None:
        with self._lock:
            calls, self._pending, self._flushed_at = self._pending, 0, self._clock()
        if calls:
            try:
                self._usage(calls, self._flushed_at)
            except Exception:
                log.warning("could not record %d tracker calls", calls, exc_info=True)

    def _pause(self, seconds: float) -> None:
        try:
            self._on_pause(seconds, self._clock())
        except Exception:
            log.warning("could not record a Retry-After pause", exc_info=True)

    # --- the protocol ------------------------------------------------------------------

    def myself(self) -> User:
        return self._call(self.inner.myself)

    def get_issue(self, key: str) -> Issue:
        return self._call(self.inner.get_issue, key)

    def search(self, jql: str, *, cursor: str | None = None, limit: int = 50) -> SearchPage:
        return self._call(self.inner.search, jql, cursor=cursor, limit=limit)

    def create_issue(self, project: str, fields: IssueFields) -> IssueRef:
        return self._call(self.inner.create_issue, project, fields)

    def update_issue(self, key: str, fields: IssueFields) -> None:
        return self._call(self.inner.update_issue, key, fields, issue=key)

    def transition_issue(self, key: str, to_status: str) -> bool:
        return self._call(self.inner.transition_issue, key, to_status, issue=key)

    def delete_issue(self, key: str) -> None:
        return self._call(self.inner.delete_issue, key, issue=key)

    def add_comment(
        self,
        key: str,
        body: Body,
        *,
        public: bool = True,
        visibility: CommentVisibility | None = None,
    ) -> Comment:
        return self._call(
            self.inner.add_comment, key, body, public=public, visibility=visibility, issue=key
        )

    def update_comment(self, key: str, comment_id: str, body: Body) -> Comment:
        return self._call(self.inner.update_comment, key, comment_id, body, issue=key)

    def delete_comment(self, key: str, comment_id: str) -> None:
        return self._call(self.inner.delete_comment, key, comment_id, issue=key)

    def download_attachment(self, attachment_id: str) -> bytes:
        return self._call(self.inner.download_attachment, attachment_id)

    def upload_attachment(self, key: str, filename: str, data: bytes, mime_type: str) -> Attachment:
        return self._call(self.inner.upload_attachment, key, filename, data, mime_type, issue=key)

    def delete_attachment(self, attachment_id: str) -> None:
        return self._call(self.inner.delete_attachment, attachment_id)

    def list_projects(self) -> list[Project]:
        return self._call(self.inner.list_projects)

    def get_project(self, key: str) -> Project:
        return self._call(self.inner.get_project, key)

    def set_issue_property(self, key: str, name: str, value: Any) -> None:
        return self._call(self.inner.set_issue_property, key, name, value, issue=key)

    def get_issue_property(self, key: str, name: str) -> Any | None:
        return self._call(self.inner.get_issue_property, key, name)

    def put_remote_link(self, key: str, link: RemoteLink) -> None:
        return self._call(self.inner.put_remote_link, key, link, issue=key)

    def delete_remote_link(self, key: str, global_id: str) -> bool:
        return self._call(self.inner.delete_remote_link, key, global_id, issue=key)

    def remote_links(self, key: str) -> list[RemoteLink]:
        return self._call(self.inner.remote_links, key)

    def find_issues_with_property(
        self, project: str, name: str, value: Any, *, created_within_hours: int = 24
    ) -> list[str]:
        return self._call(
            self.inner.find_issues_with_property,
            project,
            name,
            value,
            created_within_hours=created_within_hours,
        )

    def check_jql(self, jql: str) -> None:
        return self._call(self.inner.check_jql, jql)

    # --- issue 18: the relations protocol (ADR 0008), counted; writes keep the caps -------

    def _rel(self, name: str, *args: Any, issue: str | None = None, **kw: Any) -> Any:
        return self._call(getattr(self.inner, name), *args, issue=issue, **kw)

    def list_link_types(self) -> list[LinkType]:
        return self._rel("list_link_types")

    def add_issue_link(self, link_type: str, inward_key: str, outward_key: str) -> None:
        # one write that shows on both issues: the cap of the one whose apply writes it
        return self._rel("add_issue_link", link_type, inward_key, outward_key, issue=inward_key)

    def delete_issue_link(self, link_id: str) -> None:
        return self._rel("delete_issue_link", link_id)

    def list_issue_types(self, project: str) -> list[IssueType]:
        return self._rel("list_issue_types", project)

    def list_worklogs(self, key: str) -> list[Worklog]:
        return self._rel("list_worklogs", key)

    def add_worklog(
        self, key: str, *, started: str, seconds: int, comment: Body | None = None
    ) -> Worklog:
        return self._rel(
            "add_worklog", key, started=started, seconds=seconds, comment=comment, issue=key
        )

    def update_worklog(
        self,
        key: str,
        worklog_id: str,
        *,
        started: str | None = None,
        seconds: int | None = None,
        comment: Body | None = None,
    ) -> Worklog:
        return self._rel(
            "update_worklog",
            key,
            worklog_id,
            started=started,
            seconds=seconds,
            comment=comment,
            issue=key,
        )

    def delete_worklog(self, key: str, worklog_id: str) -> None:
        return self._rel("delete_worklog", key, worklog_id, issue=key)

    def list_components(self, project: str) -> list[Component]:
        return self._rel("list_components", project)

    def create_component(self, project: str, name: str, description: str = "") -> Component:
        return self._rel("create_component", project, name, description)

    def list_versions(self, project: str) -> list[ProjectVersion]:
        return self._rel("list_versions", project)

    def create_version(
        self,
        project: str,
        name: str,
        *,
        description: str = "",
        released: bool = False,
        release_date: str | None = None,
    ) -> ProjectVersion:
        return self._rel(
            "create_version",
            project,
            name,
            description=description,
            released=released,
            release_date=release_date,
        )

    def find_user_by_email(self, email: str) -> User | None:
        return self._rel("find_user_by_email", email)

    def get_user(self, user_id: str) -> User:
        return self._rel("get_user", user_id)

    def set_assignee(self, key: str, user_id: str | None) -> None:
        return self._rel("set_assignee", key, user_id, issue=key)

    def set_reporter(self, key: str, user_id: str) -> None:
        return self._rel("set_reporter", key, user_id, issue=key)

    def set_parent(self, key: str, parent_key: str | None) -> None:
        return self._rel("set_parent", key, parent_key, issue=key)


def paced(tracker: Tracker) -> Tracker:
    """Wrap ``tracker`` once (wrapping twice would count every call twice)."""
    return tracker if isinstance(tracker, PacedTracker) else PacedTracker(tracker)
