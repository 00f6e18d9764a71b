"""Signing in and out of the console, its home, and its static files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chalice import Response

from chalicelib.console import session as sessions
from chalicelib.console.client import AdminClient, ApiAnswer
from chalicelib.console.common import console_api
from chalicelib.console.messages import sentence
from chalicelib.console.web import (
    SECURITY_HEADERS,
    Html,
    Page,
    Redirect,
    begin_session,
    cookie,
    end_session,
    html_route,
    safe_next,
)

STATIC = Path(__file__).parent / "static"
STATIC_TYPES = {
    "htmx.min.js": "text/javascript; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
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
    """Sign in with the node's admin token; the session is split between cookie and node."""
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
    if len(token.encode("utf-8")) > sessions.MAX_TOKEN_BYTES:
        return _signin_page(
            page,
            error=f"An admin token longer than {sessions.MAX_TOKEN_BYTES:,} bytes cannot sign "
            "in to the console (its cookie would be too large). Use the API, or a shorter "
            "token.",
            status=400,
        )
    answer = AdminClient(console_api.current_app, token, request_id=page.request_id).get(
        "/api/v1/node"
    )
    if not answer.ok:
        return _signin_page(page, error=sentence(answer), status=answer.status)
    return Redirect(
        safe_next(page, page.form.get("next")),
        cookies=(
            cookie(
                page,
                sessions.SESSION_COOKIE,
                begin_session(token),
                max_age=sessions.SESSION_SECONDS,
            ),
            cookie(page, sessions.SIGNIN_COOKIE, "", max_age=0),
        ),
    )


def _error(code: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": ""}}


@html_route(console_api, "/signout", ["POST"])
def signout(page: Page) -> Redirect:
    if page.session is not None:
        end_session(page.session)
    return Redirect(
        page.url("/signin"), cookies=(cookie(page, sessions.SESSION_COOKIE, "", max_age=0),)
    )
