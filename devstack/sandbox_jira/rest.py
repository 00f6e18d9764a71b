"""The Jira REST endpoints the adapters use, with Jira's paths, shapes and status codes.

Each handler is a few lines over the store and the renderer. ``{v}`` is the API version:
Cloud serves 3 (ADF) and 2 (strings), Server only 2. Paths and answers follow Atlassian's
Cloud OpenAPI document; the fidelity tests check them against it.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from . import adf_check
from .errors import JiraError, issue_not_found, not_found
from .fields import FieldReader, comment_body, comment_properties
from .http import Request, Response, Router, parse_multipart
from .render import FieldSelection
from .screens import resolution_after
from .search import by_offset, by_token
from .store import AttachmentRec, CommentRec, IssueRec, UserRec
from .timefmt import jira_time
from .visibility import can_see, check_author, visible
from .workflow import available

if TYPE_CHECKING:
    from .sandbox import SandboxJira

router = Router()
NO_CONTENT = 204
PROPERTY_MAX = 32768


def v(req: Request) -> int:
    return int(req.params.get("v", "2"))


def actor(req: Request) -> UserRec:
    assert req.user is not None  # routes with auth=True always have a user
    return req.user


def find_issue(site: SandboxJira, ref: str) -> IssueRec:
    issue = site.store.issue(ref)
    if issue is None:
        raise issue_not_found()
    return issue


def find_comment(
    site: SandboxJira, issue: IssueRec, comment_id: str, viewer: UserRec | None = None
) -> CommentRec:
    """The comment, or Jira's 404 when it is not on ``issue`` or ``viewer`` may not see it."""
    comment = site.store.comments.get(comment_id)
    if comment is None or comment.issue_id != issue.id or not can_see(viewer, comment.visibility):
        raise not_found(f"Can not find a comment for the id: {comment_id}.")
    return comment


def find_attachment(site: SandboxJira, attachment_id: str) -> AttachmentRec:
    att = site.store.attachments.get(attachment_id)
    if att is None:
        raise not_found(f"The attachment with id '{attachment_id}' does not exist.")
    return att


def body_json(req: Request) -> Any:
    return req.json()


def _expand(req: Request) -> list[str]:
    return [e.strip() for value in req.args("expand") for e in value.split(",") if e.strip()]


def _user_ref(site: SandboxJira, req: Request) -> UserRec:
    """Cloud names a user by ``accountId``; Server by ``username`` or by ``key``, each only
    as itself (a username given as ``key`` is not found, as in Jira)."""
    if site.renderer.cloud:
        ref = req.arg("accountId")
        user = site.store.find_user(ref) if ref else None
    elif req.arg("username"):
        ref = req.arg("username")
        low = ref.lower()
        user = next((u for u in site.store.users.values() if (u.name or "").lower() == low), None)
    else:
        ref = req.arg("key")
        user = next((u for u in site.store.users.values() if ref and u.id == ref), None)
    if user is None:
        raise not_found(f"The user with the given identifier does not exist: {ref}")
    return user


@router.add("GET", "/rest/api/{v}/user")
def get_user(site: SandboxJira, req: Request) -> Response:
    """Where every user's ``self`` link points (accountId on Cloud, username/key on Server)."""
    return Response(body=site.renderer.user(_user_ref(site, req), v(req), full=True))


# --- identity and site --------------------------------------------------------------------


@router.add("GET", "/rest/api/{v}/myself")
def myself(site: SandboxJira, req: Request) -> Response:
    return Response(body=site.renderer.user(actor(req), v(req), full=True))


@router.add("GET", "/rest/api/{v}/serverInfo", auth=False)
def server_info(site: SandboxJira, req: Request) -> Response:
    now = site.store.clock.clock()
    cloud = site.renderer.cloud
    return Response(
        body={
            "baseUrl": site.renderer.base,
            "version": "1001.0.0-SNAPSHOT" if cloud else "9.12.0",
            "versionNumbers": [1001, 0, 0] if cloud else [9, 12, 0],
            "deploymentType": "Cloud" if cloud else "Server",
            "buildNumber": 100280 if cloud else 9120000,
            "buildDate": "2025-01-01T00:00:00.000+0000",
            "serverTime": jira_time(now),
            "scmInfo": "sandbox",
            "serverTitle": "Sandbox Jira",
        }
    )


# --- projects -----------------------------------------------------------------------------


