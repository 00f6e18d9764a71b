"""Admin routes of the sync pipeline: sync an issue, watch its twin, handle errors."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.auth import require_admin
from chalicelib.api.routing import ApiRequest, Reply, json_route
from chalicelib.sync import control
from chalicelib.sync.events import history, list_errors
from chalicelib.sync.twins import twin_resource

sync_api = Blueprint(__name__)

CONN = "/api/v1/connections/{cid}"


@json_route(sync_api, CONN + "/sync", ["POST"], auth=require_admin)
def sync_issue(request: ApiRequest, cid: str) -> Reply:
    twin = control.sync_issue(cid, request.json_object().get("issue_key"), deps=request.root.sync)
    return Reply(twin_resource(twin), status=202)


@json_route(sync_api, CONN + "/twins/{key}", ["GET"], auth=require_admin)
def get_twin(request: ApiRequest, cid: str, key: str) -> dict[str, Any]:
    return twin_resource(control.find_twin(cid, key))


@json_route(sync_api, CONN + "/twins/{key}/history", ["GET"], auth=require_admin)
def twin_history(request: ApiRequest, cid: str, key: str) -> list[dict[str, Any]]:
    twin = control.find_twin(cid, key)
    return history(cid, twin.local_key)


@json_route(sync_api, "/api/v1/errors", ["GET"], auth=require_admin)
def errors(request: ApiRequest) -> list[dict[str, Any]]:
    return list_errors(request.query.get("connection_id"))


@json_route(sync_api, "/api/v1/errors/{eid}/retry", ["POST"], auth=require_admin)
def retry(request: ApiRequest, eid: str) -> dict[str, Any]:
    return control.retry_error(eid, deps=request.root.sync)


@json_route(sync_api, "/api/v1/errors/{eid}/resolve", ["POST"], auth=require_admin)
def resolve(request: ApiRequest, eid: str) -> dict[str, Any]:
    return control.resolve_error(eid)
