"""Routes of the drift scan: the admin's (start a scan, repair what it found) and the
other end's (describe its half of some twins, repair its half).

Views parse and answer; the work lives in :mod:`chalicelib.ops.jobs` (the job kinds) and
:mod:`chalicelib.ops.drift_ends` (one end's part). Progress and the result are the job's:
``GET /api/v1/jobs/{job_id}``.
"""

from __future__ import annotations

from typing import Any

from chalicelib.api.auth import require_admin
from chalicelib.api.peer_auth import require_peer
from chalicelib.api.routing import ApiRequest, Reply, json_route
from chalicelib.errors import BadRequest, Conflict
from chalicelib.lazy_routes import blueprint
from chalicelib.ops.drift import InvalidView, parse_batch
from chalicelib.store.models import ConnectionModel

drift_api = blueprint(__name__)

CONN = "/api/v1/connections/{cid}"
NODE = "/node/v1/connections/{cid}"


def _active(cid: str) -> ConnectionModel:
    from chalicelib.sync.control import live_connection

    connection = live_connection(cid)
    if connection.status != "active":
        raise Conflict(
            f"The connection is {connection.status}; a drift scan needs both ends active.",
            code="connection_not_active",
        )
    return connection


@json_route(drift_api, CONN + "/drift-scan", ["POST"], auth=require_admin)
def start_scan(request: ApiRequest, cid: str) -> Reply:
    """``{}`` → 202 ``{job_id}``: compare every twin through both ends."""
    from chalicelib.ops import jobs

    connection = _active(cid)
    job = jobs.start_drift_scan(connection, request.json_object(), deps=request.root.sync)
    return Reply({"job_id": job.id}, status=202)


@json_route(drift_api, CONN + "/drift-scan/{job_id}/repair", ["POST"], auth=require_admin)
def start_repair(request: ApiRequest, cid: str, job_id: str) -> Reply:
    """``{}`` → 202 ``{job_id}``: re-sync the twins the scan found drifted."""
    from chalicelib.ops import jobs

    connection = _active(cid)
    job = jobs.start_drift_repair(connection, job_id, request.json_object(), deps=request.root.sync)
    return Reply({"job_id": job.id}, status=202)


@json_route(drift_api, NODE + "/drift", ["POST"], auth=require_peer)
def describe_twins(request: ApiRequest, cid: str) -> dict[str, Any]:
    """The other end's views of some twins → ours of the same twins, in the same order."""
    from chalicelib.ops.drift_ends import answer_views

    connection: ConnectionModel = request.principal
    try:
        items = parse_batch(request.json_object().get("items"))
    except InvalidView as exc:
        raise BadRequest(str(exc), code="invalid_drift_view", field="items") from exc
    views = answer_views(connection, items, deps=request.root.sync)
    return {"items": [view.to_json() for view in views]}


@json_route(drift_api, NODE + "/drift/repair", ["POST"], auth=require_peer)
def repair_twins(request: ApiRequest, cid: str) -> dict[str, Any]:
    """Forget lost mirrors, take fresh registers for the named fields, resend."""
    from chalicelib.ops.drift_ends import answer_repairs, parse_repairs

    connection: ConnectionModel = request.principal
    try:
        items = parse_repairs(request.json_object().get("items"))
    except InvalidView as exc:
        raise BadRequest(str(exc), code="invalid_drift_repair", field="items") from exc
    return {"items": answer_repairs(connection, items, deps=request.root.sync)}
