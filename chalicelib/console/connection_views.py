"""A connection's page: "Sync your first issue", "Connect issues", its twins (each with a
history and "Stop syncing" behind a confirmation page), its errors (Retry, Resolve) and its
sync queue."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from chalicelib.console.client import AdminClient, ApiAnswer, api_path
from chalicelib.console.common import (
    age_label,
    api,
    connection_context,
    console_api,
    paged,
    read_connection,
)
from chalicelib.console.messages import SENTENCES, sentence
from chalicelib.console.web import Html, Page, Redirect, html_route

DONE = {
    "retried": "The error was retried: its work is back in the sync queue.",
    "resolved": "The error was resolved: its work was dropped on purpose.",
}
KEY_FIELDS = {"local_key": "local issue", "remote_key": "remote issue"}
ALREADY_SYNCED = {
    "already_synced": "Stop syncing it first, or choose other issues.",
    "remote_issue_already_synced": "Stop syncing it first, or choose another remote issue.",
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
        # issue 18: children whose parent is not synced here yet (not errors)
        "waiting": q["incoming"].get("waiting", 0),
        "waiting_for_parent": q["incoming"].get("waiting_for_parent") or [],
        "incoming_age": age_label(q["incoming"].get("oldest_age_s")),
        "peer_local": bool(peer.get("local")),
        "peer_public": bool(peer.get("public")),
        "behind": peer.get("behind"),
        "behind_age": age_label(peer.get("behind_age_s")),
        "last_pull_at": peer.get("last_pull_at"),
        "open_errors": q.get("open_errors", 0),
    }


# which error records the Errors section lists (the API's ``status`` filter)
ERRORS_SHOWN = {"open": "Open", "retried": "Retried", "resolved": "Resolved", "all": "All"}
TWIN_SLOTS = ("twin", "connected-twin")  # where a twin's status is shown (and refreshed)


def _twin_or_none(client: AdminClient, cid: str, key: str | None) -> dict[str, Any] | None:
    if not key:
        return None
    found = client.get(api_path("connections", cid, "twins", key))
    return found.body if found.ok else None


def _notice(page: Page, client: AdminClient, cid: str) -> str | None:
    """The notice of the action the page was redirected from (``?done=…``, ``?stopped=…``)."""
    stopped = page.query.get("stopped")
    if stopped:
        twin = _twin_or_none(client, cid, stopped)
        remote = twin.get("remote") if twin else None
        pair = f"{stopped} and {remote['key']}" if remote else stopped
        return (
            f"Syncing stopped: {pair} stay as they are, and their changes no longer sync. "
            "Sync the issue (or connect it) again to restart."
        )
    return DONE.get(page.query.get("done", ""))


def _connected_notice(twin: dict[str, Any] | None) -> str | None:
    if twin is None:
        return None
    local, remote = twin["local"]["key"], (twin.get("remote") or {}).get("key", "")
    if twin["status"] == "queued":
        return (
            f"The connect request for {local} and {remote} was sent. The status below turns "
            "\u201csynced\u201d once the other instance has linked its issue (or says why it "
            "could not)."
        )
    return f"{local} is connected with {remote}."


def _connection_page(
    page: Page,
    cid: str,
    *,
    key: str | None,
    error: str | None = None,
    status: int = 200,
    connect_form: dict[str, str] | None = None,
    connect_error: str | None = None,
    connect_field: str | None = None,
) -> Html:
    client = api(page)
    c = read_connection(client, cid)
    if isinstance(c, Html):
        return c
    twin = None
    if key and not error:
        found = client.get(api_path("connections", cid, "twins", key))
        twin = found.body if found.ok else None
        error = None if found.ok else sentence(found)
    connected = None if connect_error else _twin_or_none(client, cid, page.query.get("connected"))
    shown = "stopped" if page.query.get("twins") == "stopped" else "live"
    errors_shown = page.query.get("errors", "open")
    errors_shown = errors_shown if errors_shown in ERRORS_SHOWN else "open"
    return Html(
        "connection.html",
        {
            **connection_context(cid, c, "overview"),
            "key": key,
            "twin": twin,
            "error": error,
            "done": _notice(page, client, cid),
            "connect": connect_form or {"local_key": "", "remote_key": ""},
            "connect_error": connect_error,
            "connect_field": connect_field,
            "connected": connected,
            "connected_notice": _connected_notice(connected),
            "twins_shown": shown,
            "twins": paged(
                client,
                api_path("connections", cid, "twins"),
                page.query.get("twins_cursor") or None,
                status=shown,
            ),
            "errors": paged(
                client,
                "/api/v1/errors",
                page.query.get("errors_cursor") or None,
                connection_id=cid,
                status=errors_shown,
            ),
            "errors_shown": errors_shown,
            "errors_choices": ERRORS_SHOWN,
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


@html_route(console_api, "/connections/{cid}/connect", ["POST"])
def connect_issues(page: Page, cid: str) -> Html | Redirect:
    """Connect issues: ``POST /api/v1/connections/{id}/connect``, then show the twin."""
    form = {
        "local_key": page.form.get("local_key", "").strip(),
        "remote_key": page.form.get("remote_key", "").strip(),
    }
    answer = api(page).post(api_path("connections", cid, "connect"), form)
    if not answer.ok:
        return _connection_page(
            page,
            cid,
            key=None,
            status=answer.status,
            connect_form=form,
            connect_error=connect_sentence(answer),
            connect_field=answer.field,
        )
    local = answer.body["local"]["key"]
    return Redirect(page.url("/connections/" + cid, connected=local) + "#connect")


def connect_sentence(answer: ApiAnswer) -> str:
    """A refusal of Connect issues; which issue a code is about comes from its field."""
    if answer.code in ("issue_not_found", "issue_not_readable") and answer.field == "local_key":
        return SENTENCES["local_" + answer.code]
    if answer.status == 400 and answer.field in KEY_FIELDS:
        return f"Enter the {KEY_FIELDS[answer.field]}’s key, such as ABC-12."
    if answer.code in ALREADY_SYNCED and answer.message.endswith("."):
        return f"{answer.message} {ALREADY_SYNCED[answer.code]}"  # it names both issues
    return sentence(answer)


@html_route(console_api, "/connections/{cid}/twins/{key}", ["GET"])
def twin(page: Page, cid: str, key: str) -> Html:
    """The twin's status as a fragment (htmx polls it while it is queued)."""
    answer = api(page).get(api_path("connections", cid, "twins", key))
    if not answer.ok:
        return Html("twin_error.html", {"error": sentence(answer)}, status=answer.status)
    slot = page.query.get("slot", "twin")
    return Html(
        "twin_fragment.html",
        {"twin": answer.body, "cid": cid, "slot": slot if slot in TWIN_SLOTS else "twin"},
    )


