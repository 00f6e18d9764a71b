"""A connection's Triggers and Bulk sync tabs, and a job's page with its live progress.

Triggers: list (paged), add (the tracker checks the JQL on save), Preview (how many issues
the JQL matches now), edit, enable/disable, delete (after a confirmation), and a bulk sync
of what a trigger matches. Bulk sync: a bulk sync by JQL, bulk connect (pairs of keys),
a drift scan and its repair, the connection's jobs (paged), and a job's page whose progress
fragment htmx polls every two seconds while the job runs (re-rendered without the trigger
once it has ended), with Cancel (after a confirmation).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.console.client import AdminClient, ApiAnswer, api_path
from chalicelib.console.common import (
    api,
    connection_context,
    console_api,
    paged,
    read_connection,
)
from chalicelib.console.messages import sentence
from chalicelib.console.web import Html, Page, Redirect, html_route

KINDS = {
    "bulk_sync": "Bulk sync",
    "bulk_connect": "Bulk connect",
    "drift_scan": "Drift scan",
    "drift_repair": "Drift repair",
}
STATES = {
    "listing": "Listing the issues",
    "running": "Running",
    "cancelling": "Cancelling",
    "done": "Done",
    "cancelled": "Cancelled",
    "failed": "Failed",
}
FINAL = frozenset({"done", "cancelled", "failed"})
WAITING = {
    "retry_after": "the tracker asked to slow down",
    "live_first": "live changes go first",
    "rate": "the node's pace",
    "job_rate": "this job's most issues an hour",
    "window_full": "the issues in flight to finish",
    "connection_not_active": "the connection to be active",
    "peer_unreachable": "the other instance to answer",
}
TRIGGER_DONE = {
    "created": "The trigger was added: issues it matches from now on come under sync.",
    "saved": "The trigger was saved.",
    "enabled": "The trigger is enabled.",
    "disabled": "The trigger is disabled: it puts no new issue under sync.",
    "deleted": "The trigger was deleted. Issues already synced stay synced.",
}
JOB_DONE = {"cancel": "Cancel requested: the job stops once the issues in flight are done."}


# --- shared ----------------------------------------------------------------------------------


def _int_field(form: Mapping[str, str], name: str) -> int | str | None:
    """A whole number from the form, ``None`` when empty, else the text (the API refuses)."""
    raw = form.get(name, "").strip()
    if not raw:
        return None
    return int(raw) if raw.isdigit() else raw


def _body(form: Mapping[str, str], *names: str) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name in names:
        value = _int_field(form, name)
        if value is not None:
            body[name] = value
    return body


def per_minute(rate_per_hour: Any) -> str:
    """``12.5`` issues an hour → ``0.2``: issues per minute as people read them."""
    if not isinstance(rate_per_hour, int | float) or isinstance(rate_per_hour, bool):
        return "\u2014"
    value = rate_per_hour / 60
    if value >= 10:
        return f"{value:.0f}"
    return f"{value:.1f}" if value >= 0.1 else f"{value:.2f}"


def duration(seconds: Any) -> str:
    """``eta_seconds`` as people read it: ``45 s``, ``3 min``, ``2 h 5 min``."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return "\u2014"
    value = max(0, int(seconds))
    if value < 60:
        return f"{value} s"
    if value < 3_600:
        return f"{value // 60} min"
    hours, rest = divmod(value, 3_600)
    return f"{hours} h {rest // 60} min" if rest >= 60 else f"{hours} h"


def job_view(job: Mapping[str, Any]) -> dict[str, Any]:
    """A job resource with the words and numbers the screens show."""
    total = int(job.get("total") or 0)
    done = int(job.get("done") or 0)
    handled = done + int(job.get("failed") or 0) + int(job.get("skipped") or 0)
    waiting = job.get("waiting") or None
    until = (waiting or {}).get("until")
    state = str(job.get("state") or "")
    return {
        **job,
        "kind_label": KINDS.get(str(job.get("kind")), str(job.get("kind"))),
        "state_label": STATES.get(state, state),
        "final": state in FINAL,
        "handled": handled,
        "percent": int(handled * 100 / total) if total else (100 if state == "done" else 0),
        "per_minute": per_minute(job.get("rate_per_hour")),
        "eta_label": duration(job.get("eta_seconds")),
        "waiting_until": until,
        # the measured rate says "soon" while the job waits longer: for a pause that ends
        # after the ETA, or for its own pace (the API's ETA does not know max_per_hour)
        "eta_after_wait": bool(
            (until and job.get("eta") and str(until) > str(job["eta"]))
            or (waiting and waiting.get("reason") == "job_rate")
        ),
        "waiting_label": (
            WAITING.get(str(waiting.get("reason")), str(waiting.get("reason"))) if waiting else None
        ),
    }


