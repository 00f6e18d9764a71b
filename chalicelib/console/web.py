"""The console's HTTP edge: its own small route helper (HTML, not the JSON contract).

:func:`html_route` registers a console view under ``/console`` (every console route is
there, so the JSON contract's route list excludes one prefix). It parses the Chalice request
once into a :class:`Page` (form fields, cookies, the session, the base path), checks CSRF on
every state-changing method, and turns what the view returns into a response carrying the
console's security headers: a strict Content-Security-Policy (scripts and styles only from
the console's own static files: nothing inline), no framing, no referrer, no caching.

URLs are built from the request's base path: ``""`` on the local node, ``"/prod"`` behind an
API Gateway stage (``requestContext.path`` holds the stage, ``resourcePath`` does not).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

import msgspec
from chalice import Blueprint, Response

from chalicelib import json_input
from chalicelib.console import session as sessions
from chalicelib.observability import logs, metrics
from chalicelib.root import root
from chalicelib.store import console_sessions
from chalicelib.structs import repr_without

log = logging.getLogger("twinsync.console")

PREFIX = "/console"
HTML_TYPE = "text/html; charset=utf-8"
MAX_FORM_BYTES = 65_536
# fields in one form: a Visual block posts six or more a mapping row, so 100 refused a block
# of some fifteen mappings; 2000 is about what 64 KB of short fields can carry
MAX_FORM_FIELDS = 2000
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
TEMPLATES = Path(__file__).parent / "templates"


class Refused(Exception):
    """A console request refused before its view (bad CSRF value, oversized form)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Page(msgspec.Struct, frozen=True):
    """One console request as views see it: parsed once, immutable."""

    method: str
    base: str  # the base path ("" or "/stage"), no trailing slash
    query: Mapping[str, str]
    form: Mapping[str, str]
    cookies: Mapping[str, str]
    headers: Mapping[str, str]
    secure: bool
    request_id: str
    session: sessions.Session | None = None

    def __repr__(self) -> str:
        return repr_without(self, secret=("session",))

    def url(self, path: str, **query: str | None) -> str:
        """An absolute path on this node for a console path (``"/connections"``)."""
        given = {k: v for k, v in query.items() if v is not None}
        suffix = "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in given.items())
        return f"{self.base}{PREFIX}{path}" + (suffix if given else "")

    @property
    def cookie_path(self) -> str:
        return f"{self.base}{PREFIX}"


class Html(msgspec.Struct, frozen=True):
    """A rendered page (or an htmx fragment)."""

    template: str
    context: Mapping[str, Any] = msgspec.field(default_factory=dict)
    status: int = 200
    cookies: tuple[str, ...] = ()


class Redirect(msgspec.Struct, frozen=True):
    """303 See Other to a console URL (already built with :meth:`Page.url`)."""

    location: str
    cookies: tuple[str, ...] = ()


View = Callable[..., Html | Redirect | Response]


# --- parsing -----------------------------------------------------------------------------


def base_path(context: Mapping[str, Any], params: Mapping[str, str]) -> str:
    """The part of the request's path before the route: a stage prefix, or ``""``."""
    resource = str(context.get("resourcePath") or "")
    actual = re.sub(r"\{(\w+)\+?\}", lambda m: params.get(m.group(1), m.group(0)), resource)
    path = str(context.get("path") or actual)
    if path != "/" and path.endswith("/"):
        path = path[:-1]  # API Gateway routes "/prod/console/" to "/console"
    if actual and path.endswith(actual):
        return path[: len(path) - len(actual)].rstrip("/")
    return ""


def _cookies(header: str) -> dict[str, str]:
    """The ``Cookie`` header's pairs, read as browsers send them (RFC 6265 section 5.4).

    Not ``http.cookies``: it drops every cookie after one it cannot parse, so another
    application's cookie on the same domain (a JSON value, say) would hide the session and
    send the administrator back to the sign-in form forever. The first pair of a name wins
    (the browser sends the most specific path first)."""
    jar: dict[str, str] = {}
    for pair in header.split(";"):
        name, equals, value = pair.partition("=")
        name, value = name.strip(), value.strip()
        if not equals or not name:
            continue
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        jar.setdefault(name, value)
    return jar


