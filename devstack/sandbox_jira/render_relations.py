"""JSON of issue 18's relations (links, link types) in Jira's REST and webhook shapes.

Functions over a :class:`~devstack.sandbox_jira.render.Renderer`, so ``render.py`` only
calls them from the issue's fields. Shapes follow Atlassian's OpenAPI document
(``IssueLinkType``, ``IssueLink``, ``LinkedIssue``) and, for webhooks, the captured
``issuelink_created``/``issuelink_deleted`` bodies (ids as numbers there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .relations import ComponentRec, IssueLinkRec, LinkTypeRec, VersionRec, WorklogRec
from .timefmt import jira_time
from .worklogs import format_duration

if TYPE_CHECKING:
    from .render import Renderer
    from .store import IssueRec


def link_type(r: Renderer, rec: LinkTypeRec, version: int) -> dict[str, Any]:
    return {
        "id": rec.id,
        "name": rec.name,
        "inward": rec.inward,
        "outward": rec.outward,
        "self": f"{r.api(version)}/issueLinkType/{rec.id}",
    }


def linked_issue(r: Renderer, issue: IssueRec, version: int) -> dict[str, Any]:
    """The other issue of a link: id, key, self and a few key fields."""
    return {
        "id": issue.id,
        "key": issue.key,
        "self": f"{r.api(version)}/issue/{issue.id}",
        "fields": {
            "summary": issue.summary,
            "status": r.status(issue.status, version),
            "priority": r.priority(issue.priority, version),
            "issuetype": r.issue_type(issue.issue_type, version),
        },
    }


def issue_link(r: Renderer, link: IssueLinkRec, version: int) -> dict[str, Any]:
    """``GET issueLink/{id}``: both ends, as ``POST issueLink`` named them."""
    issues = r.store.issues
    return {
        "id": link.id,
        "self": f"{r.api(version)}/issueLink/{link.id}",
        "type": link_type(r, r.store.link_types[link.type_id], version),
        "inwardIssue": linked_issue(r, issues[link.source], version),
        "outwardIssue": linked_issue(r, issues[link.destination], version),
    }


def issue_links_field(r: Renderer, issue: IssueRec, version: int) -> list[dict[str, Any]]:
    """The ``issuelinks`` field: each link seen from ``issue``, with the other end only."""
    out = []
    for link in r.store.issue_links(issue):
        outward = link.source == issue.id  # this issue is the source: the other is outward
        other = r.store.issues[link.destination if outward else link.source]
        out.append(
            {
                "id": link.id,
                "self": f"{r.api(version)}/issueLink/{link.id}",
                "type": link_type(r, r.store.link_types[link.type_id], version),
                ("outwardIssue" if outward else "inwardIssue"): linked_issue(r, other, version),
            }
        )
    return out


def webhook_link(r: Renderer, link: IssueLinkRec) -> dict[str, Any]:
    """``issueLink`` of an ``issuelink_created``/``_deleted`` webhook (captured shape)."""
    rec = r.store.link_types[link.type_id]
    return {
        "id": int(link.id),
        "sourceIssueId": int(link.source),
        "destinationIssueId": int(link.destination),
        "issueLinkType": {
            "id": int(rec.id),
            "name": rec.name,
            "outwardName": rec.outward,
            "inwardName": rec.inward,
            "isSubTaskLinkType": False,
            "isSystemLinkType": False,
        },
        "systemLink": False,
    }


def worklog(r: Renderer, rec: WorklogRec, version: int) -> dict[str, Any]:
    """A worklog (``Worklog``): its comment ADF in REST v3, a string in v2."""
    data: dict[str, Any] = {
        "self": f"{r.api(version)}/issue/{rec.issue_id}/worklog/{rec.id}",
        "author": r.user_id(rec.author, version),
        "updateAuthor": r.user_id(rec.update_author, version),
    }
    if rec.comment is not None:
        data["comment"] = r.body(rec.comment, version)
    data.update(
        created=jira_time(rec.created),
        updated=jira_time(rec.updated),
        started=jira_time(rec.started),
        timeSpent=format_duration(rec.seconds),
        timeSpentSeconds=rec.seconds,
        id=rec.id,
        issueId=rec.issue_id,
    )
    if rec.visibility:
        data["visibility"] = dict(rec.visibility)
    return data


def worklog_page(
    r: Renderer, issue: IssueRec, version: int, start: int = 0, limit: int = 5000
) -> dict[str, Any]:
    """``PageOfWorklogs`` (also the issue's ``worklog`` field, first 20 there)."""
    items = sorted(r.store.issue_worklogs(issue), key=lambda w: (w.started, int(w.id)))
    page = items[start : start + limit]
    return {
        "startAt": start,
        "maxResults": limit,
        "total": len(items),
        "worklogs": [worklog(r, w, version) for w in page],
    }


def component(
    r: Renderer, rec: ComponentRec, version: int, *, detail: bool = False
) -> dict[str, Any]:
    """A component: in an issue's ``components`` (as the captured webhooks show it), or
    with ``detail`` as ``ProjectComponent`` (project resources, ``POST component``)."""
    data: dict[str, Any] = {
        "self": f"{r.api(version)}/component/{rec.id}",
        "id": rec.id,
        "name": rec.name,
    }
    if rec.description:
        data["description"] = rec.description
    if detail:
        project = r.store.projects[rec.project_id]
        data.update(
            assigneeType="PROJECT_DEFAULT",
            realAssigneeType="PROJECT_DEFAULT",
            isAssigneeTypeValid=False,
            project=project.key,
            projectId=int(project.id),
        )
    return data


def version_of(
    r: Renderer, rec: VersionRec, version: int, *, detail: bool = False
) -> dict[str, Any]:
    """A version: in an issue's ``fixVersions``/``versions``, or with ``detail`` as the
    project's (``projectId``)."""
    data: dict[str, Any] = {
        "self": f"{r.api(version)}/version/{rec.id}",
        "id": rec.id,
        "description": rec.description,
        "name": rec.name,
        "archived": rec.archived,
        "released": rec.released,
    }
    if rec.release_date:
        data["releaseDate"] = rec.release_date
    if detail:
        data["projectId"] = int(rec.project_id)
    return data


def refs_field(r: Renderer, name: str, ids: list[str], version: int) -> list[dict[str, Any]]:
    if name == "components":
        return [
            component(r, r.store.components[i], version) for i in ids if i in r.store.components
        ]
    return [version_of(r, r.store.versions[i], version) for i in ids if i in r.store.versions]
