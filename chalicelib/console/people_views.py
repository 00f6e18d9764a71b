"""A connection's People tab: the user map (the other side's accounts to this tracker's),
who takes an unmapped person, and what happens to a child whose parent is not synced yet
(issue 18). Every value is the connection's own setting, saved with
``PATCH /api/v1/connections/{id}`` (``user_map``, ``user_fallback``, ``hierarchy``)."""

from __future__ import annotations

from typing import Any

from chalicelib.console.client import api_path
from chalicelib.console.common import api, connection_context, console_api, read_connection
from chalicelib.console.messages import sentence
from chalicelib.console.web import Html, Page, Redirect, html_route

HIERARCHY = (
    (
        "parent_first",
        "Bring the parent under sync first",
        "A sub-task or epic child put under sync brings its parent along (default).",
    ),
    (
        "wait",
        "Wait until the parent is synced",
        "The child waits, without an error, until someone syncs its parent.",
    ),
)
SEPARATOR = "="


class MapTextError(ValueError):
    """A line of the user map text that is not ``other side's user = this side's user``."""


def map_lines(user_map: Any) -> str:
    """The user map as the form's text: one ``remote = local`` pair per line."""
    pairs = user_map if isinstance(user_map, list) else []
    return "\n".join(
        f"{p.get('remote', '')} {SEPARATOR} {p.get('local', '')}"
        for p in pairs
        if isinstance(p, dict)
    )


def parse_map(text: str) -> list[dict[str, str]]:
    """The form's text as the API's ``user_map``; blank lines and ``#`` lines are skipped.
    Whether ids are real or repeated is the API's to say."""
    pairs = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        remote, sep, local = line.partition(SEPARATOR)
        if not sep or not remote.strip() or not local.strip():
            raise MapTextError(
                f"Line {number} of the user map is not “other side's user = this side's "
                f"user”: {line[:80]}"
            )
        pairs.append({"remote": remote.strip(), "local": local.strip()})
    return pairs


def _form_of(c: dict[str, Any]) -> dict[str, str]:
    fallback = c.get("user_fallback")
    user = fallback.get("user", "") if isinstance(fallback, dict) else ""
    return {
        "user_map": map_lines(c.get("user_map")),
        "fallback": "user" if user else "unassigned",
        "fallback_user": user,
        "hierarchy": c.get("hierarchy") or "parent_first",
    }


def _people_page(
    page: Page,
    cid: str,
    *,
    error: str | None = None,
    status: int = 200,
    form: dict[str, str] | None = None,
) -> Html | Redirect:
    c = read_connection(api(page), cid)
    if isinstance(c, Html):
        return c
    return Html(
        "connection_people.html",
        {
            **connection_context(cid, c, "people"),
            "form": form or _form_of(c),
            "hierarchy_choices": HIERARCHY,
            "done": "The people and hierarchy settings were saved."
            if page.query.get("done") == "saved"
            else None,
            "error": error,
        },
        status=status,
    )


@html_route(console_api, "/connections/{cid}/people", ["GET"])
def connection_people(page: Page, cid: str) -> Html | Redirect:
    return _people_page(page, cid)


@html_route(console_api, "/connections/{cid}/people", ["POST"])
def save_people(page: Page, cid: str) -> Html | Redirect:
    form = {
        "user_map": page.form.get("user_map", ""),
        "fallback": page.form.get("fallback", "unassigned"),
        "fallback_user": page.form.get("fallback_user", "").strip(),
        "hierarchy": page.form.get("hierarchy", "parent_first"),
    }
    try:
        user_map = parse_map(form["user_map"])
    except MapTextError as exc:
        return _people_page(page, cid, error=str(exc), status=400, form=form)
    if form["fallback"] == "user" and not form["fallback_user"]:
        return _people_page(
            page,
            cid,
            error="Give the user who takes the issues of unmapped people, or choose Unassigned.",
            status=400,
            form=form,
        )
    body = {
        "user_map": user_map,
        "user_fallback": {"user": form["fallback_user"]}
        if form["fallback"] == "user"
        else "unassigned",
        "hierarchy": form["hierarchy"],
    }
    answer = api(page).call("PATCH", api_path("connections", cid), body=body)
    if not answer.ok:
        return _people_page(page, cid, error=sentence(answer), status=answer.status, form=form)
    return Redirect(page.url(f"/connections/{cid}/people", done="saved"))