def _project(site: SandboxJira, ref: str) -> Any:
    project = site.store.project(ref)
    if project is None:
        raise not_found(f"No project could be found with key '{ref}'.")
    return project


def _wants_issue_types(req: Request) -> bool:
    return "issueTypes" in ",".join(req.args("expand"))


@router.add("GET", "/rest/api/{v}/project")
def list_projects(site: SandboxJira, req: Request) -> Response:
    projects = sorted(site.store.projects.values(), key=lambda p: p.key)
    r = site.renderer
    body = [
        r.project(p, v(req), detail=False, issue_types=_wants_issue_types(req)) for p in projects
    ]
    return Response(body=body)


@router.add("GET", "/rest/api/{v}/project/search", flavours=("cloud",))
def search_projects(site: SandboxJira, req: Request) -> Response:
    start = req.int_arg("startAt", 0)
    limit = max(1, min(req.int_arg("maxResults", 50), 100))
    keys = {k.upper() for value in req.args("keys") for k in value.split(",") if k}
    text = (req.arg("query") or "").lower()
    projects = [
        p
        for p in sorted(site.store.projects.values(), key=lambda p: p.key)
        if (not keys or p.key in keys) and (text in p.key.lower() or text in p.name.lower())
    ]
    page = projects[start : start + limit]
    r = site.renderer
    body: dict[str, Any] = {
        "self": f"{r.api(v(req))}/project/search?startAt={start}&maxResults={limit}",
        "maxResults": limit,
        "startAt": start,
        "total": len(projects),
        "isLast": start + limit >= len(projects),
        "values": [
            r.project(p, v(req), detail=False, issue_types=_wants_issue_types(req)) for p in page
        ],
    }
    if not body["isLast"]:
        body["nextPage"] = (
            f"{r.api(v(req))}/project/search?startAt={start + limit}&maxResults={limit}"
        )
    return Response(body=body)


@router.add("GET", "/rest/api/{v}/project/{ref}")
def get_project(site: SandboxJira, req: Request) -> Response:
    project = _project(site, req.params["ref"])
    return Response(body=site.renderer.project(project, v(req), detail=True))


@router.add("GET", "/rest/api/{v}/issue/createmeta/{ref}/issuetypes")
def createmeta_issue_types(site: SandboxJira, req: Request) -> Response:
    project = _project(site, req.params["ref"])
    start = req.int_arg("startAt", 0)
    limit = max(1, min(req.int_arg("maxResults", 50), 200))
    types = [site.renderer.issue_type(n, v(req)) for n in project.issue_types]
    page = types[start : start + limit]
    if site.renderer.cloud:
        body = {"issueTypes": page, "maxResults": limit, "startAt": start, "total": len(types)}
    else:  # Jira Data Center 9 shape
        body = {
            "maxResults": limit,
            "startAt": start,
            "total": len(types),
            "isLast": start + limit >= len(types),
            "values": page,
        }
    return Response(body=body)


@router.add("GET", "/rest/api/{v}/issuetypescheme/project", flavours=("cloud",))
def issue_type_scheme_for_projects(site: SandboxJira, req: Request) -> Response:
    """Where Cloud exposes a project's default issue type (``defaultIssueTypeId``)."""
    ids = [i for value in req.args("projectId") for i in value.split(",") if i]
    if not ids:
        raise JiraError(400, ["The projectId parameter is required."])
    values = []
    for pid in ids:
        project = site.store.projects.get(pid)
        if project is None:
            continue
        scheme: dict[str, Any] = {
            "id": str(20000 + int(project.id)),
            "name": f"{project.key}: Issue Type Scheme",
            "description": "",
            "isDefault": False,
        }
        if project.default_issue_type:
            scheme["defaultIssueTypeId"] = site.store.issue_type_id(project.default_issue_type)
        values.append({"issueTypeScheme": scheme, "projectIds": [project.id]})
    return Response(
        body={
            "isLast": True,
            "maxResults": 50,
            "startAt": 0,
            "total": len(values),
            "values": values,
        }
    )


# --- issues -------------------------------------------------------------------------------


@router.add("POST", "/rest/api/{v}/issue")
def create_issue(site: SandboxJira, req: Request) -> Response:
    with site.store.lock:
        adf_check.check_request(site.store, v(req), body_json(req))
        project, values, properties = FieldReader(site.store, v(req)).create(body_json(req))
        issue = site.store.create_issue(actor(req), project, values, properties)
        return Response(
            201,
            {
                "id": issue.id,
                "key": issue.key,
                "self": f"{site.renderer.api(v(req))}/issue/{issue.id}",
            },
        )


