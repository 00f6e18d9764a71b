"""Trigger matching: an issue ingest re-read comes under sync when an active trigger finds it.

Triggers are kept and edited by :mod:`chalicelib.ops.triggers` (events table, ``pk =
"trig"``). For each connection with active triggers where the issue is not a twin yet (a
stopped one counts: that tombstone means "not again unless asked"), the tracker is asked
whether ``key = X AND (t1 OR t2 …)`` finds it: one call per connection, not per trigger,
skipped entirely when the triggers' project clauses exclude the issue, and remembered within
the function instance for that issue version. A match puts the issue under sync once: the
twin is created with a conditional write, so two concurrent changes cannot sync it twice.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from chalicelib.store.models import ConnectionModel, EventModel, TwinModel
from chalicelib.store.namespaces import TRIGGERS_PK
from chalicelib.sync.events import record_transaction
from chalicelib.sync.links import get_connection, is_live
from chalicelib.sync.messages import IngestMessage
from chalicelib.sync.services import SyncDeps
from chalicelib.sync.store import create_twin, get_twin
from chalicelib.trackers import jql
from chalicelib.trackers.base import InvalidRequest, Issue
from chalicelib.trackers.retry import retrying_later

log = logging.getLogger("twinsync.sync.triggers")

_MATCH_CACHE_SIZE = 2048
_matches: OrderedDict[tuple[str, str, str], bool] = OrderedDict()


# within :func:`triggers_shared`: the triggers as read once for the whole block
_SHARED: ContextVar[dict[str, list[dict[str, Any]]] | None] = ContextVar(
    "triggers_shared", default=None
)


@contextmanager
def triggers_shared() -> Iterator[None]:
    """Within the block, the triggers are read from the table once (issue 19: one query
    per ingest batch, not one per record). A trigger saved meanwhile is seen from the
    next block on, as it would be a moment later without the sharing."""
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def all_triggers() -> list[dict[str, Any]]:
    held = _SHARED.get()
    if held is not None and "triggers" in held:
        return held["triggers"]
    triggers = [item.data for item in EventModel.query(TRIGGERS_PK, consistent_read=True)]
    if held is not None:
        held["triggers"] = triggers
    return triggers


def _might_match(trigger: Mapping[str, Any], project: str) -> bool:
    required = jql.projects_required(str(trigger.get("where") or ""))
    return required is None or project in required


def _matches_now(issue: Issue, where: str, *, deps: SyncDeps) -> bool:
    key = (issue.key, issue.updated, where)
    if key in _matches:
        return _matches[key]
    try:
        with retrying_later(f"trigger check of {issue.key}"):
            page = deps.tracker.search(jql.for_issue(issue.key, where), limit=1)
    except InvalidRequest as exc:
        log.warning("a trigger's JQL is refused by the tracker now: %s", exc)
        return False
    found = bool(page.issues)
    _matches[key] = found
    while len(_matches) > _MATCH_CACHE_SIZE:
        _matches.popitem(last=False)
    return found


def put_under_sync_if_matching(
    issue: Issue, hint: IngestMessage, *, deps: SyncDeps
) -> list[TwinModel]:
    """Ingest's hook: new twins for the connections whose active triggers match ``issue``."""
    if hint.source == "job":
        return []  # a bulk job put it under sync already
    by_connection: dict[str, list[dict[str, Any]]] = {}
    for trigger in all_triggers():
        if trigger.get("active"):
            by_connection.setdefault(str(trigger["connection_id"]), []).append(trigger)
    created = []
    for connection_id, triggers in by_connection.items():
        candidates = [t for t in triggers if _might_match(t, issue.project)]
        if not candidates or get_twin(connection_id, issue.key) is not None:
            continue
        connection = get_connection(connection_id)
        if not is_live(connection) or connection is None or connection.status != "active":
            continue
        # Visual mode's document, read here only (a change of a synced issue never gets
        # this far: cold start, issue 19)
        from chalicelib.rules import mapping_document

        if not mapping_document.allows_automatic(connection, "outgoing"):
            continue  # Visual "manual" (or "disabled"): only an admin puts issues under sync
        where = jql.any_of([str(t.get("where") or "") for t in candidates])
        if not _matches_now(issue, where, deps=deps):
            continue
        twin = _new_twin(connection, issue, [str(t["id"]) for t in candidates], deps=deps)
        if twin is not None:
            created.append(twin)
    return created


def _new_twin(
    connection: ConnectionModel, issue: Issue, trigger_ids: list[str], *, deps: SyncDeps
) -> TwinModel | None:
    twin = TwinModel(
        connection_id=connection.id,
        local_key=issue.key,
        local_id=issue.id,
        local_url=issue.url,
        status="queued",
    )
    if not create_twin(twin):
        return None  # another change of the same issue got there first
    record_transaction(
        connection.id,
        issue.key,
        direction="outgoing",
        changes=[f"trigger:{t}" for t in trigger_ids],
        outcome="put under sync by a trigger",
    )
    # the outgoing path, imported when a trigger puts an issue under sync: the reconcile
    # sweep only asks whether there are triggers (cold start: issue 19)
    from chalicelib.sync.outgoing import send_replica

    send_replica(issue, twin, deps=deps)
    log.info("%s put under sync in %s by a trigger", issue.key, connection.id)
    return twin
