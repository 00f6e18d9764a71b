"""Jira Server / Data Center adapter: REST v2, wiki-markup bodies, key/name users.

Decisions worth knowing:
- Auth is a personal access token sent as a bearer token; when a user is configured the
  token is used as that user's password (basic auth), for instances without PATs.
- Search uses ``/rest/api/2/search`` with ``startAt``; the cursor is that offset and the key
  of the last issue served, so the next page begins after it even if results moved.
- Issue types of a project come from the project resource (``issueTypes``, sub-tasks left
  out). Jira Server's REST API does not say which issue type scheme a project uses, so
  real Jira gives no default issue type: ``default_issue_type`` is ``None`` and the caller
  falls back (DESIGN: else ``Task``). (Data Center has admin-only issue type scheme
  resources, but no way from a project to its scheme short of reading every scheme.)
- Attachments are downloaded from the ``content`` URL of the attachment's metadata
  (``/secure/attachment/{id}/{name}``): REST v2 has no content resource.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote

import urllib3

from chalicelib.trackers.base import (
    BodyFormat,
    InvalidRequest,
    IssueFields,
    IssueType,
    NotFound,
    Project,
    SearchPage,
    TrackerError,
    User,
)
from chalicelib.trackers.http import CONNECT_TIMEOUT, READ_TIMEOUT, JiraHttp, server_auth
from chalicelib.trackers.jira_common import (
    JiraTracker,
    issue_types,
    project_from,
    subtask_types,
)
from chalicelib.trackers.jira_relations import EPIC_LINK, EPIC_NAME, parse_issue_type
from chalicelib.trackers.jira_users import account

OVERLAP = 50  # positions re-read before a page to find where the last page ended


def _parse_cursor(cursor: str | None) -> tuple[int, str | None]:
    """``"<startAt>"`` or ``"<startAt>:<key of the last issue served>"``."""
    if not cursor:
        return 0, None
    offset, _, key = cursor.partition(":")
    try:
        return int(offset), key or None
    except ValueError as exc:
        raise TrackerError(f"not a Jira Server search cursor: {cursor!r}") from exc


class JiraServer(JiraTracker):
    """A Jira Server / Data Center instance."""

    kind: ClassVar[str] = "jira_server"
    body_format: BodyFormat = "wiki"
    api: ClassVar[str] = "/rest/api/2"

    def __init__(
        self,
        url: str,
        token: str,
        *,
        user: str | None = None,
        pool: urllib3.PoolManager | None = None,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
        attachment_limit: int | None = None,
    ) -> None:
        http = JiraHttp(url, server_auth(token, user), pool=pool, timeout=timeout)
        super().__init__(http, attachment_limit=attachment_limit)

    # search -----------------------------------------------------------------------------

    def search(self, jql: str, *, cursor: str | None = None, limit: int = 50) -> SearchPage:
        """Offset paging made safe against results moving between pages.

        ``startAt`` counts positions, so an issue that leaves an earlier position (updated
        and sorted to the end, deleted) would let the next page begin one issue too far.
        The cursor keeps the key of the last issue served; the next page is read from up
        to ``OVERLAP`` positions earlier and begins right after that key, wherever it now
        is. When the key is not there (it moved itself, or more than ``OVERLAP`` issues
        left), the search starts again from the first result: issues come again, none is
        skipped.
        """
        start, last_key = _parse_cursor(cursor)
        begin = max(0, start - OVERLAP) if last_key else start
        size = max(1, limit) + (start - begin)
        data = self.http.json(
            "GET",
            f"{self.api}/search",
            params={"jql": jql, "startAt": begin, "maxResults": size, "fields": "updated"},
        )
        issues = data.get("issues") or []
        begin = int(data.get("startAt") or begin)
        keys = [str(item.get("key")) for item in issues]
        if last_key and last_key not in keys and begin > 0:
            return self.search(jql, limit=limit)  # lost our place: from the start again
        skip = keys.index(last_key) + 1 if last_key in keys else 0
        served = issues[skip : skip + max(1, limit)]
        refs, updated = self._page_refs(served)
        total = data.get("total")
        after = begin + skip + len(served)
        more = bool(served) and (total is None or after < int(total))
        return SearchPage(
            issues=refs,
            next_cursor=f"{after}:{served[-1]['key']}" if more else None,
            total=int(total) if total is not None else None,
            updated=updated,
        )

    # attachments ------------------------------------------------------------------------

    def download_attachment(self, attachment_id: str) -> bytes:
        meta = self.http.json("GET", f"{self.api}/attachment/{quote(str(attachment_id), safe='')}")
        content = str(meta.get("content") or "")
        if not content or not self._same_site(content):
            # Jira builds ``content`` from its configured base URL, which may differ from
            # the URL we reach it by (proxies): rebuild it on ours so auth stays on this site.
            filename = quote(str(meta.get("filename") or "file"), safe="")
            content = f"/secure/attachment/{quote(str(attachment_id), safe='')}/{filename}"
        return self._download(content)

    # projects ---------------------------------------------------------------------------

    def list_projects(self) -> list[Project]:
        listed = self.http.json("GET", f"{self.api}/project", params={"expand": "issueTypes"})
        out = []
        for item in listed or []:
            data = item
            if "issueTypes" not in item:
                data = self.http.json("GET", f"{self.api}/project/{quote(item['key'], safe='')}")
            out.append(_project(data))
        return out

    def get_project(self, key: str) -> Project:
        return _project(self.http.json("GET", f"{self.api}/project/{quote(key, safe='')}"))

    # hierarchy (issue 18) ------------------------------------------------------------------

    def list_issue_types(self, project: str) -> list[IssueType]:
        data = self.http.json("GET", f"{self.api}/project/{quote(project, safe='')}")
        return [parse_issue_type(t) for t in data.get("issueTypes") or () if isinstance(t, Mapping)]

    def parent_fields(
        self,
        parent_key: str | None,
        *,
        key: str | None = None,
        project: str | None = None,
        issue_type: str | None = None,
    ) -> dict[str, Any]:
        """A sub-task's ``parent``; any other issue's ``Epic Link`` (Server has no parent
        above a standard issue). A sub-task's parent cannot be removed, only changed."""
        if key is not None and (project is None or issue_type is None):
            current = self.http.json(
                "GET", self._issue_path(key), params={"fields": "issuetype,project"}
            )
            project = project or str(current["fields"]["project"]["key"])
            issue_type = issue_type or str(current["fields"]["issuetype"]["name"])
        assert project is not None
        subtask = any(t.subtask and t.name == issue_type for t in self.list_issue_types(project))
        if subtask and parent_key:
            return {"parent": {"key": parent_key}}
        if subtask:
            raise InvalidRequest(
                "A Jira Server sub-task always has a parent: it cannot be removed",
                field_errors={"parent": "a sub-task needs a parent"},
                status=None,
            )
        return {self.field_id(EPIC_LINK): parent_key or None}

    # users (issue 18) ----------------------------------------------------------------------

    def user_search_params(self, text: str) -> dict[str, Any]:
        return {"username": text, "maxResults": 50}

    def user_params(self, user_id: str) -> dict[str, Any]:
        return {"key": user_id}

    def get_user(self, user_id: str) -> User:
        """By key (``User.id``), else by username: admins write usernames (a user made since
        Jira 8 has a key of its own, ``JIRAUSER10100``)."""
        try:
            return super().get_user(user_id)
        except NotFound:
            data = self.http.json("GET", f"{self.api}/user", params={"username": user_id})
            user = account(data, self.parse_author)
            if user is None:
                raise
            return user

    def user_ref(self, user_id: str) -> dict[str, Any]:
        """Server writes name users by ``name``; ``User.id`` is the key: read the name."""
        data = self.http.json("GET", f"{self.api}/user", params={"key": user_id})
        return {"name": str(data.get("name") or user_id)}

    def nobody_ref(self) -> dict[str, Any]:
        return {"name": None}

    def create_extras(self, project: str, fields: IssueFields) -> dict[str, Any]:
        """An epic on Server needs its ``Epic Name``: the summary, unless the caller set it."""
        if fields.issue_type != "Epic" or EPIC_NAME.lower() not in self.field_ids():
            return {}
        named = {EPIC_NAME.lower(), self.field_id(EPIC_NAME)}
        if any(name.lower() in named for name in fields.custom):
            return {}
        return {self.field_id(EPIC_NAME): fields.summary}


def _project(data: Mapping[str, Any]) -> Project:
    types = [str(t["name"]) for t in issue_types(data.get("issueTypes"))]
    return project_from(data, types, None, subtask_types(data.get("issueTypes")))
