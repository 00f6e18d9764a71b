"""The sandbox-only admin API under ``/_sandbox/`` (a prefix no Jira uses).

It sets a site up (projects, users with tokens, webhooks), resets it, injects faults and
reports what the site saw (request counts per user, webhook deliveries, a state dump).
Answers are plain JSON; errors are ``{"error": "..."}`` with a 4xx status.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .errors import JiraError
from .http import Request, Response, Router
from .jql import JqlError, parse
from .jql_eval import compile_query
from .screens import resolution_after
from .store import FieldRec, ProjectRec, UserRec, WebhookRec
from .visibility import groups_of
from .webhooks import EVENTS
from .workflow import parse_workflow, status_names

if TYPE_CHECKING:
    from .sandbox import SandboxJira

router = Router()


class AdminError(JiraError):
    """A refused admin request; answered as ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, [message])
        self.message = message

    def body(self) -> dict[str, object]:
        return {"error": self.message}


def body(req: Request) -> dict[str, Any]:
    data = req.json() or {}
    if not isinstance(data, dict):
        raise AdminError(400, "expected a JSON object")
    return data


def user_json(site: SandboxJira, user: UserRec, *, secrets: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": user.id,
        "display_name": user.display_name,
        "email": user.email,
        "name": user.name,
        "login": user.email if site.store.flavour == "cloud" else user.name,
        "groups": groups_of(user),
    }
    if site.store.flavour == "cloud":
        data["accountId"] = user.id
    else:
        data["key"] = user.id
    if secrets:
        data["token"] = user.token
        data["password"] = user.password
    return data


def project_json(project: ProjectRec) -> dict[str, Any]:
    return {
        "id": project.id,
        "key": project.key,
        "name": project.name,
        "issue_types": list(project.issue_types),
        "default_issue_type": project.default_issue_type,
        "workflow": parse_workflow(project.workflow),
        "screens": project.screens,
    }


def field_json(rec: FieldRec) -> dict[str, Any]:
    return {"id": rec.id, "name": rec.name, "type": rec.type}


def webhook_json(hook: WebhookRec) -> dict[str, Any]:
    return {
        "id": hook.id,
        "name": hook.name,
        "url": hook.url,
        "enabled": hook.enabled,
        "events": list(hook.events),
        "jql": hook.jql,
        "has_secret": bool(hook.secret),
    }


# --- site ---------------------------------------------------------------------------------


@router.add("GET", "/_sandbox/health", auth=False)
def health(site: SandboxJira, req: Request) -> Response:
    return Response(body={"flavour": site.flavour, "url": site.url, "ok": True})


@router.add("GET", "/_sandbox/state", auth=False)
def state(site: SandboxJira, req: Request) -> Response:
    data = req.arg("data") == "true"
    return Response(body=site.store.dump(include_secrets=False, include_data=data))


@router.add("POST", "/_sandbox/reset", auth=False)
def reset(site: SandboxJira, req: Request) -> Response:
    site.reset(apply_config=bool(body(req).get("config", True)))
    return Response(body={"ok": True})


@router.add("POST", "/_sandbox/settings", auth=False)
def settings(site: SandboxJira, req: Request) -> Response:
    data = body(req)
    if "indexed_properties" in data:
        value = data["indexed_properties"]
        if value is not None and not isinstance(value, list):
            raise AdminError(400, "indexed_properties must be a list of property keys or null")
        site.store.indexed_properties = value
    if "search_lag_ms" in data:
        lag = data["search_lag_ms"]
        if isinstance(lag, bool) or not isinstance(lag, int) or lag < 0:
            raise AdminError(400, "search_lag_ms must be a whole number of milliseconds >= 0")
        site.store.set_search_lag(lag)
    return Response(
        body={
            "indexed_properties": site.store.indexed_properties,
            "search_lag_ms": site.store.index.lag_ms,
        }
    )


# --- users and projects -------------------------------------------------------------------


@router.add("POST", "/_sandbox/users", auth=False)
def create_user(site: SandboxJira, req: Request) -> Response:
    return Response(201, user_json(site, site.add_user(body(req))))


@router.add("GET", "/_sandbox/users", auth=False)
def list_users(site: SandboxJira, req: Request) -> Response:
    return Response(body=[user_json(site, u, secrets=False) for u in site.store.users.values()])


@router.add("POST", "/_sandbox/projects", auth=False)
def create_project(site: SandboxJira, req: Request) -> Response:
    return Response(201, project_json(site.add_project(body(req))))


@router.add("GET", "/_sandbox/projects", auth=False)
def list_projects(site: SandboxJira, req: Request) -> Response:
    return Response(body=[project_json(p) for p in site.store.projects.values()])


