"""The admin console's screens, in the reference pages' words, under ``/console``.

Each view reads a :class:`~chalicelib.console.web.Page`, acts only through the admin API
(:class:`~chalicelib.console.client.AdminClient`, with the signed-in administrator's token)
and answers with a template, a redirect or a static file. Screens built so far: sign in and
out, Connections, the Initiate connection wizard, Accept invitation, and a connection's page
with "Sync your first issue", its twins (each with its history), errors (Retry, Resolve) and
sync queue (see ``docs/console.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chalice import Blueprint, Response

from chalicelib.console import session as sessions
from chalicelib.console.client import AdminClient, ApiAnswer, api_path
from chalicelib.console.messages import sentence
from chalicelib.console.web import (
    SECURITY_HEADERS,
    Html,
    Page,
    Redirect,
    cookie,
    html_route,
    safe_next,
)

console_api = Blueprint(__name__)

STATIC = Path(__file__).parent / "static"
STATIC_TYPES = {
    "htmx.min.js": "text/javascript; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
MODES = {
    "basic": (
        "Basic",
        "A fixed set of sync rules: summary, description, comments, attachments and issue types.",
    ),
    "visual": ("Visual", "Map fields and values of both sides from one place."),
    "script": ("Script", "Sync rules you write, for each side."),
}
STATUS_LABELS = {
    "pending": "Pending",
    "active": "Active",
    "deactivated": "Deactivated",
    "error": "Error",
}
NEED_DESTINATION = "Enter the destination instance URL, or choose \u201cI don't have a URL\u201d."
WIZARD_FIELDS = (
    "destination_url",
    "no_url",
    "mode",
    "local_short_name",
    "remote_short_name",
    "name",
    "description",
    "incoming_project",
    "admin_access",
)


def api(page: Page) -> AdminClient:
    """The admin API as the signed-in administrator."""
    assert page.session is not None
    return AdminClient(console_api.current_app, page.session.token, request_id=page.request_id)


def connection_view(resource: Mapping[str, Any]) -> dict[str, Any]:
    """A connection resource with the words the screens show."""
    remote = resource.get("remote")
    known = bool(remote and (remote.get("node_id") or remote.get("url")))
    return {
        **resource,
        "remote_label": resource.get("remote_short_name") if known else "unknown",
        "mode_label": MODES.get(resource.get("mode", ""), (resource.get("mode"), ""))[0],
        "status_label": STATUS_LABELS.get(resource.get("status", ""), "Error"),
    }


# --- static files, home, sign in and out -------------------------------------------------


@html_route(console_api, "/static/{name}", ["GET"], signed_in=False)
def static(page: Page, name: str) -> Response:
    """The console's own scripts and styles (a fixed list: nothing else is served)."""
    kind = STATIC_TYPES.get(name)
    if kind is None:
        return Response(body="", status_code=404, headers={**SECURITY_HEADERS})
    headers: dict[str, str | list[str]] = {
        **SECURITY_HEADERS,
        "Content-Type": kind,
        "Cache-Control": "public, max-age=3600",
    }
    return Response(body=(STATIC / name).read_text(encoding="utf-8"), headers=headers)


@html_route(console_api, "", ["GET"], signed_in=False)
def home(page: Page) -> Redirect:
    return Redirect(page.url("/connections"))


def _signin_page(page: Page, *, error: str | None = None, status: int = 200) -> Html:
    nonce = sessions.new_signin_nonce()
    set_nonce = cookie(page, sessions.SIGNIN_COOKIE, nonce, max_age=sessions.SIGNIN_SECONDS)
    next_url = safe_next(page, page.form.get("next") or page.query.get("next"))
    return Html(
        "signin.html",
        {"signin_nonce": nonce, "next": next_url, "error": error},
        status=status,
        cookies=(set_nonce,),
    )