@router.add("GET", "/rest/api/{v}/issue/{ref}")
def get_issue(site: SandboxJira, req: Request) -> Response:
    with site.store.lock:
        issue = find_issue(site, req.params["ref"])
        selection = FieldSelection(req.args("fields") or None, "*all")
        expand = [e for value in req.args("expand") for e in value.split(",")]
        body = site.renderer.issue(
            issue,
            v(req),
            selection,
            expand=expand,
            properties=req.args("properties"),
            viewer=actor(req),
        )
        return Response(body=body)


@router.add("PUT", "/rest/api/{v}/issue/{ref}")
def edit_issue(site: SandboxJira, req: Request) -> Response:
    with site.store.lock:
        issue = find_issue(site, req.params["ref"])
        adf_check.check_request(site.store, v(req), body_json(req))
        values = FieldReader(site.store, v(req)).edit(body_json(req), issue)
        site.store.edit_issue(actor(req), issue, values)
        if req.arg("returnIssue") == "true":
            return Response(200, site.renderer.issue(issue, v(req), viewer=actor(req)))
        return Response(NO_CONTENT)


SUBTASKS_LEFT = (
    "The issue '{}' has subtasks.  You must specify the 'deleteSubtasks' parameter to delete "
    "this issue and all its subtasks."
)


@router.add("DELETE", "/rest/api/{v}/issue/{ref}")
def delete_issue(site: SandboxJira, req: Request) -> Response:
    with site.store.lock:
        issue = find_issue(site, req.params["ref"])
        subtasks = site.store.children(issue)  # issue 18: Jira's deleteSubtasks rule
        if subtasks and req.arg("deleteSubtasks") != "true":
            raise JiraError(400, [SUBTASKS_LEFT.format(issue.key)])
        for subtask in subtasks:
            site.store.delete_issue(actor(req), subtask)
        site.store.delete_issue(actor(req), issue)
        return Response(NO_CONTENT)


# --- workflow transitions ---------------------------------------------------------------


@router.add("GET", "/rest/api/{v}/issue/{ref}/transitions")
def list_transitions(site: SandboxJira, req: Request) -> Response:
    """The transitions the issue's project workflow offers from its current status."""
    with site.store.lock:
        issue = find_issue(site, req.params["ref"])
        workflow = site.store.workflow(site.store.projects[issue.project_id])
        items = available(workflow, issue.status)
        wanted = req.arg("transitionId")
        if wanted:
            items = [t for t in items if t["id"] == wanted]
        with_fields = "transitions.fields" in _expand(req)
        return Response(
            body={
                "expand": "transitions",
                "transitions": [
                    site.renderer.transition(t, v(req), with_fields=with_fields) for t in items
                ],
            }
        )


@router.add("POST", "/rest/api/{v}/issue/{ref}/transitions")
def do_transition(site: SandboxJira, req: Request) -> Response:
    """Move the issue along a transition available now (fields in the body are set too)."""
    raw = body_json(req)
    ref = raw.get("transition") if isinstance(raw, dict) else None
    wanted = str(ref.get("id") or "") if isinstance(ref, dict) else ""
    if not wanted:
        raise JiraError(400, ["Missing 'transition' identifier"])
    with site.store.lock:
        issue = find_issue(site, req.params["ref"])
        workflow = site.store.workflow(site.store.projects[issue.project_id])
        chosen = next((t for t in available(workflow, issue.status) if t["id"] == wanted), None)
        if chosen is None:
            raise JiraError(400, [f"Transition id '{wanted}' is not valid for this issue."])
        if raw.get("fields") or raw.get("update"):
            adf_check.check_request(site.store, v(req), raw)
        values = FieldReader(site.store, v(req)).transition(raw, issue, chosen)
        done = site.store.statuses.get(chosen["to"], ("", ""))[1] == "done"
        resolution = resolution_after(
            chosen, done, issue.resolution, values.pop("resolution", None)
        )
        # Jira's changelog lists the resolution before the status (captured payloads)
        changes = {"resolution": resolution, **values, "status": chosen["to"]}
        site.store.edit_issue(actor(req), issue, changes)
        return Response(NO_CONTENT)


# --- fields -------------------------------------------------------------------------------


