"""Tracker webhooks: answer 202 after queueing, nothing else (the work is in the queue)."""

from __future__ import annotations

from chalicelib.api.routing import ApiRequest, Reply, json_route, node_max_body
from chalicelib.lazy_routes import blueprint
from chalicelib.sync.intake import take_webhook

webhooks_api = blueprint(__name__)


@json_route(webhooks_api, "/webhooks/jira", ["POST"], auth=None, max_body=node_max_body, raw=True)
def jira_webhook(request: ApiRequest) -> Reply:
    """Jira Cloud signs (X-Hub-Signature); Jira Server sends ``?secret=``."""
    result = take_webhook(request.headers, request.query, request.raw_body, deps=request.root.sync)
    return Reply(result, status=202)
