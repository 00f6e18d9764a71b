"""What the console's screens share: the blueprint, the admin API as the signed-in
administrator, a connection in the screens' words, one page of a list, ages.

Every screen module (``signin_views``, ``wizard_views``, ``connection_views``, …) registers
its routes on :data:`console_api`; ``app.py`` registers the blueprint with every route of
the route table, and a screen module is imported on its first page
(:mod:`chalicelib.lazy_routes`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from chalicelib.console.client import AdminClient, ApiAnswer, api_path
from chalicelib.console.messages import sentence
from chalicelib.console.web import Html, Page
from chalicelib.lazy_routes import blueprint

console_api = blueprint("chalicelib.console")

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
PAGE_SIZE = "25"


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


def age_label(seconds: Any) -> str:
    """``12 s``, ``4 min``, ``3 h``, ``2 d``; ``—`` when there is nothing to age."""
    if not isinstance(seconds, int | float):
        return "\u2014"
    value = max(0, int(seconds))
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if value >= size:
            return f"{value // size} {unit}"
    return f"{value} s"


def paged(client: AdminClient, path: str, cursor: str | None, **query: str) -> dict[str, Any]:
    """One page of a list: its items, the next page's cursor, or a refusal as a sentence."""
    if cursor:
        query["cursor"] = cursor
    answer = client.get(path, limit=PAGE_SIZE, **query)
    if not answer.ok:
        return {"rows": [], "next": None, "error": sentence(answer)}
    return {"rows": list(answer.body), "next": answer.next_cursor, "error": None}


# A connection's pages, as tabs under its name: (slug, label, path after /connections/{id}).
# A new screen of a connection adds its tab here and renders ``_connection_nav.html``.
CONNECTION_TABS: tuple[tuple[str, str, str], ...] = (
    ("overview", "Overview", ""),
    ("rules", "Rules", "/rules"),
    ("triggers", "Triggers", "/triggers"),
    ("bulk", "Bulk sync", "/bulk"),
    ("people", "People", "/people"),
    ("settings", "Settings", "/settings"),
)


def connection_tabs(cid: str, current: str) -> list[dict[str, Any]]:
    """The connection's tabs for ``_connection_nav.html``, the current one marked."""
    return [
        {
            "slug": slug,
            "label": label,
            "path": f"/connections/{cid}{suffix}",
            "current": slug == current,
        }
        for slug, label, suffix in CONNECTION_TABS
    ]


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


def listed_connections(client: AdminClient) -> tuple[list[dict[str, Any]], ApiAnswer]:
    """The connections in the screens' words, each with its private peer's lag (if any)."""
    answer = client.get("/api/v1/connections")
    listed = [connection_view(c) for c in answer.body] if answer.ok else []
    for c in listed:
        c["peer_lag_label"] = peer_lag_label(c.get("peer_lag"))
    return listed, answer


def connections_page(
    client: AdminClient, *, refusal: ApiAnswer | None = None, deleted: str | None = None
) -> Html:
    """The Connections tab; with ``refusal`` (a connection that could not be read), its
    sentence and status."""
    listed, answer = listed_connections(client)
    problem = refusal if refusal is not None else (None if answer.ok else answer)
    return Html(
        "connections.html",
        {
            "tab": "connections",
            "connections": listed,
            "deleted": deleted,
            "error": sentence(problem) if problem is not None else None,
        },
        status=problem.status if problem is not None else 200,
    )


def read_connection(client: AdminClient, cid: str) -> dict[str, Any] | Html:
    """The connection in the screens' words (:func:`connection_view`), or, when the API
    refuses it (unknown, deleted), the Connections page saying why: a view returns that."""
    answer = client.get(api_path("connections", cid))
    if not answer.ok:
        return connections_page(client, refusal=answer)
    return connection_view(answer.body)


def connection_context(cid: str, c: Mapping[str, Any], tab: str) -> dict[str, Any]:
    """What every tab of a connection's page shows: the connection, its id, its tabs."""
    return {"tab": "connections", "c": c, "cid": cid, "tabs": connection_tabs(cid, tab)}
