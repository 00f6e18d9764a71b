"""Admin routes of operations: triggers, bulk jobs, connect, stop syncing, queue, audit.

Views parse and answer; the work lives in :mod:`chalicelib.ops`.
"""

from __future__ import annotations

from typing import Any

from chalicelib.api.auth import require_admin
from chalicelib.api.paging import MAX_LIMIT, page_request, paged
from chalicelib.api.routing import ApiRequest, Reply, json_route, node_max_body
from chalicelib.errors import BadRequest, Conflict
from chalicelib.lazy_routes import blueprint
from chalicelib.store.models import ConnectionModel
from chalicelib.store.pages import Page

ops_api = blueprint(__name__)

CONN = "/api/v1/connections/{cid}"
JSON_LINES = "application/x-ndjson; charset=utf-8"
# a Lambda answer is at most 6 MB, JSON-escaped on its way out: the rest is behind the Link
EXPORT_MAX_BYTES = 4_000_000
EXPORT_PAGE = MAX_LIMIT  # entries read at a time


def _connection(cid: str, *, active: bool = False) -> ConnectionModel:
    from chalicelib.sync.control import live_connection

    connection = live_connection(cid)
    if active and connection.status != "active":
        raise Conflict(
            f"The connection is {connection.status}; activate it (or wait for the partner to "
            "accept the invitation) first.",
            code="connection_not_active",
        )
    return connection


# --- triggers -------------------------------------------------------------------------------


@json_route(ops_api, CONN + "/triggers", ["GET", "POST"], auth=require_admin)
def triggers_of_connection(request: ApiRequest, cid: str) -> Any:
    """``GET``: the connection's triggers (paged); ``POST {jql, active?, note?}``: a new one."""
    from chalicelib.ops import triggers

    connection = _connection(cid)
    if request.method == "GET":
        wanted = page_request(request, "triggers")
        page = triggers.triggers_page(connection.id, limit=wanted.limit, after=wanted.after)
        return paged(request, wanted, page, page.items)
    return Reply(
        triggers.create(connection, request.json_object(), deps=request.root.sync), status=201
    )


@json_route(ops_api, CONN + "/triggers/preview", ["POST"], auth=require_admin)
def preview_trigger(request: ApiRequest, cid: str) -> dict[str, Any]:
    """How many issues match ``{jql}`` now, and the first few keys."""
    from chalicelib.ops import triggers

    _connection(cid)
    return triggers.preview(request.json_object(), deps=request.root.sync)


@json_route(ops_api, CONN + "/triggers/{tid}", ["PATCH", "DELETE"], auth=require_admin)
def one_trigger(request: ApiRequest, cid: str, tid: str) -> Any:
    from chalicelib.ops import triggers

    connection = _connection(cid)
    if request.method == "PATCH":
        return triggers.update(connection, tid, request.json_object(), deps=request.root.sync)
    triggers.delete(connection, tid)
    return Reply(status=204)


@json_route(ops_api, CONN + "/triggers/{tid}/bulk-sync", ["POST"], auth=require_admin)
def bulk_sync_trigger(request: ApiRequest, cid: str, tid: str) -> Reply:
    """Bulk sync of what the trigger matches now ("bulk exalate")."""
    from chalicelib.ops import jobs, triggers

    connection = _connection(cid, active=True)
    trigger = triggers.get_trigger(connection.id, tid)
    job = jobs.start_bulk_sync(
        connection, request.json_object(), deps=request.root.sync, trigger=trigger
    )
    return Reply({"job_id": job.id}, status=202)


# --- bulk jobs ------------------------------------------------------------------------------


@json_route(ops_api, CONN + "/bulk-sync", ["POST"], auth=require_admin)
def bulk_sync(request: ApiRequest, cid: str) -> Reply:
    """``{jql, page_size?, max_per_hour?}`` → 202 ``{job_id}``."""
    from chalicelib.ops import jobs

    connection = _connection(cid, active=True)
    job = jobs.start_bulk_sync(connection, request.json_object(), deps=request.root.sync)
    return Reply({"job_id": job.id}, status=202)


@json_route(ops_api, CONN + "/bulk-connect", ["POST"], auth=require_admin, max_body=node_max_body)
def bulk_connect(request: ApiRequest, cid: str) -> Reply:
    """``{pairs: [[local, remote], ...]}`` or ``{csv: "local,remote\\n..."}`` → 202."""
    from chalicelib.ops import jobs

    connection = _connection(cid, active=True)
    job = jobs.start_bulk_connect(connection, request.json_object(), deps=request.root.sync)
    return Reply({"job_id": job.id}, status=202)


@json_route(ops_api, "/api/v1/jobs", ["GET"], auth=require_admin)
def list_jobs(request: ApiRequest) -> Reply:
    """This node's jobs (``?connection_id=``: one connection's), newest first, each as
    ``GET /api/v1/jobs/{job_id}`` shows it."""
    from chalicelib.ops import jobs

    wanted = page_request(request, "jobs")
    page = jobs.jobs_page(
        connection_id=request.query.get("connection_id") or None,
        limit=wanted.limit,
        after=wanted.after,
    )
    return paged(request, wanted, page, page.items)


@json_route(ops_api, "/api/v1/jobs/{job_id}", ["GET"], auth=require_admin)
def job_progress(request: ApiRequest, job_id: str) -> dict[str, Any]:
    """Total, done, failed, rate and an ETA."""
    from chalicelib.ops import jobs

    return jobs.show(job_id)


