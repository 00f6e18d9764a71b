"""The Connections tab, the "Initiate connection" wizard and "Accept invitation"
(reference page 000's screens, in its words)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from chalice import Response

from chalicelib.console.client import ApiAnswer
from chalicelib.console.common import MODES, age_label, api, connection_view, console_api
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
    "admin_access",
)


# --- Connections -------------------------------------------------------------------------


def _listed(page: Page) -> tuple[list[dict[str, Any]], ApiAnswer]:
    """The connections in the screens' words, each with its private peer's lag (if any)."""
    answer = api(page).get("/api/v1/connections")
    listed = [connection_view(c) for c in answer.body] if answer.ok else []
    for c in listed:
        c["peer_lag_label"] = peer_lag_label(c.get("peer_lag"))
    return listed, answer


def peer_lag_label(lag: Mapping[str, Any] | None, now: datetime | None = None) -> str | None:
    """A private peer's lag: ``3 waiting, oldest 12 s; last pull 4 s ago`` (``None``: no lag
    to show, the other end is public or this is a local connection)."""
    if not lag:
        return None
    pending = int(lag.get("pending") or 0)
    text = f"{pending} waiting" + (
        f", oldest {age_label(lag.get('oldest_pending_age_s'))}" if pending else ""
    )
    pulled = lag.get("last_pull_at")
    if not pulled:
        return text + "; no pull yet"
    try:
        moment = datetime.fromisoformat(str(pulled))
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    ago = ((now or datetime.now(UTC)) - moment).total_seconds()
    return f"{text}; last pull {age_label(ago)} ago"


@html_route(console_api, "/connections", ["GET"])
def connections(page: Page) -> Html:
    listed, answer = _listed(page)
    return Html(
        "connections.html",
        {
            "tab": "connections",
            "connections": listed,
            "deleted": page.query.get("deleted", "")[:80] or None,  # a name: 80 at most
            "error": None if answer.ok else sentence(answer),
        },
        status=200 if answer.ok else answer.status,
    )


@html_route(console_api, "/live/connections", ["GET"], signed_in=False)
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
    listed, answer = _listed(page)
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
