"""A connection's Settings tab: its name and description, the deletion policy, Deactivate /
Activate and Delete (each destructive one behind a plain HTML confirmation page)."""

from __future__ import annotations

from typing import Any

from chalicelib.console.client import AdminClient, ApiAnswer, api_path
from chalicelib.console.common import (
    api,
    connection_context,
    connections_page,
    console_api,
    read_connection,
)
from chalicelib.console.messages import sentence
from chalicelib.console.web import Html, Page, Redirect, html_route

DELETION_POLICIES = (
    ("ignore", "Keep the issue here", "Nothing happens to the twin on this side."),
    ("comment", "Add a comment", "The twin on this side gets a comment saying so (default)."),
    ("delete", "Delete the issue here too", "The twin on this side is deleted as well."),
)
DONE = {
    "saved": "The connection's information was saved.",
    "unchanged": "Nothing was changed.",
    "policy": "The deletion policy was saved.",
    "deactivated": "The connection was deactivated: nothing syncs until it is activated.",
    "already_deactivated": "The connection was already deactivated.",
    "activated": "The connection was activated: what waited is syncing again.",
    "activated_here": (
        "Activated on this side. The other side has deactivated its end, so the connection "
        "stays Deactivated until its administrator activates it."
    ),
}
# the same codes mean something more precise on this tab
SWITCH_SENTENCES = {
    "connection_pending": (
        "This connection is still waiting for the partner to accept the invitation, so it "
        "cannot be deactivated or activated. Delete it instead: that revokes the invitation code."
    ),
}


def _settings_page(
    page: Page,
    cid: str,
    *,
    error: str | None = None,
    status: int = 200,
    form: dict[str, str] | None = None,
) -> Html | Redirect:
    client = api(page)
    c = read_connection(client, cid)
    if isinstance(c, Html):
        return c
    policy = client.get(api_path("connections", cid, "deletion-policy"))
    return Html(
        "connection_settings.html",
        {
            **connection_context(cid, c, "settings"),
            "form": form or {"name": c["name"], "description": c.get("description") or ""},
            "policy": policy.body.get("on_twin_deleted") if policy.ok else None,
            "policy_error": None if policy.ok else sentence(policy),
            "policies": DELETION_POLICIES,
            "done": DONE.get(page.query.get("done", "")),
            "error": error,
        },
        status=status,
    )


def _gone(page: Page, answer: ApiAnswer) -> Redirect | Html:
    """The connection could not be read: its refusal as a sentence on the Connections tab."""
    return connections_page(api(page), refusal=answer)


def _back(page: Page, cid: str, done: str) -> Redirect:
    return Redirect(page.url(f"/connections/{cid}/settings", done=done))


@html_route(console_api, "/connections/{cid}/settings", ["GET"])
def connection_settings(page: Page, cid: str) -> Html | Redirect:
    return _settings_page(page, cid)


@html_route(console_api, "/connections/{cid}/settings", ["POST"])
def save_information(page: Page, cid: str) -> Html | Redirect:
    """Connection name and Description: ``PATCH /api/v1/connections/{id}`` (changed ones)."""
    client = api(page)
    c = read_connection(client, cid)
    if isinstance(c, Html):
        return c
    form = {
        "name": page.form.get("name", "").strip(),
        "description": page.form.get("description", "").strip(),
    }
    changes = {k: v for k, v in form.items() if v != (c.get(k) or "")}
    if not changes:
        return _back(page, cid, "unchanged")
    answer = client.call("PATCH", api_path("connections", cid), body=changes)
    if not answer.ok:
        return _settings_page(page, cid, error=sentence(answer), status=answer.status, form=form)
    return _back(page, cid, "saved")


@html_route(console_api, "/connections/{cid}/deletion-policy", ["POST"])
def save_deletion_policy(page: Page, cid: str) -> Html | Redirect:
    """``PUT /api/v1/connections/{id}/deletion-policy``."""
    chosen = page.form.get("on_twin_deleted", "")
    answer = api(page).call(
        "PUT", api_path("connections", cid, "deletion-policy"), body={"on_twin_deleted": chosen}
    )
    if not answer.ok:
        return _settings_page(page, cid, error=sentence(answer), status=answer.status)
    return _back(page, cid, "policy")


# --- Deactivate / Activate ----------------------------------------------------------------


def _confirm(page: Page, cid: str, action: str) -> Html | Redirect:
    c = read_connection(api(page), cid)
    if isinstance(c, Html):
        return c
    return Html(
        "connection_confirm.html",
        {"tab": "connections", "c": c, "cid": cid, "action": action},
    )


@html_route(console_api, "/connections/{cid}/settings/deactivate", ["GET"])
def confirm_deactivate(page: Page, cid: str) -> Html | Redirect:
    """The confirmation step before Deactivate (a page: no script, works with any browser)."""
    return _confirm(page, cid, "deactivate")


def _switch(client: AdminClient, cid: str, action: str, body: dict[str, Any]) -> ApiAnswer:
    return client.post(api_path("connections", cid, action), body)


def _switch_refused(page: Page, cid: str, answer: ApiAnswer) -> Html | Redirect:
    if answer.status == 404:
        return _gone(page, answer)
    said = SWITCH_SENTENCES.get(answer.code or "") or sentence(answer)
    return _settings_page(page, cid, error=said, status=answer.status)


@html_route(console_api, "/connections/{cid}/deactivate", ["POST"])
def deactivate(page: Page, cid: str) -> Html | Redirect:
    """``POST /api/v1/connections/{id}/deactivate`` with the optional reason."""
    client = api(page)
    c = read_connection(client, cid)
    if isinstance(c, Html):
        return c
    reason = page.form.get("reason", "").strip()
    answer = _switch(client, cid, "deactivate", {"reason": reason} if reason else {})
    if not answer.ok:
        return _switch_refused(page, cid, answer)
    if c.get("status") == "deactivated" and c.get("updated_at") == (answer.body.get("updated_at")):
        return _back(page, cid, "already_deactivated")
    return _back(page, cid, "deactivated")


@html_route(console_api, "/connections/{cid}/activate", ["POST"])
def activate(page: Page, cid: str) -> Html | Redirect:
    """``POST /api/v1/connections/{id}/activate`` (not destructive: no confirmation)."""
    answer = _switch(api(page), cid, "activate", {})
    if not answer.ok:
        return _switch_refused(page, cid, answer)
    return _back(page, cid, "activated" if answer.body["status"] == "active" else "activated_here")


# --- Delete -------------------------------------------------------------------------------


@html_route(console_api, "/connections/{cid}/settings/delete", ["GET"])
def confirm_delete(page: Page, cid: str) -> Html | Redirect:
    return _confirm(page, cid, "delete")


@html_route(console_api, "/connections/{cid}/delete", ["POST"])
def delete(page: Page, cid: str) -> Html | Redirect:
    """``DELETE /api/v1/connections/{id}``, then back to Connections with a notice."""
    client = api(page)
    c = read_connection(client, cid)
    if isinstance(c, Html):
        return c
    answer = client.call("DELETE", api_path("connections", cid))
    if not answer.ok:
        return _settings_page(page, cid, error=sentence(answer), status=answer.status)
    return Redirect(page.url("/connections", deleted=c["name"]))
