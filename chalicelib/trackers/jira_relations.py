"""Issue 18's Jira operations, common to Cloud and Server: links between issues, the
hierarchy (parents, sub-task types), worklogs, components and versions, users.

A mixin of :class:`~chalicelib.trackers.jira_common.JiraTracker` (its request chokepoint,
REST prefix and paths); where the flavours differ the adapters override a small hook.
The parsers read both flavours' JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import quote

from chalicelib.trackers.base import (
    Body,
    BodyFormat,
    Component,
    IssueFields,
    IssueLink,
    IssueType,
    LinkType,
    ProjectVersion,
    TrackerError,
    User,
    Worklog,
)

if TYPE_CHECKING:
    from chalicelib.trackers.http import JiraHttp


# --- parsing ----------------------------------------------------------------------------


def parse_link_type(data: Mapping[str, Any]) -> LinkType:
    return LinkType(
        id=str(data.get("id") or ""),
        name=str(data.get("name") or ""),
        inward=str(data.get("inward") or ""),
        outward=str(data.get("outward") or ""),
    )


def parse_links(raw: Any) -> tuple[IssueLink, ...]:
    """An issue's ``issuelinks``: each names the other end, ``outwardIssue`` when this issue
    is the source, ``inwardIssue`` when it is the destination."""
    out = []
    for item in raw or ():
        if not isinstance(item, Mapping):
            continue
        direction: Literal["inward", "outward"] = (
            "outward" if isinstance(item.get("outwardIssue"), Mapping) else "inward"
        )
        other = item.get(f"{direction}Issue") or {}
        kind = item.get("type") or {}
        if not isinstance(other, Mapping) or not other.get("key"):
            continue
        out.append(
            IssueLink(
                id=str(item.get("id") or ""),
                type=str(kind.get("name") or "") if isinstance(kind, Mapping) else "",
                direction=direction,
                issue_key=str(other["key"]),
            )
        )
    return tuple(out)


def parse_issue_type(data: Mapping[str, Any]) -> IssueType:
    level = data.get("hierarchyLevel")
    return IssueType(
        id=str(data.get("id") or ""),
        name=str(data.get("name") or ""),
        subtask=bool(data.get("subtask")),
        hierarchy_level=int(level) if isinstance(level, int) else None,
    )


WORKLOG_PAGE = 1000
EPIC_LINK = "Epic Link"  # Jira Software's custom field on Server (and old Cloud sites)
EPIC_NAME = "Epic Name"


def parse_parent(fields: Mapping[str, Any], names: Any) -> str | None:
    """The parent's key: ``parent`` (Cloud: any child; Server: a sub-task), else the value
    of the field ``names`` calls ``Epic Link`` (Server's epic children)."""
    parent = fields.get("parent")
    if isinstance(parent, Mapping) and parent.get("key"):
        return str(parent["key"])
    if isinstance(names, Mapping):
        for field_id, name in names.items():
            value = fields.get(field_id)
            if name == EPIC_LINK and isinstance(value, str) and value:
                return value
    return None


def parse_worklog(
    data: Mapping[str, Any], body_format: BodyFormat, author: User | None = None
) -> Worklog:
    comment = data.get("comment")
    return Worklog(
        id=str(data["id"]),
        started=str(data.get("started") or ""),
        seconds=int(data.get("timeSpentSeconds") or 0),
        author=author,
        comment=Body(body_format, comment) if comment not in (None, "") else None,
        created=str(data.get("created") or ""),
        updated=str(data.get("updated") or ""),
    )


def parse_component(data: Mapping[str, Any]) -> Component:
    return Component(
        str(data["id"]), str(data.get("name") or ""), str(data.get("description") or "")
    )


def parse_version(data: Mapping[str, Any]) -> ProjectVersion:
    return ProjectVersion(
        id=str(data["id"]),
        name=str(data.get("name") or ""),
        description=str(data.get("description") or ""),
        released=bool(data.get("released")),
        archived=bool(data.get("archived")),
        release_date=str(data["releaseDate"]) if data.get("releaseDate") else None,
    )


def _names(raw: Any) -> tuple[str, ...]:
    return tuple(str(i["name"]) for i in raw or () if isinstance(i, Mapping) and i.get("name"))


def account(data: Any, parse: Any) -> User | None:
    """``parse``'s user with its e-mail address when Jira shows one."""
    user = parse(data)
    email = data.get("emailAddress") if isinstance(data, Mapping) else None
    if user is None or not email:
        return user
    return User(user.id, user.name, str(email))


def parse_catalog(fields: Mapping[str, Any], body_format: BodyFormat) -> dict[str, Any]:
    """``Issue``'s components, versions, due date and environment from its fields."""
    environment = fields.get("environment")
    return {
        "components": _names(fields.get("components")),
        "fix_versions": _names(fields.get("fixVersions")),
        "versions": _names(fields.get("versions")),
        "due_date": str(fields["duedate"]) if fields.get("duedate") else None,
        "environment": Body(body_format, environment) if environment not in (None, "") else None,
    }


def jira_started(text: str) -> str:
    """An ISO 8601 time as Jira's worklog ``started`` (``2026-12-01T09:30:00.000+0000``,
    UTC); a time without offset is taken as UTC."""
    value = text.strip().replace("Z", "+00:00")
    if len(value) > 5 and value[-5] in "+-" and value[-3] != ":":
        value = value[:-2] + ":" + value[-2:]  # Jira's own +0100
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise TrackerError(f"not a time: {text!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


# --- operations -------------------------------------------------------------------------


class JiraRelations:
    """Links, for both flavours (the same paths and bodies on REST v2 and v3)."""

    api: ClassVar[str]
    http: JiraHttp

    if TYPE_CHECKING:  # JiraTracker's

        def _issue_path(self, key: str, *rest: str) -> str: ...

        def field_id(self, name: str) -> str: ...

        def field_ids(self, *, refresh: bool = False) -> dict[str, str]: ...

        def own_body(self, body: Body) -> Any: ...

        def parse_author(self, data: Any) -> User | None: ...

        body_format: BodyFormat

    def list_link_types(self) -> list[LinkType]:
        data = self.http.json("GET", f"{self.api}/issueLinkType") or {}
        return [
            parse_link_type(t) for t in data.get("issueLinkTypes") or () if isinstance(t, Mapping)
        ]

    def add_issue_link(self, link_type: str, inward_key: str, outward_key: str) -> None:
        """Jira answers 201 without the link: read it from ``Issue.links`` when needed."""
        self.http.json(
            "POST",
            f"{self.api}/issueLink",
            json={
                "type": {"name": link_type},
                "inwardIssue": {"key": inward_key},
                "outwardIssue": {"key": outward_key},
            },
        )

    def delete_issue_link(self, link_id: str) -> None:
        self.http.json("DELETE", f"{self.api}/issueLink/{quote(str(link_id), safe='')}")

    # hierarchy ------------------------------------------------------------------------

    def list_issue_types(self, project: str) -> list[IssueType]:
        raise NotImplementedError

    def set_parent(self, key: str, parent_key: str | None) -> None:
        payload = self.parent_fields(parent_key, key=key)
        self.http.json("PUT", self._issue_path(key), json={"fields": payload})

    def parent_fields(
        self,
        parent_key: str | None,
        *,
        key: str | None = None,
        project: str | None = None,
        issue_type: str | None = None,
    ) -> dict[str, Any]:
        """The ``fields`` that make ``parent_key`` the parent (Cloud: ``parent``, for any
        child); the issue is ``key``, or a new one of ``issue_type`` in ``project``."""
        return {"parent": {"key": parent_key} if parent_key else None}

    def create_extras(self, project: str, fields: IssueFields) -> dict[str, Any]:
        """Fields a flavour needs on create beyond what ``fields`` says (none on Cloud)."""
        return {}

    # components and versions --------------------------------------------------------

    def catalog_payload(self, fields: IssueFields) -> dict[str, Any]:
        """The ``fields`` for what ``IssueFields`` sets of components, versions, the due
        date and the environment (names: Jira resolves them in the issue's project)."""
        out: dict[str, Any] = {}
        for attr, field_id in (
            ("components", "components"),
            ("fix_versions", "fixVersions"),
            ("versions", "versions"),
        ):
            names = getattr(fields, attr)
            if names is not None:
                out[field_id] = [{"name": name} for name in names]
        if fields.due_date is not None:
            out["duedate"] = fields.due_date or None
        if fields.environment is not None:
            out["environment"] = self.own_body(fields.environment)
        return out

    def list_components(self, project: str) -> list[Component]:
        listed = self.http.json("GET", f"{self.api}/project/{quote(project, safe='')}/components")
        return [parse_component(c) for c in listed or () if isinstance(c, Mapping)]

    def create_component(self, project: str, name: str, description: str = "") -> Component:
        body = {"project": project, "name": name, "description": description}
        return parse_component(self.http.json("POST", f"{self.api}/component", json=body))

    def list_versions(self, project: str) -> list[ProjectVersion]:
        listed = self.http.json("GET", f"{self.api}/project/{quote(project, safe='')}/versions")
        return [parse_version(x) for x in listed or () if isinstance(x, Mapping)]

    def create_version(
        self,
        project: str,
        name: str,
        *,
        description: str = "",
        released: bool = False,
        release_date: str | None = None,
    ) -> ProjectVersion:
        """``projectId``: Cloud's document marks the ``project`` key deprecated here."""
        owner = self.http.json("GET", f"{self.api}/project/{quote(project, safe='')}")
        body: dict[str, Any] = {
            "projectId": int(owner["id"]),
            "name": name,
            "description": description,
            "released": released,
        }
        if release_date:
            body["releaseDate"] = release_date
        return parse_version(self.http.json("POST", f"{self.api}/version", json=body))

    # worklogs -------------------------------------------------------------------------

    def list_worklogs(self, key: str) -> list[Worklog]:
        out: list[Worklog] = []
        while True:
            page = self.http.json(
                "GET",
                self._issue_path(key, "worklog"),
                params={"startAt": len(out), "maxResults": WORKLOG_PAGE},
            )
            batch = [w for w in (page or {}).get("worklogs") or () if isinstance(w, Mapping)]
            out.extend(self._worklog(w) for w in batch)
            if not batch or len(out) >= int((page or {}).get("total") or 0):
                return out

    def add_worklog(
        self, key: str, *, started: str, seconds: int, comment: Body | None = None
    ) -> Worklog:
        payload = self._worklog_payload(started, seconds, comment)
        return self._worklog(self.http.json("POST", self._issue_path(key, "worklog"), json=payload))

    def update_worklog(
        self,
        key: str,
        worklog_id: str,
        *,
        started: str | None = None,
        seconds: int | None = None,
        comment: Body | None = None,
    ) -> Worklog:
        payload = self._worklog_payload(started, seconds, comment)
        path = self._issue_path(key, "worklog", worklog_id)
        return self._worklog(self.http.json("PUT", path, json=payload))

    def delete_worklog(self, key: str, worklog_id: str) -> None:
        self.http.json("DELETE", self._issue_path(key, "worklog", worklog_id))

    def _worklog_payload(
        self, started: str | None, seconds: int | None, comment: Body | None
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {}
        if started is not None:
            payload["started"] = jira_started(started)
        if seconds is not None:
            payload["timeSpentSeconds"] = int(seconds)
        if comment is not None:
            payload["comment"] = self.own_body(comment)
        return payload

    def _worklog(self, data: Any) -> Worklog:
        if not isinstance(data, Mapping) or "id" not in data:
            raise TrackerError("Jira did not describe the worklog")
        return parse_worklog(data, self.body_format, self.parse_author(data.get("author")))

    # users ----------------------------------------------------------------------------

    def user_search_params(self, text: str) -> dict[str, Any]:
        """Cloud's ``query``; Server overrides with ``username``."""
        return {"query": text, "maxResults": 50}

    def user_params(self, user_id: str) -> dict[str, Any]:
        """How ``GET user`` names ``User.id``: Cloud's ``accountId``; Server's ``key``."""
        return {"accountId": user_id}

    def find_user_by_email(self, email: str) -> User | None:
        listed = self.http.json(
            "GET", f"{self.api}/user/search", params=self.user_search_params(email)
        )
        people = [u for u in listed or () if isinstance(u, Mapping) and u.get("active", True)]
        low = email.strip().lower()
        for data in people:
            if str(data.get("emailAddress") or "").lower() == low:
                return account(data, self.parse_author)
        hidden = [u for u in people if not u.get("emailAddress")]
        # Cloud finds a profile that hides its address by the whole address, and shows none
        return account(hidden[0], self.parse_author) if len(hidden) == 1 == len(people) else None

    def get_user(self, user_id: str) -> User:
        data = self.http.json("GET", f"{self.api}/user", params=self.user_params(user_id))
        user = account(data, self.parse_author)
        if user is None:
            raise TrackerError(f"Jira did not describe the user {user_id}")
        return user

    def user_ref(self, user_id: str) -> dict[str, Any]:
        """How a write names a user: Cloud's ``{"accountId"}``; Server overrides."""
        return {"accountId": user_id}

    def nobody_ref(self) -> dict[str, Any]:
        """How ``PUT assignee`` says "unassigned": Cloud ``{"accountId": null}``."""
        return {"accountId": None}

    def set_assignee(self, key: str, user_id: str | None) -> None:
        body = self.user_ref(user_id) if user_id else self.nobody_ref()
        self.http.json("PUT", self._issue_path(key, "assignee"), json=body)

    def set_reporter(self, key: str, user_id: str) -> None:
        payload = {"fields": {"reporter": self.user_ref(user_id)}}
        self.http.json("PUT", self._issue_path(key), json=payload)
