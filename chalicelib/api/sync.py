"""Admin routes of the sync pipeline: sync an issue, watch its twin, handle errors."""

from __future__ import annotations

from typing import Any

from chalicelib.api.auth import require_admin
from chalicelib.api.paging import page_request, paged
from chalicelib.api.routing import ApiRequest, Reply, json_route
from chalicelib.errors import BadRequest
from chalicelib.lazy_routes import blueprint
from chalicelib.sync import control
from chalicelib.sync.events import ERROR_STATUSES, errors_page, history_page
from chalicelib.sync.store import twins_page
from chalicelib.sync.twins import twin_resource

sync_api = blueprint(__name__)

CONN = "/api/v1/connections/{cid}"
TWIN_FILTERS: dict[str, frozenset[str] | None] = {
    "all": None,
    "live": frozenset({"queued", "synced", "error"}),
    "stopped": frozenset({"stopped"}),
}


@json_route(sync_api, CONN + "/sync", ["POST"], auth=require_admin)
def sync_issue(request: ApiRequest, cid: str) -> Reply:
    twin = control.sync_issue(cid, request.json_object().get("issue_key"), deps=request.root.sync)
    return Reply(twin_resource(twin), status=202)


@json_route(sync_api, CONN + "/twins", ["GET"], auth=require_admin)
def list_twins(request: ApiRequest, cid: str) -> Reply:
    """The connection's twins, newest first, a page at a time; ``?status=live`` (queued,
    synced or in error), ``stopped`` or ``all`` (the default)."""
    status = request.query.get("status", "all")
    if status not in TWIN_FILTERS:
        raise BadRequest(
            "status must be live, stopped or all.", code="invalid_field", field="status"
        )
    connection = control.live_connection(cid)
    wanted = page_request(request, "twins")
    page = twins_page(
        connection.id, limit=wanted.limit, after=wanted.after, statuses=TWIN_FILTERS[status]
    )
    return paged(request, wanted, page, [twin_resource(t) for t in page.items])


@json_route(sync_api, CONN + "/twins/{key}", ["GET"], auth=require_admin)
def get_twin(request: ApiRequest, cid: str, key: str) -> dict[str, Any]:
    return twin_resource(control.find_twin(cid, key))


@json_route(sync_api, CONN + "/twins/{key}/history", ["GET"], auth=require_admin)
def twin_history(request: ApiRequest, cid: str, key: str) -> Reply:
    """What happened to the twin, newest first, a page at a time."""
    twin = control.find_twin(cid, key)
    wanted = page_request(request, "history")
    page = history_page(cid, twin.local_key, limit=wanted.limit, after=wanted.after)
    return paged(request, wanted, page, page.items)


@json_route(sync_api, "/api/v1/errors", ["GET"], auth=require_admin)
def errors(request: ApiRequest) -> Reply:
    """Error records, newest first: ``?connection_id=``, ``?status=open`` (the default),
    ``retried``, ``resolved`` or ``all``."""
    status = request.query.get("status", "open")
    if status not in (*ERROR_STATUSES, "all"):
        raise BadRequest(
            f"status must be one of {', '.join(ERROR_STATUSES)} or all.",
            code="invalid_field",
            field="status",
        )
    wanted = page_request(request, "errors")
    page = errors_page(
        connection_id=request.query.get("connection_id") or None,
        status=None if status == "all" else status,
        limit=wanted.limit,
        after=wanted.after,
    )
    return paged(request, wanted, page, page.items)


@json_route(sync_api, "/api/v1/errors/{eid}/retry", ["POST"], auth=require_admin)
def retry(request: ApiRequest, eid: str) -> dict[str, Any]:
    return control.retry_error(eid, deps=request.root.sync)


@json_route(sync_api, "/api/v1/errors/{eid}/resolve", ["POST"], auth=require_admin)
def resolve(request: ApiRequest, eid: str) -> dict[str, Any]:
    return control.resolve_error(eid)
