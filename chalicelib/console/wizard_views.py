"""The Connections tab, the "Initiate connection" wizard and "Accept invitation"
(reference page 000's screens, in its words)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalice import Response

from chalicelib.console.common import (
    MODES,
    api,
    connection_view,
    connections_page,
    console_api,
    listed_connections,
)
from chalicelib.console.messages import sentence
from chalicelib.console.web import SECURITY_HEADERS, Html, Page, Redirect, html_route

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
    "destination_incoming_project",
    "admin_access",
)
NO_COMMON_MODE = (
    "The destination instance offers none of this node's configuration types ({offered}). "
    "Check the URL, or choose \u201cI don't have a URL\u201d."
)


# --- Connections -------------------------------------------------------------------------


@html_route(console_api, "/connections", ["GET"])
def connections(page: Page) -> Html:
    deleted = page.query.get("deleted", "")[:80] or None  # a connection's name: 80 at most
    return connections_page(api(page), deleted=deleted)


@html_route(console_api, "/live/connections", ["GET"], signed_in=False, sees_session=True)
def connections_table(page: Page) -> Html | Redirect | Response:
    """The Connections table alone: htmx polls it, so a new status shows without a reload.

    When the session has ended meanwhile, htmx is told to load the sign-in page as a page
    (``HX-Redirect``) instead of putting it inside the table.
    """
    if page.session is None:
        signin = page.url("/signin", next=page.url("/connections"))
        if page.headers.get("hx-request") == "true":
            return Response(
                body="", status_code=200, headers={**SECURITY_HEADERS, "HX-Redirect": signin}
            )
        return Redirect(signin)
    listed, answer = listed_connections(api(page))
    return Html(
        "_connections_table.html",
        {"connections": listed, "table_error": None if answer.ok else sentence(answer)},
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


def _cards(offered: list[str]) -> list[dict[str, str]]:
    return [{"value": m, "label": MODES[m][0], "text": MODES[m][1]} for m in MODES if m in offered]


def _modes(page: Page, w: Mapping[str, str]) -> dict[str, Any]:
    """The configuration types to offer, and what is known of the destination.

    Without a URL: this node's modes, never Visual. With a URL: the modes both this node and
    the destination offer (``GET /api/v1/destinations/info``); a destination that cannot
    be asked is a sentence and no card (Previous lets the administrator fix the URL).
    """
    client = api(page)
    node = client.get("/api/v1/node")
    if not node.ok:
        return {"modes": [], "destination": None, "error": sentence(node), "status": node.status}
    offered = list(node.body.get("modes", []))
    if not w["destination_url"]:
        return {
            "modes": _cards([m for m in offered if m != "visual"]),
            "destination": None,
            "error": None,
            "status": 200,
        }
    found = client.get("/api/v1/destinations/info", url=w["destination_url"])
    if not found.ok:
        return {"modes": [], "destination": None, "error": sentence(found), "status": found.status}
    theirs = list(found.body.get("modes", []))
    common = [m for m in offered if m in theirs]
    error = None
    if not common:
        error = NO_COMMON_MODE.format(offered=", ".join(MODES[m][0] for m in theirs if m in MODES))
    return {
        "modes": _cards(common),
        "destination": found.body,
        "error": error,
        "status": 200 if common else 422,
    }


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
    offer = _modes(page, w)
    return Html(
        "initiate_type.html",
        {
            "tab": "connections",
            "w": w,
            "modes": offer["modes"],
            "destination": offer["destination"],
            "error": offer["error"],
        },
        status=offer["status"],
    )


@html_route(console_api, "/initiate/information", ["GET"])
def initiate_information(page: Page) -> Html:
    w = wizard(page)
    back = _step_url(page, "/initiate/type", w, WIZARD_FIELDS)
    return Html("initiate_information.html", {"tab": "connections", "w": w, "back": back})


def _is_local(page: Page, w: Mapping[str, str]) -> bool:
    """Whether the destination URL is this node's own (a local connection)."""
    if not w["destination_url"]:
        return False
    found = api(page).get("/api/v1/destinations/info", url=w["destination_url"])
    return bool(found.ok and found.body.get("local"))


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
            "local": _is_local(page, w),
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
    if w["destination_incoming_project"]:
        body["destination_incoming_project"] = w["destination_incoming_project"]  # local
    elif w["destination_url"]:
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
            "remote_url": (connection.get("remote") or {}).get("url"),
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