def _form(raw: bytes, content_type: str) -> dict[str, str]:
    if len(raw) > MAX_FORM_BYTES:
        raise Refused(413, "The form is too large.")
    if not raw or "application/x-www-form-urlencoded" not in content_type:
        return {}
    try:
        pairs = parse_qsl(
            raw.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refused(400, "The form could not be read.") from exc
    form = dict(pairs)
    _check_texts(form)
    return form


def _check_texts(*groups: Mapping[str, Any]) -> None:
    """Path, query, header and form values must be Unicode (a lone surrogate is a 400)."""
    for group in groups:
        for name, value in group.items():
            for text in (name, value) if isinstance(value, str) else (name,):
                try:
                    json_input.check_text(text)
                except json_input.UnsafeJson as exc:
                    raise Refused(400, "The request holds text that is not valid Unicode.") from exc


def parse(current: Any, params: Mapping[str, str], *, with_session: bool = True) -> Page:
    """The request as a :class:`Page`; its session is looked up ``with_session`` only (a
    static file or the sign-in form costs no read)."""
    root()  # the stage's settings, logs, metrics and tables, on every console request
    headers = {k.lower(): v for k, v in (current.headers or {}).items()}
    _check_texts(params, headers, dict(current.query_params or {}))
    context = current.context or {}
    cookies = _cookies(headers.get("cookie", ""))
    raw = current.raw_body or b""
    return Page(
        method=current.method,
        base=base_path(context, params),
        query=dict(current.query_params or {}),
        form=_form(raw, headers.get("content-type", "")),
        cookies=cookies,
        headers=headers,
        secure=headers.get("x-forwarded-proto", "").lower() == "https",
        request_id=str(context.get("requestId") or uuid.uuid4().hex),
        session=current_session(cookies.get(sessions.SESSION_COOKIE)) if with_session else None,
    )


def current_session(cookie: str | None) -> sessions.Session | None:
    """The session a cookie and the node's half of it make, or ``None``."""
    record = sessions.record_of(cookie)
    if cookie is None or record is None:
        return None
    stored = console_sessions.find(record)
    if stored is None:
        return None
    return sessions.join(
        cookie,
        csrf=stored.csrf,
        pad=stored.pad,
        expires=stored.expires,
        admin_token_sha256=root().settings.admin_token_sha256,
    )


def begin_session(token: str) -> str:
    """Start a session for ``token`` (already checked by the admin API): the node keeps its
    half, and the cookie's value is returned for the browser."""
    started = sessions.start(token)
    console_sessions.keep(
        started.record,
        console_sessions.StoredSession(csrf=started.csrf, pad=started.pad, expires=started.expires),
    )
    return started.cookie


def end_session(session: sessions.Session) -> None:
    """Sign out: the node's half is deleted, so no copy of the cookie opens anything."""
    console_sessions.forget(session.record)


def check_csrf(page: Page) -> None:
    """Every state change carries the session's CSRF value (form field or htmx header)."""
    if page.session is None:
        return  # the view sends the visitor to sign in; nothing is changed
    given = page.form.get("csrf_token") or page.headers.get("x-csrf-token")
    if not sessions.same_secret(given, page.session.csrf):
        raise Refused(
            403,
            "This form did not come from this console, or it has expired. "
            "Reload the page and try again.",
        )


# --- answering ---------------------------------------------------------------------------


@lru_cache(maxsize=1)
def environment() -> Any:
    """Jinja2, imported on the first console page only (no cost to other functions)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    return env


def when(timestamp: Any) -> str:
    """An API timestamp as people read it: ``2026-12-03 09:59:59 UTC`` (else as given)."""
    from datetime import UTC, datetime

    try:
        moment = datetime.fromisoformat(str(timestamp))
    except ValueError:
        return str(timestamp)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def cookie(page: Page, name: str, value: str, *, max_age: int, path: str | None = None) -> str:
    """A ``Set-Cookie`` value: HttpOnly, SameSite=Strict, Secure on https, expiring."""
    parts = [
        f"{name}={value}",
        f"Path={path or page.cookie_path}",
        f"Max-Age={max_age}",
        "HttpOnly",
        "SameSite=Strict",
    ]
    if page.secure:
        parts.append("Secure")
    return "; ".join(parts)


def _respond(
    body: str, status: int, page: Page | None, cookies: tuple[str, ...], **headers: str
) -> Response:
    all_headers: dict[str, Any] = {**SECURITY_HEADERS, **headers}
    if cookies:
        all_headers["Set-Cookie"] = list(cookies)
    return Response(body=body, status_code=status, headers=all_headers)


def render(page: Page, html: Html) -> Response:
    context = {
        "page": page,
        "url": page.url,
        "csrf": page.session.csrf if page.session else "",
        "signed_in": page.session is not None,
        "error": None,
        "tab": "",
        **html.context,
    }
    body = environment().get_template(html.template).render(**context)
    return _respond(body, html.status, page, html.cookies, **{"Content-Type": HTML_TYPE})


def redirect(location: str, cookies: tuple[str, ...] = ()) -> Response:
    return _respond("", 303, None, cookies, Location=location)


def plain_error(status: int, message: str) -> Response:
    """An error before a page could be parsed or rendered: escaped text, same headers."""
    from html import escape

    body = (
        "<!doctype html><html lang=en><meta charset=utf-8><title>Twinsync console</title>"
        f"<main><h1>Twinsync console</h1><p role=alert>{escape(message)}</p></main></html>"
    )
    return _respond(body, status, None, (), **{"Content-Type": HTML_TYPE})


def html_route(
    bp: Blueprint,
    path: str,
    methods: list[str],
    *,
    signed_in: bool = True,
    sees_session: bool | None = None,
) -> Callable[[View], View]:
    """Register a console view at ``/console{path}``.

    ``signed_in=True``: without a session, a GET goes to the sign-in page (and comes back
    afterwards) and anything else is refused with 401. State-changing methods always need
    the CSRF value; ``signed_in=False`` views (sign in) check their own. A ``signed_in=False``
    view sees no session (one read less) unless ``sees_session=True``.
    """
    full = PREFIX + path
    with_session = signed_in if sees_session is None else sees_session

    def decorator(view: View) -> View:
        def handler(**params: str) -> Response:
            current = bp.current_request
            with (
                logs.context(request_id=(current.context or {}).get("requestId")),
                metrics.collecting(),
            ):
                return _handle(current, view, params)

        def _handle(current: Any, view: View, params: dict[str, str]) -> Response:
            try:
                page = parse(current, params, with_session=with_session)
                if signed_in and page.session is None:
                    return _to_signin(page, current, full)
                if signed_in and page.method in STATE_CHANGING:
                    check_csrf(page)
                result = view(page, **params)
                if isinstance(result, Html):
                    return render(page, result)
            except Refused as exc:
                return plain_error(exc.status, exc.message)
            except Exception:
                log.exception("unhandled error on console %s %s", current.method, full)
                return plain_error(500, "Something went wrong; it is logged. Try again.")
            if isinstance(result, Redirect):
                return redirect(result.location, result.cookies)
            return result

        handler.__name__ = "console_" + view.__name__
        handler.__module__ = view.__module__  # the route table names the view's module
        handler.__doc__ = view.__doc__
        kwargs: dict[str, Any] = {"methods": methods}
        if set(methods) & STATE_CHANGING:
            # a GET has no body (Chalice takes it as JSON); a POST's JSON body is no form:
            # it carries no CSRF value and is refused
            kwargs["content_types"] = ["application/x-www-form-urlencoded", "application/json"]
        bp.route(full, **kwargs)(handler)
        return view

    return decorator


def _to_signin(page: Page, current: Any, full: str) -> Response:
    """No session: a GET goes to the sign-in page and comes back; anything else is a 401."""
    if page.method != "GET":
        return plain_error(401, "Sign in to the console first.")
    back = str((current.context or {}).get("path") or full)  # holds the stage prefix, if any
    if current.query_params:
        back += "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in current.query_params.items())
    return redirect(page.url("/signin", next=_local_path(page, back)))


def _local_path(page: Page, candidate: str) -> str:
    """``candidate`` when it is a console path on this node, else the console's home."""
    inside = candidate.startswith(page.cookie_path + "/") or candidate == page.cookie_path
    if inside and "//" not in candidate and "\\" not in candidate:
        return candidate
    return page.url("/connections")


def safe_next(page: Page, candidate: str | None) -> str:
    """Where to go after signing in: only a console path of this node (no open redirect)."""
    return _local_path(page, candidate or "")