# --- triggers ----------------------------------------------------------------------------------


def _triggers_page(
    page: Page,
    cid: str,
    *,
    form: Mapping[str, str] | None = None,
    preview: Mapping[str, Any] | None = None,
    error: str | None = None,
    form_error: str | None = None,
    status: int = 200,
) -> Html:
    client = api(page)
    c = read_connection(client, cid)
    if isinstance(c, Html):
        return c
    return Html(
        "triggers.html",
        {
            **connection_context(cid, c, "triggers"),
            "triggers": paged(
                client,
                api_path("connections", cid, "triggers"),
                page.query.get("cursor") or None,
            ),
            "form": dict(form or {"active": "on"}),
            "preview": preview,
            "error": error,
            "form_error": form_error,
            "done": TRIGGER_DONE.get(page.query.get("done", "")),
        },
        status=status,
    )


def _trigger_body(form: Mapping[str, str], *, with_active: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {"jql": form.get("jql", "").strip()}
    note = form.get("note", "").strip()
    body["note"] = note or None
    if with_active:
        body["active"] = form.get("active") == "on"
    return body


@html_route(console_api, "/connections/{cid}/triggers", ["GET"])
def triggers(page: Page, cid: str) -> Html:
    """The connection's triggers, a page at a time, and the form to add one."""
    return _triggers_page(page, cid)


@html_route(console_api, "/connections/{cid}/triggers", ["POST"])
def add_trigger(page: Page, cid: str) -> Html | Redirect:
    """Add a trigger (``POST …/triggers``); a JQL the tracker refuses stays in the field."""
    answer = api(page).post(api_path("connections", cid, "triggers"), _trigger_body(page.form))
    if not answer.ok:
        return _triggers_page(
            page, cid, form=page.form, form_error=sentence(answer), status=answer.status
        )
    return Redirect(page.url(f"/connections/{cid}/triggers", done="created"))


@html_route(console_api, "/connections/{cid}/triggers/preview", ["POST"])
def preview_trigger(page: Page, cid: str) -> Html:
    """How many issues the JQL in the form matches now (``POST …/triggers/preview``)."""
    jql = page.form.get("jql", "").strip()
    answer = api(page).post(api_path("connections", cid, "triggers", "preview"), {"jql": jql})
    if not answer.ok:
        return _triggers_page(
            page, cid, form=page.form, form_error=sentence(answer), status=answer.status
        )
    return _triggers_page(page, cid, form=page.form, preview={**answer.body, "jql": jql})


def _find_trigger(client: AdminClient, cid: str, tid: str) -> dict[str, Any] | None:
    """A trigger by id (the API lists triggers; it has no GET of one): read the pages."""
    cursor: str | None = None
    for _ in range(100):
        query = {"limit": "100", **({"cursor": cursor} if cursor else {})}
        answer = client.get(api_path("connections", cid, "triggers"), **query)
        if not answer.ok:
            return None
        for trigger in answer.body:
            if trigger.get("id") == tid:
                return dict(trigger)
        cursor = answer.next_cursor
        if not cursor:
            return None
    return None


def _edit_page(
    page: Page,
    cid: str,
    tid: str,
    *,
    form: Mapping[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Html:
    client = api(page)
    c = read_connection(client, cid)
    if isinstance(c, Html):
        return c
    trigger = _find_trigger(client, cid, tid)
    if trigger is None:
        return _triggers_page(
            page, cid, error="This trigger no longer exists. Reload the page.", status=404
        )
    if form is None:
        form = {
            "jql": trigger["jql"],
            "note": trigger.get("note") or "",
            "active": "on" if trigger.get("active") else "",
        }
    return Html(
        "trigger_edit.html",
        {
            **connection_context(cid, c, "triggers"),
            "trigger": trigger,
            "form": dict(form),
            "form_error": error,
        },
        status=status,
    )


@html_route(console_api, "/connections/{cid}/triggers/{tid}/edit", ["GET"])
def edit_trigger(page: Page, cid: str, tid: str) -> Html:
    """A trigger's edit form: JQL, note, enabled."""
    return _edit_page(page, cid, tid)


@html_route(console_api, "/connections/{cid}/triggers/{tid}/edit", ["POST"])
def save_trigger(page: Page, cid: str, tid: str) -> Html | Redirect:
    """Save the edit form (``PATCH …/triggers/{tid}``); a refusal keeps what was typed."""
    answer = api(page).call(
        "PATCH", api_path("connections", cid, "triggers", tid), body=_trigger_body(page.form)
    )
    if not answer.ok:
        return _edit_page(
            page, cid, tid, form=page.form, error=sentence(answer), status=answer.status
        )
    return Redirect(page.url(f"/connections/{cid}/triggers", done="saved"))


@html_route(console_api, "/connections/{cid}/triggers/{tid}/active", ["POST"])
def enable_trigger(page: Page, cid: str, tid: str) -> Html | Redirect:
    """Enable (``active=on``) or disable a trigger (``PATCH …/triggers/{tid} {active}``)."""
    active = page.form.get("active") == "on"
    answer = api(page).call(
        "PATCH", api_path("connections", cid, "triggers", tid), body={"active": active}
    )
    if not answer.ok:
        return _triggers_page(page, cid, error=sentence(answer), status=answer.status)
    done = "enabled" if active else "disabled"
    return Redirect(page.url(f"/connections/{cid}/triggers", done=done))


@html_route(console_api, "/connections/{cid}/triggers/{tid}/delete", ["POST"])
def delete_trigger(page: Page, cid: str, tid: str) -> Html | Redirect:
    """Delete a trigger (``DELETE …/triggers/{tid}``), after the row's confirmation."""
    answer = api(page).call("DELETE", api_path("connections", cid, "triggers", tid))
    if not answer.ok:
        return _triggers_page(page, cid, error=sentence(answer), status=answer.status)
    return Redirect(page.url(f"/connections/{cid}/triggers", done="deleted"))


@html_route(console_api, "/connections/{cid}/triggers/{tid}/bulk-sync", ["POST"])
def bulk_sync_trigger(page: Page, cid: str, tid: str) -> Html | Redirect:
    """Bulk sync what the trigger matches now (``POST …/triggers/{tid}/bulk-sync``)."""
    answer = api(page).post(
        api_path("connections", cid, "triggers", tid, "bulk-sync"),
        _body(page.form, "max_per_hour"),
    )
    if not answer.ok:
        return _triggers_page(page, cid, error=sentence(answer), status=answer.status)
    return Redirect(page.url(f"/connections/{cid}/jobs/{answer.body['job_id']}"))


# --- bulk sync, bulk connect, drift scan, the connection's jobs --------------------------------


def connection_jobs(client: AdminClient, cid: str, cursor: str | None) -> dict[str, Any]:
    """One page of this connection's jobs, newest first (``GET /api/v1/jobs?connection_id=``)."""
    jobs = paged(client, "/api/v1/jobs", cursor, connection_id=cid)
    return {**jobs, "rows": [job_view(j) for j in jobs["rows"]]}


def _bulk_page(
    page: Page,
    cid: str,
    *,
    form: Mapping[str, str] | None = None,
    error: str | None = None,
    where: str = "",
    status: int = 200,
) -> Html:
    client = api(page)
    c = read_connection(client, cid)
    if isinstance(c, Html):
        return c
    return Html(
        "bulk.html",
        {
            **connection_context(cid, c, "bulk"),
            "jobs": connection_jobs(client, cid, page.query.get("cursor") or None),
            "form": dict(form or {}),
            # the refusal is shown in the form it belongs to
            "errors": {
                **dict.fromkeys(("sync", "connect", "drift", "jobs")),
                **({where: error} if error else {}),
            },
            "error": None,
        },
        status=status,
    )


def _start(page: Page, cid: str, path: str, body: dict[str, Any], where: str) -> Html | Redirect:
    answer = api(page).post(path, body)
    if not answer.ok:
        return _bulk_page(
            page, cid, form=page.form, error=sentence(answer), where=where, status=answer.status
        )
    return Redirect(page.url(f"/connections/{cid}/jobs/{answer.body['job_id']}"))


@html_route(console_api, "/connections/{cid}/bulk", ["GET"])
def bulk(page: Page, cid: str) -> Html:
    """Bulk sync, bulk connect, drift scan, and the connection's jobs."""
    return _bulk_page(page, cid)


@html_route(console_api, "/connections/{cid}/bulk/sync", ["POST"])
def start_bulk_sync(page: Page, cid: str) -> Html | Redirect:
    """``POST …/bulk-sync {jql, page_size?, max_per_hour?}``, then the job's page."""
    body = {"jql": page.form.get("jql", "").strip(), **_body(page.form, "max_per_hour")}
    return _start(page, cid, api_path("connections", cid, "bulk-sync"), body, "sync")


@html_route(console_api, "/connections/{cid}/bulk/connect", ["POST"])
def start_bulk_connect(page: Page, cid: str) -> Html | Redirect:
    """``POST …/bulk-connect {csv, max_per_hour?}`` (one ``local,remote`` pair a line)."""
    body = {"csv": page.form.get("pairs", ""), **_body(page.form, "max_per_hour")}
    return _start(page, cid, api_path("connections", cid, "bulk-connect"), body, "connect")


@html_route(console_api, "/connections/{cid}/bulk/drift-scan", ["POST"])
def start_drift_scan(page: Page, cid: str) -> Html | Redirect:
    """``POST …/drift-scan {}``: compare every twin through both ends."""
    return _start(page, cid, api_path("connections", cid, "drift-scan"), {}, "drift")


# --- a job ---------------------------------------------------------------------------------------


def _job(client: AdminClient, cid: str, job_id: str) -> tuple[dict[str, Any] | None, ApiAnswer]:
    answer = client.get(api_path("jobs", job_id))
    if answer.ok and answer.body.get("connection_id") != cid:
        refused = {"error": {"code": "job_not_found", "message": "No such job."}}
        return None, ApiAnswer(404, refused)
    return (job_view(answer.body) if answer.ok else None), answer


def _job_page(
    page: Page, cid: str, job_id: str, *, error: str | None = None, status: int = 200
) -> Html:
    client = api(page)
    c = read_connection(client, cid)
    if isinstance(c, Html):
        return c
    job, found = _job(client, cid, job_id)
    if job is None:
        return _bulk_page(page, cid, error=sentence(found), where="jobs", status=found.status)
    return Html(
        "job.html",
        {
            **connection_context(cid, c, "bulk"),
            "job": job,
            "error": error,
            "done": JOB_DONE.get(page.query.get("done", "")),
            "oob": False,
        },
        status=status,
    )


@html_route(console_api, "/connections/{cid}/jobs/{job_id}", ["GET"])
def job(page: Page, cid: str, job_id: str) -> Html:
    """A job: progress bar, done/total, rate, ETA, Cancel while it runs."""
    return _job_page(page, cid, job_id)


@html_route(console_api, "/connections/{cid}/jobs/{job_id}/progress", ["GET"])
def job_progress(page: Page, cid: str, job_id: str) -> Html:
    """The job's progress as a fragment: htmx polls it while the job runs."""
    job, answer = _job(api(page), cid, job_id)
    if job is None:
        return Html("job_error.html", {"error": sentence(answer)}, status=answer.status)
    return Html("job_fragment.html", {"cid": cid, "job": job, "oob": True})


@html_route(console_api, "/connections/{cid}/jobs/{job_id}/cancel", ["POST"])
def cancel_job(page: Page, cid: str, job_id: str) -> Html | Redirect:
    """Cancel the job (``POST /api/v1/jobs/{job_id}/cancel``), after the confirmation."""
    client = api(page)
    job, found = _job(client, cid, job_id)
    if job is None:
        return _bulk_page(page, cid, error=sentence(found), where="jobs", status=found.status)
    answer = client.post(api_path("jobs", job_id, "cancel"))
    if not answer.ok:
        return _job_page(page, cid, job_id, error=sentence(answer), status=answer.status)
    return Redirect(page.url(f"/connections/{cid}/jobs/{job_id}", done="cancel"))


@html_route(console_api, "/connections/{cid}/jobs/{job_id}/repair", ["POST"])
def repair_drift(page: Page, cid: str, job_id: str) -> Html | Redirect:
    """Re-sync what a finished drift scan found drifted (``POST …/drift-scan/{id}/repair``)."""
    answer = api(page).post(api_path("connections", cid, "drift-scan", job_id, "repair"), {})
    if not answer.ok:
        return _job_page(page, cid, job_id, error=sentence(answer), status=answer.status)
    return Redirect(page.url(f"/connections/{cid}/jobs/{answer.body['job_id']}"))