@router.add("POST", "/_sandbox/issues/{ref}/status", auth=False)
def set_status(site: SandboxJira, req: Request) -> Response:
    """Move an issue to any status of its project's workflow, bypassing the transitions
    (an admin's shortcut); fires ``issue_updated`` as a transition does."""
    data = body(req)
    with site.store.lock:
        issue = site.store.issue(req.params["ref"])
        if issue is None:
            raise AdminError(404, "no such issue")
        names = status_names(site.store.workflow(site.store.projects[issue.project_id]))
        if data.get("status") not in names:
            raise AdminError(400, f"status must be one of {names}")
        who_id = site.user_ref(str(data["user"])) if data.get("user") else issue.reporter
        who = site.store.users.get(who_id or "")
        if who is None:
            raise AdminError(400, "name the acting user (user: accountId or name)")
        done = site.store.statuses.get(data["status"], ("", ""))[1] == "done"
        resolution = resolution_after({}, done, issue.resolution, None)
        site.store.edit_issue(who, issue, {"resolution": resolution, "status": data["status"]})
    return Response(body={"key": issue.key, "status": issue.status})


@router.add("POST", "/_sandbox/fields", auth=False)
def create_field(site: SandboxJira, req: Request) -> Response:
    """Define a custom field: ``{name, type: string|number|array|any, id?}``."""
    return Response(201, field_json(site.add_field(body(req))))


@router.add("GET", "/_sandbox/fields", auth=False)
def list_fields(site: SandboxJira, req: Request) -> Response:
    return Response(body=[field_json(f) for f in site.store.fields.values()])


# --- webhooks -----------------------------------------------------------------------------


def check_webhook(site: SandboxJira, data: dict[str, Any]) -> dict[str, Any]:
    allowed = {"url", "secret", "enabled", "events", "jql", "name"}
    unknown = set(data) - allowed
    if unknown:
        raise AdminError(400, f"unknown webhook settings: {sorted(unknown)}")
    if "url" in data:
        parts = urlsplit(str(data["url"]))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise AdminError(400, "url must be an http(s) URL")
    events = data.get("events") or []
    bad = [e for e in events if e not in EVENTS]
    if bad:
        raise AdminError(400, f"unknown events {bad}; known: {list(EVENTS)}")
    if data.get("jql"):
        try:
            compile_query(parse(data["jql"]), site.store.catalog(None))
        except JqlError as exc:
            raise AdminError(400, f"invalid jql: {exc.message}") from exc
    return data


@router.add("POST", "/_sandbox/webhooks", auth=False)
def create_webhook(site: SandboxJira, req: Request) -> Response:
    data = check_webhook(site, body(req))
    if not data.get("url"):
        raise AdminError(400, "url is required")
    return Response(201, webhook_json(site.add_webhook(data)))


@router.add("GET", "/_sandbox/webhooks", auth=False)
def list_webhooks(site: SandboxJira, req: Request) -> Response:
    return Response(body=[webhook_json(h) for h in site.store.webhooks.values()])


@router.add("GET", "/_sandbox/webhooks/deliveries", auth=False)
def deliveries(site: SandboxJira, req: Request) -> Response:
    wait = float(req.arg("wait", "0") or 0)
    idle = site.publisher.wait_idle(wait) if wait > 0 else not site.publisher.queue
    return Response(body={"idle": idle, "deliveries": list(site.publisher.log)})


@router.add("PATCH", "/_sandbox/webhooks/{wid}", auth=False)
def update_webhook(site: SandboxJira, req: Request) -> Response:
    data = check_webhook(site, body(req))
    with site.store.lock:
        hook = site.store.webhooks.get(req.params["wid"])
        if hook is None:
            raise AdminError(404, "no such webhook")
        for name, value in data.items():
            setattr(hook, name, value)
        site.store.on_change()
    return Response(body=webhook_json(hook))


@router.add("DELETE", "/_sandbox/webhooks/{wid}", auth=False)
def delete_webhook(site: SandboxJira, req: Request) -> Response:
    with site.store.lock:
        if site.store.webhooks.pop(req.params["wid"], None) is None:
            raise AdminError(404, "no such webhook")
        site.store.on_change()
    return Response(204)


# --- faults and the request log -----------------------------------------------------------


@router.add("GET", "/_sandbox/faults", auth=False)
def get_faults(site: SandboxJira, req: Request) -> Response:
    return Response(body=site.faults.as_dict())


@router.add("POST", "/_sandbox/faults", auth=False)
def set_faults(site: SandboxJira, req: Request) -> Response:
    try:
        site.faults.update(body(req))
    except ValueError as exc:
        raise AdminError(400, str(exc)) from exc
    return Response(body=site.faults.as_dict())


@router.add("DELETE", "/_sandbox/faults", auth=False)
def clear_faults(site: SandboxJira, req: Request) -> Response:
    site.faults.reset()
    return Response(body=site.faults.as_dict())


@router.add("GET", "/_sandbox/requests", auth=False)
def requests_log(site: SandboxJira, req: Request) -> Response:
    return Response(body=site.log.summary())


@router.add("DELETE", "/_sandbox/requests", auth=False)
def clear_requests(site: SandboxJira, req: Request) -> Response:
    site.log.clear()
    return Response(204)


@router.add("GET", "/_sandbox/time", auth=False)
def server_time(site: SandboxJira, req: Request) -> Response:
    return Response(body={"now_ms": site.store.clock.clock(), "wall_ms": int(time.time() * 1000)})
