"""The console's node-wide tabs: the Audit log (with its JSON lines Export), the
notification webhooks (Notifications) and this node's facts and health (Node)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from chalice import Response

from chalicelib.console.client import AdminClient, ApiAnswer, api_path
from chalicelib.console.common import age_label, api, console_api, paged
from chalicelib.console.messages import sentence
from chalicelib.console.web import SECURITY_HEADERS, Html, Page, Redirect, html_route

HOOKS = "/api/v1/notifications/webhooks"
EVENT_LABELS = {
    "issue_error": "An issue fails to sync",
    "connection_paused": "A connection is paused",
}
HOOK_DONE = {
    "added": "The notification webhook was added.",
    "deleted": "The notification webhook was deleted.",
}
TRACKERS = {"jira_cloud": "Jira Cloud", "jira_server": "Jira Server / Data Center"}
JSON_LINES = "application/x-ndjson; charset=utf-8"
MAX_EXPORT_PARTS = 100  # 4 MB each (the API's answer): a log of up to 400 MB


# --- Audit log ----------------------------------------------------------------------------


def _audit_filters(page: Page) -> dict[str, str]:
    """The filters the API offers: only one connection's entries."""
    cid = page.query.get("connection_id", "").strip()
    return {"connection_id": cid} if cid else {}


def _details(details: Any) -> str:
    """An entry's details in one line: ``name: Acme, mode: basic``."""
    if not isinstance(details, Mapping):
        return ""
    return ", ".join(
        f"{k}: {v if isinstance(v, str) else json.dumps(v)}" for k, v in sorted(details.items())
    )


def _connection_names(client: AdminClient) -> dict[str, str]:
    listed = client.get("/api/v1/connections")
    return {c["id"]: c["name"] for c in listed.body} if listed.ok else {}


@html_route(console_api, "/audit", ["GET"])
def audit(page: Page) -> Html:
    """``GET /api/v1/audit``, newest first, 25 a page; **More entries** follows the cursor."""
    client = api(page)
    filters = _audit_filters(page)
    entries = paged(client, "/api/v1/audit", page.query.get("cursor") or None, **filters)
    names = _connection_names(client)
    rows = [
        {
            **e,
            "details_text": _details(e.get("details")),
            "connection_name": names.get(e.get("connection_id") or "")
            or (e.get("details") or {}).get("name"),
        }
        for e in entries["rows"]
    ]
    return Html(
        "audit.html",
        {
            "tab": "audit",
            "rows": rows,
            "next": entries["next"],
            "filters": filters,
            "connections": sorted(names.items(), key=lambda item: item[1].lower()),
            "error": entries["error"],
        },
        status=200 if entries["error"] is None else 400,
    )


def _jsonl(answer: ApiAnswer) -> str:
    """The export's JSON lines as the API wrote them (the client parses a body that is one
    JSON value: a one-entry export comes back as that entry, written again the API's way)."""
    if isinstance(answer.body, str):
        return answer.body
    if answer.body is None:
        return ""
    return json.dumps(answer.body, separators=(",", ":"), sort_keys=True) + "\n"


