"""REST endpoints of issue 18's relations: issue link types and issue links, worklogs,
project components and versions, user search and assignment.

Registered on ``rest.router`` (imported by ``sandbox.py``), so the paths, versions and
auth are the same as every other endpoint. Answers and refusals follow Atlassian's
OpenAPI document and Jira's wording. Unconfirmed wording (no public capture found): the
duplicate component/version name errors, user search without its parameter, a link of an
issue to itself, an incomplete ``POST issueLink``, the not-found texts of link, component
and version ids.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import render_relations as rel
from .errors import JiraError, field_errors, issue_not_found, not_found
from .fields import FieldReader
from .http import Request, Response
from .rest import NO_CONTENT, _project, actor, body_json, find_issue, router, v
from .worklogs import read_worklog

if TYPE_CHECKING:
    from .relations import WorklogRec
    from .sandbox import SandboxJira
    from .store import IssueRec, UserRec


def _linked(site: SandboxJira, ref: Any) -> IssueRec:
    key = (ref.get("key") or ref.get("id")) if isinstance(ref, dict) else None
    issue = site.store.issue(str(key)) if key else None
    if issue is None:
        raise issue_not_found()
    return issue


@router.add("GET", "/rest/api/{v}/issueLinkType")
def list_link_types(site: SandboxJira, req: Request) -> Response:
    with site.store.lock:
        types = [rel.link_type(site.renderer, t, v(req)) for t in site.store.link_types.values()]
        return Response(body={"issueLinkTypes": types})


@router.add("GET", "/rest/api/{v}/issueLinkType/{tid}")
def get_link_type(site: SandboxJira, req: Request) -> Response:
    rec = site.store.link_types.get(req.params["tid"])
    if rec is None:
        raise not_found(f"No issue link type with id '{req.params['tid']}' exists.")
    return Response(body=rel.link_type(site.renderer, rec, v(req)))


@router.add("POST", "/rest/api/{v}/issueLink")
def create_link(site: SandboxJira, req: Request) -> Response:
    """201 with no body, as Jira: the new link's id is read from the issues' ``issuelinks``."""
    raw = body_json(req)
    if not isinstance(raw, dict) or not all(
        isinstance(raw.get(k), dict) for k in ("type", "inwardIssue", "outwardIssue")
    ):
        raise JiraError(400, ["Issue link type, inward and outward issues are required."])
    with site.store.lock:
        link_type = site.store.find_link_type(raw["type"])
        if link_type is None:
            ref = raw["type"].get("name") or raw["type"].get("id")
            raise not_found(f"No issue link type with name '{ref}' found.")
        source = _linked(site, raw["inwardIssue"])
        destination = _linked(site, raw["outwardIssue"])
        if source.id == destination.id:
            raise JiraError(400, ["You cannot link an issue to itself."])
        site.store.add_link(actor(req), link_type, source, destination)
        return Response(201)


def _find_link(site: SandboxJira, link_id: str) -> Any:
    link = site.store.links.get(link_id)
    if link is None:
        raise not_found(f"No issue link with id '{link_id}' exists.")
    return link


@router.add("GET", "/rest/api/{v}/issueLink/{lid}")
def get_link(site: SandboxJira, req: Request) -> Response:
    with site.store.lock:
        link = _find_link(site, req.params["lid"])
        return Response(body=rel.issue_link(site.renderer, link, v(req)))


@router.add("DELETE", "/rest/api/{v}/issueLink/{lid}")
def delete_link(site: SandboxJira, req: Request) -> Response:
    with site.store.lock:
        link = _find_link(site, req.params["lid"])
        site.store.delete_link(actor(req), link)
        return Response(NO_CONTENT)


# --- worklogs -----------------------------------------------------------------------------


def _find_worklog(site: SandboxJira, issue: IssueRec, worklog_id: str) -> WorklogRec:
    found = site.store.worklogs.get(worklog_id)
    if found is None or found.issue_id != issue.id:
        raise not_found(f"Cannot find worklog with id: '{worklog_id}'.")
    return found


def _worklog_values(site: SandboxJira, req: Request, *, creating: bool) -> dict[str, Any]:
    return read_worklog(
        body_json(req),
        version=v(req),
        cloud=site.renderer.cloud,
        now=site.store.clock.clock(),
        creating=creating,
    )


@router.add("GET", "/rest/api/{v}/issue/{ref}/worklog")
def list_worklogs(site: SandboxJira, req: Request) -> Response:
    with site.store.lock:
        issue = find_issue(site, req.params["ref"])
        start = req.int_arg("startAt", 0)
        limit = max(1, min(req.int_arg("maxResults", 5000), 5000))
        return Response(body=rel.worklog_page(site.renderer, issue, v(req), start, limit))


@router.add("POST", "/rest/api/{v}/issue/{ref}/worklog")
def add_worklog(site: SandboxJira, req: Request) -> Response:
    with site.store.lock:
        issue = find_issue(site, req.params["ref"])
        values = _worklog_values(site, req, creating=True)
        rec = site.store.add_worklog(actor(req), issue, values)
        return Response(201, rel.worklog(site.renderer, rec, v(req)))


@router.add("GET", "/rest/api/{v}/issue/{ref}/worklog/{wid}")
def get_worklog(site: SandboxJira, req: Request) -> Response:
    with site.store.lock:
        issue = find_issue(site, req.params["ref"])
        rec = _find_worklog(site, issue, req.params["wid"])
        return Response(body=rel.worklog(site.renderer, rec, v(req)))


@router.add("PUT", "/rest/api/{v}/issue/{ref}/worklog/{wid}")
def edit_worklog(site: SandboxJira, req: Request) -> Response:
    with site.store.lock:
        issue = find_issue(site, req.params["ref"])
        rec = _find_worklog(site, issue, req.params["wid"])
        values = _worklog_values(site, req, creating=False)
        site.store.edit_worklog(actor(req), issue, rec, values)
        return Response(body=rel.worklog(site.renderer, rec, v(req)))


@router.add("DELETE", "/rest/api/{v}/issue/{ref}/worklog/{wid}")
def delete_worklog(site: SandboxJira, req: Request) -> Response:
    with site.store.lock:
        issue = find_issue(site, req.params["ref"])
        rec = _find_worklog(site, issue, req.params["wid"])
        site.store.delete_worklog(actor(req), issue, rec)
        return Response(NO_CONTENT)


# --- components and versions ------------------------------------------------------------


@router.add("GET", "/rest/api/{v}/project/{ref}/components")
def project_components(site: SandboxJira, req: Request) -> Response:
    with site.store.lock:
        project = _project(site, req.params["ref"])
        items = site.store.project_components(project.id)
        body = [rel.component(site.renderer, c, v(req), detail=True) for c in items]
        return Response(body=body)


@router.add("GET", "/rest/api/{v}/project/{ref}/versions")
def project_versions(site: SandboxJira, req: Request) -> Response:
    with site.store.lock:
        project = _project(site, req.params["ref"])
        items = site.store.project_versions(project.id)
        body = [rel.version_of(site.renderer, x, v(req), detail=True) for x in items]
        return Response(body=body)


def _owner(site: SandboxJira, raw: dict[str, Any]) -> Any:
    """The project a new component or version names (``project`` key, or ``projectId``)."""
    ref = raw.get("projectId") or raw.get("project")
    project = site.store.project(str(ref)) if ref is not None else None
    if project is None:
        raise field_errors(
            {
                "project": "The project is required."
                if ref is None
                else f"No project could be found with key '{ref}'."
            }
        )
    return project


def _new_name(raw: dict[str, Any], taken: list[Any], what: str) -> str:
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise field_errors({"name": f"The {what} name must not be empty."})
    if len(name) > 255:
        raise field_errors({"name": f"The {what} name must not be longer than 255 characters."})
    if any(t.name.lower() == name.strip().lower() for t in taken):
        article = "A component" if what == "component" else "A version"
        suffix = (
            f" the name {name} already exists in this project."
            if what == "component"
            else " this name already exists in this project."
        )
        raise field_errors({"name": f"{article} with{suffix}"})
    return name.strip()


@router.add("POST", "/rest/api/{v}/component")
def create_component(site: SandboxJira, req: Request) -> Response:
    raw = body_json(req)
    if not isinstance(raw, dict):
        raise JiraError(400, ["Can not deserialize instance of component."])
    with site.store.lock:
        project = _owner(site, raw)
        name = _new_name(raw, site.store.project_components(project.id), "component")
        rec = site.store.add_component(project.id, name, str(raw.get("description") or ""))
        return Response(201, rel.component(site.renderer, rec, v(req), detail=True))


@router.add("GET", "/rest/api/{v}/component/{cid}")
def get_component(site: SandboxJira, req: Request) -> Response:
    rec = site.store.components.get(req.params["cid"])
    if rec is None:
        raise not_found(f"The component with id {req.params['cid']} does not exist.")
    return Response(body=rel.component(site.renderer, rec, v(req), detail=True))


@router.add("POST", "/rest/api/{v}/version")
def create_version(site: SandboxJira, req: Request) -> Response:
    raw = body_json(req)
    if not isinstance(raw, dict):
        raise JiraError(400, ["Can not deserialize instance of version."])
    with site.store.lock:
        project = _owner(site, raw)
        name = _new_name(raw, site.store.project_versions(project.id), "version")
        rec = site.store.add_version(
            project.id,
            name=name,
            description=str(raw.get("description") or ""),
            released=bool(raw.get("released", False)),
            archived=bool(raw.get("archived", False)),
            release_date=raw.get("releaseDate"),
        )
        return Response(201, rel.version_of(site.renderer, rec, v(req), detail=True))


@router.add("GET", "/rest/api/{v}/version/{vid}")
def get_version(site: SandboxJira, req: Request) -> Response:
    rec = site.store.versions.get(req.params["vid"])
    if rec is None:
        raise not_found(f"Could not find version for id '{req.params['vid']}'")
    return Response(body=rel.version_of(site.renderer, rec, v(req), detail=True))


# --- users ---------------------------------------------------------------------------------


def _matches(user: UserRec, text: str, cloud: bool) -> bool:
    """Cloud's ``query``: a display name word or e-mail address starting with it (a hidden
    address only as a whole); Server's ``username``: username, display name or e-mail."""
    low = text.lower()
    words = user.display_name.lower().split()
    if any(w.startswith(low) for w in [user.display_name.lower(), *words]):
        return True
    email = user.email.lower()
    if cloud:
        return email == low or (user.email_visible and email.startswith(low))
    return (user.name or "").lower().startswith(low) or email.startswith(low)