@router.add("GET", "/rest/api/{v}/field")
def list_fields(site: SandboxJira, req: Request) -> Response:
    """System and custom fields: what maps a custom field's name to its ``customfield_`` id."""
    with site.store.lock:
        return Response(body=site.renderer.fields(v(req)))


@router.add("GET", "/rest/api/{v}/issue/{ref}/changelog", flavours=("cloud",))
def issue_changelog(site: SandboxJira, req: Request) -> Response:
    with site.store.lock:
        issue = find_issue(site, req.params["ref"])
        start = req.int_arg("startAt", 0)
        limit = max(1, min(req.int_arg("maxResults", 100), 100))
        histories = [site.renderer.history(h, v(req)) for h in issue.history]
        page = histories[start : start + limit]
        return Response(
            body={
                "self": f"{site.renderer.api(v(req))}/issue/{issue.key}/changelog",
                "maxResults": limit,
                "startAt": start,
                "total": len(histories),
                "isLast": start + limit >= len(histories),
                "values": page,
            }
        )


# --- comments -----------------------------------------------------------------------------


@router.add("GET", "/rest/api/{v}/issue/{ref}/comment")
def list_comments(site: SandboxJira, req: Request) -> Response:
    with site.store.lock:
        issue = find_issue(site, req.params["ref"])
        start = req.int_arg("startAt", 0)
        limit = max(1, min(req.int_arg("maxResults", 5000), 5000))
        comments = visible(actor(req), site.store.issue_comments(issue))
        order = req.arg("orderBy")
        if order not in (None, "created", "+created", "-created"):
            raise JiraError(400, [f"The orderBy value '{order}' is not supported."])
        if order == "-created":
            comments = list(reversed(comments))
        page = comments[start : start + limit]
        return Response(
            body={
                "comments": [site.renderer.comment(c, v(req), expand=_expand(req)) for c in page],
                "maxResults": limit,
                "total": len(comments),
                "startAt": start,
            }
        )


@router.add("POST", "/rest/api/{v}/issue/{ref}/comment")
def add_comment(site: SandboxJira, req: Request) -> Response:
    with site.store.lock:
        issue = find_issue(site, req.params["ref"])
        raw = body_json(req)
        adf_check.check_request(site.store, v(req), raw, comment=True)
        body, visibility = comment_body(site.store, v(req), raw)
        check_author(site.store, actor(req), visibility)
        properties = comment_properties(raw)
        comment = site.store.add_comment(actor(req), issue, body, visibility, properties)
        return Response(201, site.renderer.comment(comment, v(req), expand=_expand(req)))


@router.add("GET", "/rest/api/{v}/issue/{ref}/comment/{cid}")
def get_comment(site: SandboxJira, req: Request) -> Response:
    with site.store.lock:
        issue = find_issue(site, req.params["ref"])
        comment = find_comment(site, issue, req.params["cid"], actor(req))
        return Response(body=site.renderer.comment(comment, v(req), expand=_expand(req)))


@router.add("PUT", "/rest/api/{v}/issue/{ref}/comment/{cid}")
def edit_comment(site: SandboxJira, req: Request) -> Response:
    with site.store.lock:
        issue = find_issue(site, req.params["ref"])
        comment = find_comment(site, issue, req.params["cid"], actor(req))
        raw = body_json(req)
        adf_check.check_request(site.store, v(req), raw, comment=True)
        body, visibility = comment_body(site.store, v(req), raw)
        if isinstance(raw, dict) and "visibility" not in raw:
            visibility = comment.visibility
        else:
            check_author(site.store, actor(req), visibility)
        comment.properties.update(comment_properties(raw))
        site.store.edit_comment(actor(req), issue, comment, body, visibility)
        return Response(body=site.renderer.comment(comment, v(req), expand=_expand(req)))


@router.add("DELETE", "/rest/api/{v}/issue/{ref}/comment/{cid}")
def delete_comment(site: SandboxJira, req: Request) -> Response:
    with site.store.lock:
        issue = find_issue(site, req.params["ref"])
        comment = find_comment(site, issue, req.params["cid"], actor(req))
        site.store.delete_comment(actor(req), issue, comment)
        return Response(NO_CONTENT)


# --- attachments --------------------------------------------------------------------------


