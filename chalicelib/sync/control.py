"""What the admin API asks of the sync pipeline: put an issue under sync, show a twin,
retry or resolve an error."""

from __future__ import annotations

import time
from typing import Any

from chalicelib.errors import BadRequest, Conflict, NotFound
from chalicelib.store.models import ConnectionModel, TwinModel
from chalicelib.store.namespaces import (
    apply_group,
    deliver_group,
    ingest_group,
    retry_dedup,
    sync_dedup,
)
from chalicelib.sync.events import close_error, get_error
from chalicelib.sync.links import get_connection
from chalicelib.sync.messages import IngestMessage, enqueue_ingest
from chalicelib.sync.services import SyncDeps
from chalicelib.sync.stop import reopen
from chalicelib.sync.store import create_twin, get_twin, twin_by_remote
from chalicelib.trackers.base import Issue, PermissionDenied
from chalicelib.trackers.base import NotFound as IssueNotFound


def live_connection(connection_id: str) -> ConnectionModel:
    connection = get_connection(connection_id)
    if connection is None or connection.status == "deleted":
        raise NotFound(f"No connection {connection_id} on this node.", code="connection_not_found")
    return connection


def sync_issue(connection_id: str, issue_key: Any, *, deps: SyncDeps) -> TwinModel:
    """ "Sync your first issue": put it under sync (idempotent) and queue it."""
    if not isinstance(issue_key, str) or not issue_key.strip():
        raise BadRequest("Give the key of the issue to sync, e.g. ABC-12.", field="issue_key")
    connection = live_connection(connection_id)
    if connection.status != "active":
        raise Conflict(
            f"The connection is {connection.status}; activate it (or wait for the partner to "
            "accept the invitation) before syncing issues.",
            code="connection_not_active",
        )
    try:
        issue = deps.tracker.get_issue(issue_key.strip())
    except IssueNotFound as exc:
        raise NotFound(
            f"Issue {issue_key} was not found in the tracker.",
            code="issue_not_found",
            field="issue_key",
        ) from exc
    except PermissionDenied as exc:
        raise Conflict(
            f"The integration user cannot read {issue_key}: {exc.message}",
            code="issue_not_readable",
            field="issue_key",
        ) from exc
    return put_under_sync(connection, issue, deps=deps)


def put_under_sync(connection: ConnectionModel, issue: Issue, *, deps: SyncDeps) -> TwinModel:
    """Put a readable ``issue`` under sync in ``connection`` (idempotent) and queue it: the
    admin's "sync this issue", and a parent brought first (:mod:`chalicelib.sync.hierarchy`)."""
    twin = get_twin(connection.id, issue.key)
    if twin is not None and twin.status == "stopped":
        twin = reopen(twin)  # syncing a stopped issue again is explicit
    if twin is None:
        twin = TwinModel(
            connection_id=connection.id,
            local_key=issue.key,
            local_id=issue.id,
            local_url=issue.url,
            status="queued",
        )
        if not create_twin(twin):  # a trigger or a job put it under sync meanwhile
            twin = get_twin(connection.id, issue.key) or twin
    message = IngestMessage(issue.key, source="sync", connection_id=connection.id)
    enqueue_ingest(message, deps=deps, dedup=sync_dedup(connection.id, issue.key, time.time()))
    return twin


def find_twin(connection_id: str, issue_key: str) -> TwinModel:
    live_connection(connection_id)
    twin = get_twin(connection_id, issue_key) or twin_by_remote(connection_id, issue_key)
    if twin is None:
        raise NotFound(f"{issue_key} is not synced in this connection.", code="twin_not_found")
    return twin


QUEUES = {"ingest": "ingest_queue_url", "deliver": "deliver_queue_url", "apply": "apply_queue_url"}


def retry_error(eid: str, *, deps: SyncDeps) -> dict[str, Any]:
    item = get_error(eid)
    if item is None:
        raise NotFound(f"No error record {eid}.", code="error_not_found")
    data = item.data
    if data.get("status") != "open":
        raise Conflict(f"Error {eid} is already {data.get('status')}.", code="error_closed")
    queue = data.get("queue")
    body = data.get("body")
    if queue not in QUEUES or not isinstance(body, dict):
        raise Conflict(
            "This error cannot be retried automatically; resolve it.", code="error_not_retryable"
        )
    group = _group(queue, body)
    url = getattr(deps.settings.resources, QUEUES[queue])
    deps.enqueue(url, body, group=group, dedup=retry_dedup(eid, time.time()))
    if body.get("connection_id") and body.get("local_key"):
        twin = get_twin(body["connection_id"], body["local_key"])
        if twin is not None:
            twin.update(actions=[TwinModel.status.set("queued"), TwinModel.error.remove()])
    return close_error(item, "retried")


def resolve_error(eid: str) -> dict[str, Any]:
    item = get_error(eid)
    if item is None:
        raise NotFound(f"No error record {eid}.", code="error_not_found")
    return close_error(item, "resolved")


def _group(queue: str, body: dict[str, Any]) -> str:
    if queue == "ingest":
        return ingest_group(str(body.get("issue_key") or body.get("issue_id")))
    if queue == "deliver":
        return deliver_group(str(body.get("connection_id")), str(body.get("local_key")))
    return apply_group(str(body.get("connection_id")), str(body.get("remote_key")))
