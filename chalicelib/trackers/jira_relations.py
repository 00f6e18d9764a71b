"""Issue 18's Jira operations, common to Cloud and Server: links between issues and the
hierarchy (parents, sub-task types); with the worklogs, catalog (components, versions)
and users mixins, everything ``TrackerRelations`` asks for.

A mixin of :class:`~chalicelib.trackers.jira_common.JiraTracker` (its request chokepoint,
REST prefix and paths); where the flavours differ the adapters override a small hook
(``parent_fields``, ``create_extras`` here). The parsers read both flavours' JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import quote

from chalicelib.trackers.base import IssueFields, IssueLink, IssueType, LinkType
from chalicelib.trackers.jira_catalog import JiraCatalog
from chalicelib.trackers.jira_users import JiraUsers
from chalicelib.trackers.jira_worklogs import JiraWorklogs

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


# --- operations -------------------------------------------------------------------------


class JiraRelations(JiraWorklogs, JiraCatalog, JiraUsers):
    """Links and the hierarchy, for both flavours (the same paths and bodies on REST v2
    and v3), with the worklog, catalog and user operations of its bases."""

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