def _download(text: str, filename: str) -> Response:
    return Response(
        body=text,
        status_code=200,
        headers={
            **SECURITY_HEADERS,
            "Content-Type": JSON_LINES,
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )


@html_route(console_api, "/audit/export", ["GET"])
def export_audit(page: Page) -> Html | Response:
    """The audit log as JSON lines, oldest first (``GET /api/v1/audit?format=jsonl``).

    One API answer holds up to 4 MB (a Lambda answer is at most 6 MB), which is the whole
    log of almost every node: then this is the download. A longer log is offered in parts,
    one answer each, on a page listing them (the parts' cursors come from the ``Link``s).
    ``?part=N&cursor=…`` downloads one part.
    """
    client = api(page)
    filters = _audit_filters(page)
    cursor = page.query.get("cursor") or None
    part = page.query.get("part", "")
    first = client.get("/api/v1/audit", format="jsonl", **filters, **_cursor(cursor))
    if not first.ok:
        return _export_refused(page, first)
    if part.isdigit():
        return _download(_jsonl(first), f"twinsync-audit-part-{int(part)}.jsonl")
    if first.next_cursor is None:
        return _download(_jsonl(first), "twinsync-audit.jsonl")
    parts: list[dict[str, Any]] = [{"number": 1, "cursor": cursor}]
    following: str | None = first.next_cursor
    while following and len(parts) < MAX_EXPORT_PARTS:
        parts.append({"number": len(parts) + 1, "cursor": following})
        answer = client.get("/api/v1/audit", format="jsonl", **filters, cursor=following)
        if not answer.ok:
            return _export_refused(page, answer)
        following = answer.next_cursor
    return Html(
        "audit_export.html",
        {"tab": "audit", "parts": parts, "filters": filters, "more": following is not None},
    )


def _cursor(cursor: str | None) -> dict[str, str]:
    return {"cursor": cursor} if cursor else {}


def _export_refused(page: Page, answer: ApiAnswer) -> Html:
    return Html(
        "audit.html",
        {
            "tab": "audit",
            "rows": [],
            "next": None,
            "filters": _audit_filters(page),
            "connections": [],
            "error": sentence(answer),
        },
        status=answer.status,
    )


# --- Notifications ------------------------------------------------------------------------


def _notifications_page(
    page: Page,
    *,
    error: str | None = None,
    status: int = 200,
    form: Mapping[str, Any] | None = None,
    tested: Mapping[str, Any] | None = None,
) -> Html:
    answer = api(page).get(HOOKS, limit="100")
    body: dict[str, Any] = (
        answer.body if answer.ok else {"webhooks": [], "events": list(EVENT_LABELS)}
    )
    events = [{"value": e, "label": EVENT_LABELS.get(e, e)} for e in body["events"]]
    return Html(
        "notifications.html",
        {
            "tab": "notifications",
            "webhooks": [
                {**h, "event_labels": [EVENT_LABELS.get(e, e) for e in h["events"]]}
                for h in body["webhooks"]
            ],
            "events": events,
            "form": form or {"url": "", "events": [e["value"] for e in events]},
            "done": HOOK_DONE.get(page.query.get("done", "")),
            "tested": tested,
            "error": error or (None if answer.ok else sentence(answer)),
        },
        status=status if answer.ok or error else answer.status,
    )


@html_route(console_api, "/notifications", ["GET"])
def notifications(page: Page) -> Html:
    return _notifications_page(page)


@html_route(console_api, "/notifications", ["POST"])
def add_webhook(page: Page) -> Html | Redirect:
    """``POST /api/v1/notifications/webhooks`` with the URL and the events ticked."""
    url = page.form.get("url", "").strip()
    events = [e for e in EVENT_LABELS if page.form.get(f"event_{e}")]
    form = {"url": url, "events": events}
    if not events:
        return _notifications_page(
            page, error="Choose at least one event to be told about.", status=400, form=form
        )
    answer = api(page).post(HOOKS, {"url": url, "events": events})
    if not answer.ok:
        return _notifications_page(page, error=sentence(answer), status=answer.status, form=form)
    return Redirect(page.url("/notifications", done="added"))


def _webhook(client: AdminClient, hook_id: str) -> dict[str, Any] | None:
    answer = client.get(HOOKS, limit="100")
    if not answer.ok:
        return None
    return next((h for h in answer.body["webhooks"] if h["id"] == hook_id), None)


HOOK_GONE = "This notification webhook no longer exists. Reload the page."


@html_route(console_api, "/notifications/{hook_id}/delete", ["GET"])
def confirm_delete_webhook(page: Page, hook_id: str) -> Html:
    """The confirmation step before deleting a webhook."""
    hook = _webhook(api(page), hook_id)
    if hook is None:
        return _notifications_page(page, error=HOOK_GONE, status=404)
    return Html("notification_confirm.html", {"tab": "notifications", "hook": hook})


@html_route(console_api, "/notifications/{hook_id}/delete", ["POST"])
def delete_webhook(page: Page, hook_id: str) -> Html | Redirect:
    """``DELETE /api/v1/notifications/webhooks/{id}``."""
    answer = api(page).call("DELETE", api_path("notifications", "webhooks", hook_id))
    if not answer.ok:
        return _notifications_page(page, error=sentence(answer), status=answer.status)
    return Redirect(page.url("/notifications", done="deleted"))


@html_route(console_api, "/notifications/{hook_id}/test", ["POST"])
def test_webhook(page: Page, hook_id: str) -> Html:
    """Send test: ``POST …/webhooks/{id}/test``; whether the receiver took it."""
    answer = api(page).post(api_path("notifications", "webhooks", hook_id, "test"))
    if not answer.ok:
        return _notifications_page(page, error=sentence(answer), status=answer.status)
    return _notifications_page(page, tested={"id": hook_id, **answer.body})


# --- Node ---------------------------------------------------------------------------------


@html_route(console_api, "/node", ["GET"])
def node(page: Page) -> Html:
    """This node (``GET /api/v1/node``) and its health (``GET /api/v1/health``)."""
    client = api(page)
    about = client.get("/api/v1/node")
    health = client.get("/api/v1/health")
    errors = [sentence(a) for a in (about, health) if not a.ok]
    report = health.body if health.ok else None
    return Html(
        "node.html",
        {
            "tab": "node",
            "node": about.body if about.ok else None,
            "tracker_label": TRACKERS.get(about.body["tracker"]["kind"], "") if about.ok else "",
            "health": report,
            "oldest_pending": age_label(report.get("oldest_pending_age_s")) if report else "",
            "lags": {
                c["id"]: age_label(c["peer"].get("lag_s"))
                for c in (report or {}).get("connections", [])
            },
            "error": errors[0] if errors else None,
        },
        status=200 if not errors else max(a.status for a in (about, health) if not a.ok),
    )