@router.add("POST", "/rest/api/{v}/issue/{ref}/attachments")
def add_attachments(site: SandboxJira, req: Request) -> Response:
    token = req.headers.get("x-atlassian-token", "").lower()
    if token not in ("no-check", "nocheck"):
        raise JiraError(403, text="XSRF check failed")
    with site.store.lock:
        issue = find_issue(site, req.params["ref"])
    files = parse_multipart(req.headers.get("content-type", ""), req.body)
    if not files:
        raise JiraError(400, ["No attachments were found in the request (multipart field 'file')."])
    limit = site.faults.attachment_limit()
    for upload in files:
        if len(upload.data) > limit:
            raise JiraError(
                413,
                [
                    f"The file '{upload.filename}' is too large: {len(upload.data)} bytes, "
                    f"the maximum attachment size is {limit} bytes."
                ],
            )
    with site.store.lock:
        created = [
            site.store.add_attachment(actor(req), issue, f.filename, f.mime_type, f.data)
            for f in files
        ]
        return Response(200, [site.renderer.attachment(a, v(req)) for a in created])


@router.add("GET", "/rest/api/{v}/attachment/meta")
def attachment_settings(site: SandboxJira, req: Request) -> Response:
    """The site's attachment settings; ``uploadLimit`` follows the injected limit."""
    return Response(body={"enabled": True, "uploadLimit": site.faults.attachment_limit()})


@router.add("GET", "/rest/api/{v}/attachment/{aid}")
def attachment_meta(site: SandboxJira, req: Request) -> Response:
    with site.store.lock:
        att = find_attachment(site, req.params["aid"])
        return Response(body=site.renderer.attachment(att, v(req), meta=True))


@router.add("DELETE", "/rest/api/{v}/attachment/{aid}")
def delete_attachment(site: SandboxJira, req: Request) -> Response:
    with site.store.lock:
        att = find_attachment(site, req.params["aid"])
        site.store.delete_attachment(actor(req), att)
        return Response(NO_CONTENT)


def _content(att: AttachmentRec) -> Response:
    return Response(
        200,
        raw=att.data,
        content_type=att.mime_type,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(att.filename)}"},
    )


@router.add("GET", "/rest/api/{v}/attachment/content/{aid}", flavours=("cloud",))
def attachment_content(site: SandboxJira, req: Request) -> Response:
    """Cloud answers 303 to a media URL that needs no Jira auth, unless ``redirect=false``."""
    att = find_attachment(site, req.params["aid"])
    if req.arg("redirect", "true") == "false":
        return _content(att)
    location = f"{site.url}/_media/file/{att.id}/binary?token={media_token(site, att.id)}"
    return Response(303, headers={"Location": location})


def media_token(site: SandboxJira, attachment_id: str) -> str:
    return hmac.new(site.media_key, attachment_id.encode(), hashlib.sha256).hexdigest()[:32]


@router.add("GET", "/_media/file/{aid}/binary", flavours=("cloud",), auth=False)
def media_download(site: SandboxJira, req: Request) -> Response:
    """Stands in for Atlassian's media service: the token in the URL is the credential."""
    token = req.arg("token") or ""
    if not hmac.compare_digest(token, media_token(site, req.params["aid"])):
        raise JiraError(403, text="Forbidden: bad or missing media token")
    return _content(find_attachment(site, req.params["aid"]))


@router.add("GET", "/secure/attachment/{aid}/{filename}")
def secure_attachment(site: SandboxJira, req: Request) -> Response:
    return _content(find_attachment(site, req.params["aid"]))


# --- issue properties ---------------------------------------------------------------------


@router.add("GET", "/rest/api/{v}/issue/{ref}/properties")
def list_properties(site: SandboxJira, req: Request) -> Response:
    with site.store.lock:
        issue = find_issue(site, req.params["ref"])
        base = f"{site.renderer.api(v(req))}/issue/{issue.key}/properties"
        keys = [{"self": f"{base}/{k}", "key": k} for k in issue.properties]
        return Response(body={"keys": keys})


@router.add("GET", "/rest/api/{v}/issue/{ref}/properties/{pkey}")
def get_property(site: SandboxJira, req: Request) -> Response:
    with site.store.lock:
        issue = find_issue(site, req.params["ref"])
        key = req.params["pkey"]
        if key not in issue.properties:
            raise not_found(f"The property with key '{key}' does not exist.")
        return Response(body={"key": key, "value": issue.properties[key]})