@json_route(ops_api, "/api/v1/jobs/{job_id}/cancel", ["POST"], auth=require_admin)
def cancel_job(request: ApiRequest, job_id: str) -> dict[str, Any]:
    from chalicelib.ops import jobs

    return jobs.cancel(job_id)


# --- connect and stop -----------------------------------------------------------------------


@json_route(ops_api, CONN + "/connect", ["POST"], auth=require_admin)
def connect_issues(request: ApiRequest, cid: str) -> Reply:
    """``{local_key, remote_key}``: link two existing issues → 201 twin."""
    from chalicelib.sync.connect import connect
    from chalicelib.sync.twins import twin_resource

    connection = _connection(cid, active=True)
    twin = connect(connection, request.json_object(), deps=request.root.sync)
    return Reply(twin_resource(twin), status=201)


@json_route(ops_api, CONN + "/twins/{key}", ["DELETE"], auth=require_admin)
def stop_syncing(request: ApiRequest, cid: str, key: str) -> Reply:
    """Stop syncing on both ends; both issues stay as they are → 204."""
    from chalicelib.sync.control import find_twin
    from chalicelib.sync.stop import stop_sync

    connection = _connection(cid)
    stop_sync(connection, find_twin(connection.id, key), deps=request.root.sync)
    return Reply(status=204)


@json_route(ops_api, CONN + "/deletion-policy", ["GET", "PUT"], auth=require_admin)
def deletion_policy(request: ApiRequest, cid: str) -> dict[str, str]:
    """What happens here when a twin is deleted over there: ignore, comment or delete."""
    from chalicelib.sync import deletion

    connection = _connection(cid)
    if request.method == "GET":
        return deletion.policy(connection.id)
    return deletion.set_policy(connection, request.json_object())


# --- watching -------------------------------------------------------------------------------


@json_route(ops_api, CONN + "/queue", ["GET"], auth=require_admin)
def sync_queue(request: ApiRequest, cid: str) -> dict[str, Any]:
    """Pending outgoing and incoming entries, oldest age, how far behind a private peer is."""
    from chalicelib.ops.queue_view import queue_view

    return queue_view(_connection(cid))


@json_route(ops_api, "/api/v1/audit", ["GET"], auth=require_admin)
def audit_log(request: ApiRequest) -> Reply:
    """Configuration changes, newest first, a page at a time; ``?format=jsonl`` exports JSON
    lines, oldest first: everything (up to 4 MB an answer, the rest behind the ``Link``),
    or one page of ``limit``."""
    from chalicelib.store import audit

    fmt = request.query.get("format", "json")
    if fmt not in ("json", "jsonl"):
        raise BadRequest("format must be json or jsonl.", code="invalid_field", field="format")
    connection_id = request.query.get("connection_id") or None
    if fmt == "json":
        wanted = page_request(request, "audit")
        page = audit.entries_page(
            connection_id=connection_id, limit=wanted.limit, after=wanted.after
        )
        return paged(request, wanted, page, page.items)
    wanted = page_request(request, "audit.jsonl")  # oldest first: its cursors are its own
    chunks: list[str] = []
    size, after = 0, wanted.after
    while True:
        page = audit.entries_page(
            connection_id=connection_id,
            limit=wanted.limit if wanted.explicit_limit else EXPORT_PAGE,
            after=after,
            newest_first=False,
        )
        chunk = audit.as_json_lines(page.items)
        chunks.append(chunk)
        size += len(chunk.encode())
        after = page.after
        if after is None or wanted.explicit_limit or size >= EXPORT_MAX_BYTES:
            break
    return paged(
        request,
        wanted,
        Page([], after),
        "".join(chunks),
        headers={
            "Content-Type": JSON_LINES,
            "Content-Disposition": 'attachment; filename="twinsync-audit.jsonl"',
        },
        limit_in_link=wanted.explicit_limit,
    )


@json_route(ops_api, "/api/v1/health", ["GET"], auth=require_admin)
def node_health(request: ApiRequest) -> dict[str, Any]:
    """Tables, queues, open errors, each connection's peer, the last reconcile."""
    from chalicelib.ops.health import health

    return health(request.root.settings)


# --- notifications --------------------------------------------------------------------------

HOOKS = "/api/v1/notifications/webhooks"


@json_route(ops_api, HOOKS, ["GET", "POST"], auth=require_admin)
def notification_webhooks(request: ApiRequest) -> Any:
    """``GET``: the webhooks (paged); ``POST {url, events?}``: a new one (Slack, Teams, any
    JSON)."""
    from chalicelib.ops import notifications

    if request.method == "GET":
        wanted = page_request(request, "notification_webhooks")
        body, page = notifications.listing_page(limit=wanted.limit, after=wanted.after)
        return paged(request, wanted, page, body)
    return Reply(
        notifications.register(request.json_object(), settings=request.root.settings), status=201
    )


@json_route(ops_api, HOOKS + "/{hook_id}", ["DELETE"], auth=require_admin)
def notification_webhook(request: ApiRequest, hook_id: str) -> Reply:
    from chalicelib.ops import notifications

    notifications.remove(hook_id)
    return Reply(status=204)


@json_route(ops_api, HOOKS + "/{hook_id}/test", ["POST"], auth=require_admin)
def test_notification_webhook(request: ApiRequest, hook_id: str) -> dict[str, Any]:
    """Send a test message now: ``{delivered, status, error}``."""
    from chalicelib.ops import notifications

    return notifications.send_test(
        hook_id, settings=request.root.settings, fetch=request.root.fetch
    )
