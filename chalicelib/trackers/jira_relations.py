"""Issue 18's Jira operations, common to Cloud and Server: links between issues.

A mixin of :class:`~chalicelib.trackers.jira_common.JiraTracker` (its request chokepoint,
REST prefix and paths); where the flavours differ the adapters override a small hook.
The parsers read both flavours' JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import quote

from chalicelib.trackers.base import IssueLink, LinkType

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


# --- operations -------------------------------------------------------------------------


class JiraRelations:
    """Links, for both flavours (the same paths and bodies on REST v2 and v3)."""

    api: ClassVar[str]
    http: JiraHttp

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