@html_route(console_api, "/signin", ["GET", "POST"], signed_in=False)
def signin(page: Page) -> Html | Redirect:
    """Sign in with the node's admin token; the session is a sealed cookie."""
    if page.method == "GET":
        return _signin_page(page)
    if not sessions.same_secret(
        page.form.get("csrf_token"), page.cookies.get(sessions.SIGNIN_COOKIE, "")
    ):
        return _signin_page(
            page,
            error="The sign-in form expired or did not come from this console. Try again.",
            status=403,
        )
    token = page.form.get("token", "").strip()
    if not token:
        return _signin_page(
            page, error=sentence(ApiAnswer(401, _error("missing_token"))), status=401
        )
    answer = AdminClient(console_api.current_app, token, request_id=page.request_id).get(
        "/api/v1/node"
    )
    if not answer.ok:
        return _signin_page(page, error=sentence(answer), status=answer.status)
    new = sessions.new_session(token)
    return Redirect(
        safe_next(page, page.form.get("next")),
        cookies=(
            cookie(
                page,
                sessions.SESSION_COOKIE,
                sessions.seal(new, page.key),
                max_age=sessions.SESSION_SECONDS,
            ),
            cookie(page, sessions.SIGNIN_COOKIE, "", max_age=0),
        ),
    )


