"""Remote issue links (``/issue/{key}/remotelink``): a link from an issue to an item elsewhere.

Jira Cloud and Server share the resource (Cloud REST 2 and 3, Server REST 2): create or
update by ``globalId`` (``POST`` answers 201 for a new link, 200 when the ``globalId``
already names one on the issue, which is updated in place), list (every link, or the one
with a ``globalId``), read, replace (``PUT``) and delete one by id, delete by ``globalId``.
``object.url`` and ``object.title`` are required, as Jira says in ``errors``. A remote link
is not an edit of the issue: ``updated`` does not move and no webhook is sent.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from .errors import JiraError, field_errors, not_found
from .http import Request, Response
from .rest import NO_CONTENT, find_issue, router, v
from .store import IssueRec

if TYPE_CHECKING:
    from .sandbox import SandboxJira

GLOBAL_ID_MAX = 255
KEPT = ("globalId", "application", "relationship", "object")


def _checked(body: Any) -> dict[str, Any]:
    """The request's link, or Jira's 400 naming what is missing."""
    if not isinstance(body, dict):
        raise JiraError(400, ["Can not deserialize the remote issue link."])
    remote = body.get("object")
    remote = remote if isinstance(remote, dict) else {}
    missing = {
        name: f"'{name}' is required."
        for name in ("url", "title")
        if not isinstance(remote.get(name), str) or not remote[name].strip()
    }
    if missing:
        raise field_errors(missing)
    global_id = body.get("globalId")
    if global_id is not None and (not isinstance(global_id, str) or len(global_id) > GLOBAL_ID_MAX):
        raise field_errors({"globalId": f"The global ID can not be longer than {GLOBAL_ID_MAX}."})
    return {name: copy.deepcopy(body[name]) for name in KEPT if body.get(name) is not None}


def _self(site: SandboxJira, req: Request, issue: IssueRec, link_id: int) -> str:
    return f"{site.renderer.api(v(req))}/issue/{issue.key}/remotelink/{link_id}"


def _rendered(site: SandboxJira, req: Request, issue: IssueRec, link: dict[str, Any]) -> Any:
    shown = {"id": link["id"], "self": _self(site, req, issue, link["id"])}
    shown.update({name: link[name] for name in KEPT if name in link})
    shown.setdefault("application", {})
    return shown


def _find(issue: IssueRec, link_id: str) -> dict[str, Any]:
    for link in issue.remote_links:
        if str(link["id"]) == link_id:
            return link
    raise not_found(f"No remote link with id {link_id} exists on issue {issue.key}.")


def _by_global_id(issue: IssueRec, global_id: str) -> dict[str, Any] | None:
    return next((x for x in issue.remote_links if x.get("globalId") == global_id), None)


@router.add("GET", "/rest/api/{v}/issue/{ref}/remotelink")
def list_remote_links(site: SandboxJira, req: Request) -> Response:
    with site.store.lock:
        issue = find_issue(site, req.params["ref"])
        global_id = req.arg("globalId")
        if global_id is not None:
            link = _by_global_id(issue, global_id)
            if link is None:
                raise not_found(f"No remote link with global id {global_id} exists.")
            return Response(body=_rendered(site, req, issue, link))
        return Response(body=[_rendered(site, req, issue, x) for x in issue.remote_links])


@router.add("POST", "/rest/api/{v}/issue/{ref}/remotelink")
def put_remote_link(site: SandboxJira, req: Request) -> Response:
    wanted = _checked(req.json())
    store = site.store
    with store.lock:
        issue = find_issue(site, req.params["ref"])
        existing = _by_global_id(issue, wanted["globalId"]) if "globalId" in wanted else None
        if existing is not None:
            link_id, status = int(existing["id"]), 200
            existing.clear()
            existing.update({"id": link_id, **wanted})
        else:
            link_id, status = int(store.next_id("remotelink")), 201
            issue.remote_links.append({"id": link_id, **wanted})
        store.on_change(("issues", issue.id))
        return Response(status, {"id": link_id, "self": _self(site, req, issue, link_id)})


@router.add("GET", "/rest/api/{v}/issue/{ref}/remotelink/{lid}")
def get_remote_link(site: SandboxJira, req: Request) -> Response:
    with site.store.lock:
        issue = find_issue(site, req.params["ref"])
        return Response(body=_rendered(site, req, issue, _find(issue, req.params["lid"])))


@router.add("PUT", "/rest/api/{v}/issue/{ref}/remotelink/{lid}")
def replace_remote_link(site: SandboxJira, req: Request) -> Response:
    wanted = _checked(req.json())
    with site.store.lock:
        issue = find_issue(site, req.params["ref"])
        link = _find(issue, req.params["lid"])
        link_id = link["id"]
        link.clear()
        link.update({"id": link_id, **wanted})
        site.store.on_change(("issues", issue.id))
        return Response(NO_CONTENT)


@router.add("DELETE", "/rest/api/{v}/issue/{ref}/remotelink/{lid}")
def delete_remote_link(site: SandboxJira, req: Request) -> Response:
    with site.store.lock:
        issue = find_issue(site, req.params["ref"])
        issue.remote_links.remove(_find(issue, req.params["lid"]))
        site.store.on_change(("issues", issue.id))
        return Response(NO_CONTENT)


@router.add("DELETE", "/rest/api/{v}/issue/{ref}/remotelink")
def delete_remote_link_by_global_id(site: SandboxJira, req: Request) -> Response:
    global_id = req.arg("globalId")
    if not global_id:
        raise JiraError(400, ["The global ID must be provided."])
    with site.store.lock:
        issue = find_issue(site, req.params["ref"])
        link = _by_global_id(issue, global_id)
        if link is None:
            raise not_found(f"No remote link with global id {global_id} exists.")
        issue.remote_links.remove(link)
        site.store.on_change(("issues", issue.id))
        return Response(NO_CONTENT)