@router.add("GET", "/rest/api/{v}/user/search")
def search_users(site: SandboxJira, req: Request) -> Response:
    cloud = site.renderer.cloud
    start = req.int_arg("startAt", 0)
    limit = max(1, min(req.int_arg("maxResults", 50), 1000))
    users = [u for u in site.store.users.values() if u.active]
    if cloud:
        text, account = req.arg("query"), req.arg("accountId")
        if not text and not account:
            raise JiraError(400, ["One of 'query' or 'accountId' must be provided."])
        found = [
            u
            for u in users
            if (not account or u.id == account) and (not text or _matches(u, text, True))
        ]
    else:
        text = req.arg("username")
        if not text:
            raise JiraError(400, ["The username query parameter was not provided"])
        found = [u for u in users if text == "." or _matches(u, text, False)]
    found.sort(key=lambda u: u.display_name.lower())
    body = [site.renderer.user(u, v(req)) for u in found[start : start + limit]]
    return Response(body=body)


@router.add("PUT", "/rest/api/{v}/issue/{ref}/assignee")
def assign(site: SandboxJira, req: Request) -> Response:
    """``{"accountId"}`` on Cloud, ``{"name"}`` on Server; ``null`` (or ``"-1"``: the
    project's default assignee, none here) unassigns."""
    raw = body_json(req)
    with site.store.lock:
        issue = find_issue(site, req.params["ref"])
        values: dict[str, Any] = {}
        ref = (
            raw.get("accountId" if site.renderer.cloud else "name")
            if isinstance(raw, dict)
            else None
        )
        reader = FieldReader(site.store, v(req))
        reader.user("assignee", None if ref in (None, "-1") else raw, values)
        reader.fail_if_errors()
        site.store.edit_issue(actor(req), issue, values)
        return Response(NO_CONTENT)