@router.add("PUT", "/rest/api/{v}/issue/{ref}/properties/{pkey}")
def set_property(site: SandboxJira, req: Request) -> Response:
    key = req.params["pkey"]
    if len(key) > 255:
        raise JiraError(400, ["The property key can not be longer than 255 characters."])
    if len(req.body) > PROPERTY_MAX:
        raise JiraError(400, [f"The property value can not be longer than {PROPERTY_MAX} bytes."])
    if not req.body.strip():
        raise JiraError(400, ["The property value can not be empty."])
    value = body_json(req)
    with site.store.lock:
        issue = find_issue(site, req.params["ref"])
        created = site.store.set_property(issue, key, value)
        return Response(201 if created else 200)


@router.add("DELETE", "/rest/api/{v}/issue/{ref}/properties/{pkey}")
def delete_property(site: SandboxJira, req: Request) -> Response:
    with site.store.lock:
        issue = find_issue(site, req.params["ref"])
        if not site.store.delete_property(issue, req.params["pkey"]):
            raise not_found(f"The property with key '{req.params['pkey']}' does not exist.")
        return Response(NO_CONTENT)


# --- search -------------------------------------------------------------------------------


def _search_params(req: Request) -> dict[str, Any]:
    """Search parameters from the query string (GET) or the JSON body (POST)."""
    if req.method == "GET":
        return {
            "jql": req.arg("jql", ""),
            "startAt": req.int_arg("startAt", 0),
            "maxResults": req.int_arg("maxResults", 50),
            "nextPageToken": req.arg("nextPageToken"),
            "fields": req.args("fields") or None,
            "expand": [e for value in req.args("expand") for e in value.split(",") if e],
            "properties": req.args("properties"),
        }
    body = body_json(req) or {}
    if not isinstance(body, dict):
        raise JiraError(400, ["The search request must be a JSON object."])
    expand = body.get("expand") or []
    if isinstance(expand, str):
        expand = expand.split(",")
    return {
        "jql": body.get("jql") or "",
        "startAt": int(body.get("startAt") or 0),
        "maxResults": int(body.get("maxResults") or 50),
        "nextPageToken": body.get("nextPageToken"),
        "fields": [",".join(body["fields"])] if body.get("fields") else None,
        "expand": list(expand),
        "properties": [",".join(body.get("properties") or [])],
    }


def _render_issues(
    site: SandboxJira, req: Request, issues: list[IssueRec], params: dict[str, Any], default: str
) -> list[Any]:
    selection = FieldSelection(params["fields"], default)
    return [
        site.renderer.issue(
            i,
            v(req),
            selection,
            expand=params["expand"],
            properties=params["properties"],
            viewer=actor(req),
        )
        for i in issues
    ]


SEARCH_REMOVED = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
    "A full migration guideline is available at "
    "https://developer.atlassian.com/changelog/#CHANGE-2046"
)


@router.add("GET", "/rest/api/{v}/search")
@router.add("POST", "/rest/api/{v}/search")
def search(site: SandboxJira, req: Request) -> Response:
    """Offset-paged search: Server/DC only; Cloud removed it in 2025 (CHANGE-2046: 410)."""
    if site.renderer.cloud:
        raise JiraError(410, [SEARCH_REMOVED])
    params = _search_params(req)
    cap = 100 if site.renderer.cloud else 1000
    limit = max(0, min(params["maxResults"], cap))
    start = max(0, params["startAt"])
    result = by_offset(site.store, params["jql"], actor(req).id, start, limit)
    with site.store.lock:
        issues = _render_issues(site, req, result.issues, params, "*navigable")
    return Response(
        body={
            "expand": "names,schema",
            "startAt": start,
            "maxResults": limit,
            "total": result.total,
            "issues": issues,
        }
    )


@router.add("GET", "/rest/api/{v}/search/jql", flavours=("cloud",))
@router.add("POST", "/rest/api/{v}/search/jql", flavours=("cloud",))
def search_jql(site: SandboxJira, req: Request) -> Response:
    params = _search_params(req)
    selection = FieldSelection(params["fields"], "id")
    cap = 5000 if selection.id_only or selection.names <= {"id", "key"} else 100
    limit = max(1, min(params["maxResults"], cap))
    result = by_token(site.store, params["jql"], actor(req).id, params["nextPageToken"], limit)
    with site.store.lock:
        issues = _render_issues(site, req, result.issues, params, "id")
    body: dict[str, Any] = {"issues": issues, "isLast": result.next_token is None}
    if result.next_token:
        body["nextPageToken"] = result.next_token
    return Response(body=body)