@html_route(console_api, "/connections/{cid}/twins/{key}/stop", ["GET", "POST"])
def stop_syncing(page: Page, cid: str, key: str) -> Html | Redirect:
    """Stop syncing: GET asks for confirmation (a page, no script); the POST of its form
    calls ``DELETE /api/v1/connections/{id}/twins/{key}`` (both ends stop, both issues
    stay) and goes back to the connection with a notice."""
    client = api(page)
    found = client.get(api_path("connections", cid, "twins", key))
    if not found.ok:
        return _connection_page(page, cid, key=None, error=sentence(found), status=found.status)
    back = "history" if (page.query.get("back") or page.form.get("back")) == "history" else ""
    if page.method == "POST":
        answer = client.call("DELETE", api_path("connections", cid, "twins", key))
        if not answer.ok:
            return _stop_page(page, cid, found.body, back, sentence(answer), answer.status)
        return Redirect(page.url("/connections/" + cid, stopped=key) + "#twins")
    return _stop_page(page, cid, found.body, back)


def _stop_page(
    page: Page,
    cid: str,
    twin: dict[str, Any],
    back: str,
    error: str | None = None,
    status: int = 200,
) -> Html:
    key = twin["local"]["key"]
    cancel = (
        page.url(f"/connections/{cid}/twins/{quote(key, safe='')}/history")
        if back
        else page.url("/connections/" + cid) + "#twins"
    )
    return Html(
        "twin_stop.html",
        {
            "tab": "connections",
            "cid": cid,
            "twin": twin,
            "back": back,
            "cancel": cancel,
            "error": error,
        },
        status=status,
    )


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
