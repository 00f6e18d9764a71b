"""A connection's page: "Sync your first issue", its twins (each with a history), its
errors (Retry, Resolve) and its sync queue."""

from __future__ import annotations

from typing import Any

from chalicelib.console.client import AdminClient, api_path
from chalicelib.console.common import (
    age_label,
    api,
    connection_tabs,
    connection_view,
    connections_page,
    console_api,
    paged,
)
from chalicelib.console.messages import sentence
from chalicelib.console.web import Html, Page, Redirect, html_route

DONE = {
    "retried": "The error was retried: its work is back in the sync queue.",
    "resolved": "The error was resolved: its work was dropped on purpose.",
}
DIRECTIONS = {"outgoing": "Outgoing", "incoming": "Incoming"}


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
        return connections_page(client, refusal=answer)
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
            "tabs": connection_tabs(cid, "overview"),
            "cid": cid,
            "key": key,
            "twin": twin,
            "error": error,
            "done": DONE.get(page.query.get("done", "")),
            "twins": paged(
                client,
                api_path("connections", cid, "twins"),
                page.query.get("twins_cursor") or None,
            ),
            "errors": paged(
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
    history = paged(
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
