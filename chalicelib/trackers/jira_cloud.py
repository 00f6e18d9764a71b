"""Jira Cloud adapter: REST v3, ADF bodies, accountId users, token-paged search.

Decisions worth knowing:
- Search uses ``GET /rest/api/3/search/jql`` (the old ``/search`` is deprecated); its
  cursor is Jira's opaque ``nextPageToken`` and it gives no total.
- Issue types of a project come from create metadata
  (``/rest/api/3/issue/createmeta/{project}/issuetypes``): the types the integration user
  can actually create, sub-tasks left out.
- Jira Cloud has no "default issue type" on the project resource. The default is the
  ``defaultIssueTypeId`` of the project's issue type scheme
  (``/rest/api/3/issuetypescheme/project?projectId=``), the type Jira preselects in its
  create dialog. That call needs the *Administer Jira* permission and only covers
  company-managed projects: without it, or without a default, ``default_issue_type`` is
  ``None`` and the caller falls back (DESIGN: the default, else ``Task``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar
from urllib.parse import quote

import urllib3

from chalicelib.trackers.base import (
    Body,
    BodyFormat,
    IssueType,
    NotFound,
    PermissionDenied,
    Project,
    SearchPage,
)
from chalicelib.trackers.http import CONNECT_TIMEOUT, READ_TIMEOUT, JiraHttp, cloud_auth
from chalicelib.trackers.jira_common import (
    JiraTracker,
    issue_types,
    project_from,
    subtask_types,
)
from chalicelib.trackers.jira_relations import parse_issue_type

PAGE = 50


class JiraCloud(JiraTracker):
    """A Jira Cloud site, reached with an account's e-mail address and API token."""

    kind: ClassVar[str] = "jira_cloud"
    body_format: BodyFormat = "adf"
    api: ClassVar[str] = "/rest/api/3"

    def own_body(self, body: Body) -> Any:
        """ADF for Cloud, with media it could not resolve written as text (not a 400)."""
        from chalicelib.trackers.formats.media import resolve_unknown_media

        return resolve_unknown_media(super().own_body(body))

    def __init__(
        self,
        url: str,
        email_address: str,
        api_token: str,
        *,
        pool: urllib3.PoolManager | None = None,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
        attachment_limit: int | None = None,
    ) -> None:
        http = JiraHttp(url, cloud_auth(email_address, api_token), pool=pool, timeout=timeout)
        super().__init__(http, attachment_limit=attachment_limit)

    # search -----------------------------------------------------------------------------

    def search(self, jql: str, *, cursor: str | None = None, limit: int = 50) -> SearchPage:
        params: dict[str, Any] = {"jql": jql, "maxResults": max(1, limit), "fields": "updated"}
        if cursor:
            params["nextPageToken"] = cursor
        data = self.http.json("GET", f"{self.api}/search/jql", params=params)
        refs, updated = self._page_refs(data.get("issues") or [])
        token = data.get("nextPageToken")
        last = data.get("isLast", not token)
        return SearchPage(issues=refs, next_cursor=None if last else token, updated=updated)

    # attachments ------------------------------------------------------------------------

    def download_attachment(self, attachment_id: str) -> bytes:
        # Jira answers with a redirect to its media store; JiraHttp follows it and urllib3
        # drops our Authorization header on the way (another host), as it should.
        return self._download(f"{self.api}/attachment/content/{quote(str(attachment_id), safe='')}")

    # projects ---------------------------------------------------------------------------

    def list_projects(self) -> list[Project]:
        raw: list[Mapping[str, Any]] = []
        start = 0
        while True:
            page = self.http.json(
                "GET",
                f"{self.api}/project/search",
                params={"startAt": start, "maxResults": PAGE, "expand": "issueTypes"},
            )
            values = page.get("values") or []
            raw.extend(values)
            start += len(values)
            if page.get("isLast", True) or not values:
                break
        defaults = self._default_type_ids(str(p["id"]) for p in raw if p.get("id"))
        return [
            project_from(
                p,
                [str(t["name"]) for t in issue_types(p.get("issueTypes"))],
                _type_name(p.get("issueTypes"), defaults.get(str(p.get("id")))),
                subtask_types(p.get("issueTypes")),
            )
            for p in raw
        ]

    def get_project(self, key: str) -> Project:
        data = self.http.json("GET", f"{self.api}/project/{quote(key, safe='')}")
        creatable = self._createmeta_types(key)
        default_id = self._default_type_ids([str(data["id"])]).get(str(data["id"]))
        known = [*creatable, *(data.get("issueTypes") or [])]
        return project_from(
            data,
            [str(t["name"]) for t in issue_types(creatable)],
            _type_name(known, default_id),
            subtask_types(creatable),
        )

    def list_issue_types(self, project: str) -> list[IssueType]:
        """All the types one may create in ``project``, sub-task types included."""
        return [parse_issue_type(t) for t in self._createmeta_types(project)]

    def _createmeta_types(self, key: str) -> list[Mapping[str, Any]]:
        out: list[Mapping[str, Any]] = []
        while True:
            page = self.http.json(
                "GET",
                f"{self.api}/issue/createmeta/{quote(key, safe='')}/issuetypes",
                params={"startAt": len(out), "maxResults": PAGE},
            )
            batch = page.get("issueTypes") or page.get("values") or []
            out.extend(batch)
            if not batch or len(out) >= int(page.get("total") or 0):
                return out

    def _default_type_ids(self, project_ids: Iterable[str]) -> dict[str, str]:
        """project id -> default issue type id, from the projects' issue type schemes."""
        ids = list(project_ids)
        out: dict[str, str] = {}
        for first in range(0, len(ids), PAGE):
            chunk = ids[first : first + PAGE]
            start = 0
            while True:
                try:
                    page = self.http.json(
                        "GET",
                        f"{self.api}/issuetypescheme/project",
                        params={"projectId": chunk, "startAt": start, "maxResults": PAGE},
                    )
                except (PermissionDenied, NotFound):
                    return out  # not a Jira admin: no defaults to be had, not an error
                values = page.get("values") or []
                for item in values:
                    default = (item.get("issueTypeScheme") or {}).get("defaultIssueTypeId")
                    for pid in item.get("projectIds") or ():
                        if default:
                            out[str(pid)] = str(default)
                start += len(values)
                if page.get("isLast", True) or not values:
                    break
        return out


def _type_name(types: Any, type_id: str | None) -> str | None:
    if type_id is None:
        return None
    for item in types or ():
        if isinstance(item, Mapping) and str(item.get("id")) == type_id:
            return str(item.get("name"))
    return None