def _error(code: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": ""}}


@html_route(console_api, "/signout", ["POST"])
def signout(page: Page) -> Redirect:
    return Redirect(
        page.url("/signin"), cookies=(cookie(page, sessions.SESSION_COOKIE, "", max_age=0),)
    )


# --- Connections -------------------------------------------------------------------------


@html_route(console_api, "/connections", ["GET"])
def connections(page: Page) -> Html:
    answer = api(page).get("/api/v1/connections")
    listed = [connection_view(c) for c in answer.body] if answer.ok else []
    return Html(
        "connections.html",
        {
            "tab": "connections",
            "connections": listed,
            "error": None if answer.ok else sentence(answer),
        },
        status=200 if answer.ok else answer.status,
    )


# --- Initiate connection (a wizard: each step carries the earlier answers) ----------------


def wizard(page: Page) -> dict[str, str]:
    given = page.form if page.method == "POST" else page.query
    values = {name: given.get(name, "").strip() for name in WIZARD_FIELDS}
    if values["no_url"]:
        values["destination_url"] = ""
    return values


def _step_url(page: Page, path: str, w: Mapping[str, str], names: tuple[str, ...]) -> str:
    return page.url(path, **{n: w[n] or None for n in names})


@html_route(console_api, "/initiate", ["GET"])
def initiate_destination(page: Page) -> Html:
    return Html("initiate_destination.html", {"tab": "connections", "w": wizard(page)})


def _modes(page: Page, w: Mapping[str, str]) -> tuple[list[dict[str, str]], ApiAnswer]:
    """The configuration types to offer: this node's modes; never Visual without a URL."""
    answer = api(page).get("/api/v1/node")
    offered = list(answer.body.get("modes", [])) if answer.ok else []
    if not w["destination_url"]:
        offered = [m for m in offered if m != "visual"]
    return [
        {"value": m, "label": MODES[m][0], "text": MODES[m][1]} for m in MODES if m in offered
    ], answer


@html_route(console_api, "/initiate/type", ["GET"])
def initiate_type(page: Page) -> Html:
    w = wizard(page)
    if not w["destination_url"] and not w["no_url"]:
        return Html(
            "initiate_destination.html",
            {
                "tab": "connections",
                "w": w,
                "error": NEED_DESTINATION,
            },
            status=400,
        )
    modes, answer = _modes(page, w)
    error = None if answer.ok else sentence(answer)
    return Html(
        "initiate_type.html", {"tab": "connections", "w": w, "modes": modes, "error": error}
    )


@html_route(console_api, "/initiate/information", ["GET"])
def initiate_information(page: Page) -> Html:
    w = wizard(page)
    back = _step_url(page, "/initiate/type", w, WIZARD_FIELDS)
    return Html("initiate_information.html", {"tab": "connections", "w": w, "back": back})


def _project_step(
    page: Page, w: Mapping[str, str], *, error: str | None = None, status: int = 200
) -> Html:
    answer = api(page).get("/api/v1/projects")
    projects = answer.body if answer.ok else []
    back = _step_url(page, "/initiate/information", w, WIZARD_FIELDS)
    return Html(
        "initiate_project.html",
        {
            "tab": "connections",
            "w": w,
            "projects": projects,
            "back": back,
            "error": error or (None if answer.ok else sentence(answer)),
        },
        status=status,
    )


@html_route(console_api, "/initiate/project", ["GET"])
def initiate_project(page: Page) -> Html:
    return _project_step(page, wizard(page))


@html_route(console_api, "/initiate", ["POST"])
def initiate(page: Page) -> Html | Redirect:
    """Initiate: ``POST /api/v1/connections`` with the wizard's answers."""
    w = wizard(page)
    body: dict[str, Any] = {
        "destination_url": w["destination_url"] or None,
        "mode": w["mode"],
        "local_short_name": w["local_short_name"],
        "remote_short_name": w["remote_short_name"],
        "name": w["name"],
        "description": w["description"],
        "incoming_project": w["incoming_project"],
    }
    if w["destination_url"]:
        body["admin_access"] = w["admin_access"] == "yes"
    answer = api(page).post("/api/v1/connections", body)
    if not answer.ok:
        return _project_step(page, w, error=sentence(answer), status=answer.status)
    created = answer.body
    connection = created["connection"]
    if not created.get("invitation_code") and not created.get("redirect_url"):
        return Redirect(page.url("/connections/" + connection["id"]))  # local: active at once
    return Html(
        "initiated.html",
        {
            "tab": "connections",
            "connection": connection,
            "invitation_code": created.get("invitation_code") or "",
            "redirect_url": created.get("redirect_url"),
            "remote": connection_view(connection)["remote_label"],
        },
        status=201,
    )


# --- Accept invitation -------------------------------------------------------------------


def _accept_page(
    page: Page, *, code: str, project: str, error: str | None = None, status: int = 200
) -> Html:
    answer = api(page).get("/api/v1/projects")
    return Html(
        "accept.html",
        {
            "tab": "connections",
            "code": code,
            "project": project,
            "projects": answer.body if answer.ok else [],
            "error": error or (None if answer.ok else sentence(answer)),
        },
        status=status,
    )


@html_route(console_api, "/accept", ["GET", "POST"])
def accept(page: Page) -> Html | Redirect:
    """Paste the code, choose the project; ``?code=`` (or ``#code=``) fills the code in."""
    if page.method == "GET":
        return _accept_page(page, code=page.query.get("code", ""), project="")
    code = page.form.get("invitation_code", "").strip()
    project = page.form.get("incoming_project", "").strip()
    answer = api(page).post(
        "/api/v1/invitations/accept", {"invitation_code": code, "incoming_project": project}
    )
    if not answer.ok:
        return _accept_page(
            page, code=code, project=project, error=sentence(answer), status=answer.status
        )
    return Redirect(page.url("/connections/" + answer.body["connection"]["id"]))


# --- a connection, and "Sync your first issue" -------------------------------------------


PAGE_SIZE = "25"
DONE = {
    "retried": "The error was retried: its work is back in the sync queue.",
    "resolved": "The error was resolved: its work was dropped on purpose.",
}
DIRECTIONS = {"outgoing": "Outgoing", "incoming": "Incoming"}


def age_label(seconds: Any) -> str:
    """``12 s``, ``4 min``, ``3 h``, ``2 d``; ``—`` when there is nothing to age."""
    if not isinstance(seconds, int | float):
        return "\u2014"
    value = max(0, int(seconds))
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if value >= size:
            return f"{value // size} {unit}"
    return f"{value} s"


def _paged(client: AdminClient, path: str, cursor: str | None, **query: str) -> dict[str, Any]:
    """One page of a list: its items, the next page's cursor, or a refusal as a sentence."""
    if cursor:
        query["cursor"] = cursor
    answer = client.get(path, limit=PAGE_SIZE, **query)
    if not answer.ok:
        return {"rows": [], "next": None, "error": sentence(answer)}
    return {"rows": list(answer.body), "next": answer.next_cursor, "error": None}


def _queue(client: AdminClient, cid: str) -> dict[str, Any]:
    answer = client.get(api_path("connections", cid, "queue"))
    if not answer.ok:
        return {"error": sentence(answer)}
    q = answer.body
    peer = q.get("peer") or {}
    return {
        "error": None,
        "outgoing": q["outgoing"]["pending"],
        "outgoing_age": age_label(q["outgoing"].get("oldest_age_s")),
        "incoming": q["incoming"]["pending"],
        "held": q["incoming"].get("held", 0),
        "incoming_age": age_label(q["incoming"].get("oldest_age_s")),
        "peer_local": bool(peer.get("local")),
        "peer_public": bool(peer.get("public")),
        "behind": peer.get("behind"),
        "behind_age": age_label(peer.get("behind_age_s")),
        "last_pull_at": peer.get("last_pull_at"),
        "open_errors": q.get("open_errors", 0),
    }


def _connection_page(
    page: Page, cid: str, *, key: str | None, error: str | None = None, status: int = 200
) -> Html:
    client = api(page)
    answer = client.get(api_path("connections", cid))
    if not answer.ok:
        listed = client.get("/api/v1/connections")
        return Html(
            "connections.html",
            {
                "tab": "connections",
                "connections": [connection_view(c) for c in listed.body] if listed.ok else [],
                "error": sentence(answer),
            },
            status=answer.status,
        )
    twin = None
    if key and not error:
        found = client.get(api_path("connections", cid, "twins", key))
        twin = found.body if found.ok else None
        error = None if found.ok else sentence(found)
    return Html(
        "connection.html",
        {
            "tab": "connections",
            "c": connection_view(answer.body),
            "cid": cid,
            "key": key,
            "twin": twin,
            "error": error,
            "done": DONE.get(page.query.get("done", "")),
            "twins": _paged(
                client,
                api_path("connections", cid, "twins"),
                page.query.get("twins_cursor") or None,
            ),
            "errors": _paged(
                client,
                "/api/v1/errors",
                page.query.get("errors_cursor") or None,
                connection_id=cid,
            ),
            "queue": _queue(client, cid),
        },
        status=status,
    )


@html_route(console_api, "/connections/{cid}", ["GET"])
def connection(page: Page, cid: str) -> Html:
    return _connection_page(page, cid, key=page.query.get("key") or None)


@html_route(console_api, "/connections/{cid}/sync", ["POST"])
def sync_issue(page: Page, cid: str) -> Html | Redirect:
    """Sync your first issue: ``POST /api/v1/connections/{id}/sync``, then watch the twin."""
    key = page.form.get("issue_key", "").strip()
    answer = api(page).post(api_path("connections", cid, "sync"), {"issue_key": key})
    if not answer.ok:
        return _connection_page(page, cid, key=key, error=sentence(answer), status=answer.status)
    return Redirect(page.url("/connections/" + cid, key=answer.body["local"]["key"]))


@html_route(console_api, "/connections/{cid}/twins/{key}", ["GET"])
def twin(page: Page, cid: str, key: str) -> Html:
    """The twin's status as a fragment (htmx polls it while it is queued)."""
    answer = api(page).get(api_path("connections", cid, "twins", key))
    if not answer.ok:
        return Html("twin_error.html", {"error": sentence(answer)}, status=answer.status)
    return Html("twin_fragment.html", {"twin": answer.body, "cid": cid})


@html_route(console_api, "/connections/{cid}/twins/{key}/history", ["GET"])
def twin_history(page: Page, cid: str, key: str) -> Html:
    """A twin's history as a timeline: time, direction, changes, outcome (newest first)."""
    client = api(page)
    found = client.get(api_path("connections", cid, "twins", key))
    if not found.ok:
        return _connection_page(page, cid, key=None, error=sentence(found), status=found.status)
    history = _paged(
        client,
        api_path("connections", cid, "twins", key, "history"),
        page.query.get("cursor") or None,
    )
    return Html(
        "twin_history.html",
        {
            "tab": "connections",
            "cid": cid,
            "twin": found.body,
            "history": history,
            "directions": DIRECTIONS,
            "error": history["error"],
        },
    )


def _error_action(page: Page, cid: str, eid: str, action: str) -> Html | Redirect:
    """Retry or resolve an error record: ``POST /api/v1/errors/{eid}/{action}``."""
    answer = api(page).post(api_path("errors", eid, action))
    if not answer.ok:
        return _connection_page(page, cid, key=None, error=sentence(answer), status=answer.status)
    return Redirect(page.url("/connections/" + cid, done=answer.body["status"]) + "#errors")


@html_route(console_api, "/connections/{cid}/errors/{eid}/retry", ["POST"])
def retry_error(page: Page, cid: str, eid: str) -> Html | Redirect:
    return _error_action(page, cid, eid, "retry")


@html_route(console_api, "/connections/{cid}/errors/{eid}/resolve", ["POST"])
def resolve_error(page: Page, cid: str, eid: str) -> Html | Redirect:
    return _error_action(page, cid, eid, "resolve")
