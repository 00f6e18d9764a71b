"""Routes of the sync rules: the test run, the versions kept, and mappings from the other end.

POST /api/v1/connections/{cid}/test-run        {issue_key, replica?} → {replica, changes, …}
GET  /api/v1/connections/{cid}/rules/history   → {scripts: [...], mappings: [...]} (paged:
                                               ``limit`` bounds each list)
PUT  /node/v1/connections/{cid}/mappings       the other end's admin changed the Visual
                                               mappings (JWT of the connection)
"""

from __future__ import annotations

from typing import Any

from chalicelib.api.auth import require_admin
from chalicelib.api.paging import page_request, paged
from chalicelib.api.peer_auth import require_peer_any_state
from chalicelib.api.routing import ApiRequest, Reply, json_route, node_max_body
from chalicelib.connections import store
from chalicelib.errors import BadGateway
from chalicelib.lazy_routes import blueprint
from chalicelib.ops import rule_edits
from chalicelib.rules import testrun
from chalicelib.rules.script.runner import RunnerUnavailable
from chalicelib.store.models import ConnectionModel
from chalicelib.store.pages import Page

rules_api = blueprint(__name__)

CONN = "/api/v1/connections/{cid}"


@json_route(rules_api, CONN + "/test-run", ["POST"], auth=require_admin, max_body=node_max_body)
def test_run(request: ApiRequest, cid: str) -> dict[str, Any]:
    """Run the connection's rules for one issue (and a replica) and report; writes nothing."""
    from chalicelib.sync.store import get_twin

    conn = store.get_connection(cid)
    try:
        return testrun.test_run(
            conn, request.json_object(), tracker=request.root.tracker, twin_of=get_twin
        )
    except RunnerUnavailable as exc:
        raise BadGateway(str(exc), code="script_runner_unavailable") from exc


@json_route(rules_api, CONN + "/rules/history", ["GET"], auth=require_admin)
def rules_history(request: ApiRequest, cid: str) -> Reply:
    """The kept versions of the scripts and mappings: who changed them, when, from where."""
    wanted = page_request(request, "rules_history")
    body, after = rule_edits.history(
        store.get_connection(cid), limit=wanted.limit, after=wanted.after
    )
    return paged(request, wanted, Page([], after), body)


@json_route(
    rules_api,
    "/node/v1/connections/{cid}/mappings",
    ["PUT"],
    auth=require_peer_any_state,
    max_body=node_max_body,
)
def receive_mappings(request: ApiRequest, cid: str) -> dict[str, Any]:
    """The other end's admin configured both sides: keep our view, record who did it."""
    connection: ConnectionModel = request.principal
    return rule_edits.receive_mappings(connection, request.json_object())
