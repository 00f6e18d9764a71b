"""Triggers: per connection, JQL queries whose matching issues come under sync by themselves.

A trigger is ``{id, jql, active, note}``, kept in the events table under ``pk = "trig"``
(sort key ``<connection id>#<trigger id>``), so one query reads every trigger of the node.
Its JQL is checked by the tracker when saved; a query it refuses is a 400 with the
tracker's own message.

Matching happens in ingest, after an issue was re-read: :mod:`chalicelib.sync.trigger_match`.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Mapping
from typing import Any

from chalicelib.errors import BadGateway, BadRequest, NotFound
from chalicelib.store import audit
from chalicelib.store.models import ConnectionModel, EventModel, utcnow
from chalicelib.store.namespaces import TRIGGERS_PK, trigger_sk, triggers_of_prefix
from chalicelib.store.pages import KeyShape, Page, query_page
from chalicelib.sync.services import SyncDeps
from chalicelib.trackers import jql
from chalicelib.trackers.base import (
    InvalidRequest,
    TrackerError,
)

log = logging.getLogger("twinsync.ops.triggers")

JQL_MAX = 2000
NOTE_MAX = 500
PREVIEW_SAMPLE = 10
PREVIEW_PAGES = 10
PREVIEW_PAGE = 100


# --- storage and the admin API ----------------------------------------------------------------


def _now() -> str:
    return utcnow().isoformat(timespec="milliseconds").replace("+00:00", "Z")


def resource(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: data.get(k)
        for k in ("id", "connection_id", "jql", "active", "note", "created_at", "updated_at")
    }


def triggers_page(
    connection_id: str, *, limit: int, after: dict[str, str] | None = None
) -> Page[dict[str, Any]]:
    """One page of the connection's triggers, in trigger-id order."""
    prefix = triggers_of_prefix(connection_id)
    shape = KeyShape(fixed={"pk": TRIGGERS_PK}, patterns={"sk": re.escape(prefix) + r"[!-~]{1,64}"})
    start = shape.check(after) if after is not None else None
    found = query_page(
        EventModel,
        TRIGGERS_PK,
        range_key_condition=EventModel.sk.startswith(prefix),
        limit=limit,
        after=start,
    )
    return Page([resource(item.data) for item in found.items], found.after)


def _get(connection_id: str, trigger_id: str) -> EventModel:
    try:
        return EventModel.get(
            TRIGGERS_PK, trigger_sk(connection_id, trigger_id), consistent_read=True
        )
    except EventModel.DoesNotExist as exc:
        raise NotFound(
            f"No trigger {trigger_id} in this connection.", code="trigger_not_found"
        ) from exc


def get_trigger(connection_id: str, trigger_id: str) -> dict[str, Any]:
    return resource(_get(connection_id, trigger_id).data)


def _fields(body: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    unknown = sorted(set(body) - {"jql", "active", "note"})
    if unknown:
        raise BadRequest(f"Unknown field {unknown[0]!r}.", code="unknown_field", field=unknown[0])
    changes: dict[str, Any] = {}
    if "jql" in body or not partial:
        value = body.get("jql")
        if not isinstance(value, str) or not value.strip() or len(value) > JQL_MAX:
            raise BadRequest(
                f"jql must be a JQL query of at most {JQL_MAX} characters.", field="jql"
            )
        changes["jql"] = value.strip()
    if "active" in body:
        if not isinstance(body["active"], bool):
            raise BadRequest("active must be true or false.", field="active")
        changes["active"] = body["active"]
    if "note" in body:
        note = body["note"]
        if note is not None and (not isinstance(note, str) or len(note) > NOTE_MAX):
            raise BadRequest(f"note must be text of at most {NOTE_MAX} characters.", field="note")
        changes["note"] = (note or "").strip() or None
    return changes


def check_jql(text: str, *, deps: SyncDeps, field: str = "jql") -> None:
    """The tracker is the judge: a query it refuses is a 400 with its message."""
    try:
        deps.tracker.check_jql(text)
    except InvalidRequest as exc:
        details = "; ".join(exc.error_messages) or exc.message
        raise BadRequest(
            f"The tracker refuses this JQL: {details}", code="invalid_jql", field=field
        ) from exc
    except TrackerError as exc:
        raise BadGateway(
            f"The tracker could not check the JQL now ({exc.message}); try again.",
            code="tracker_unavailable",
        ) from exc


def create(
    connection: ConnectionModel, body: Mapping[str, Any], *, deps: SyncDeps
) -> dict[str, Any]:
    changes = _fields(body, partial=False)
    check_jql(changes["jql"], deps=deps)
    now = _now()
    data = {
        "id": f"trg-{secrets.token_hex(6)}",
        "connection_id": connection.id,
        "jql": changes["jql"],
        "where": jql.condition(changes["jql"]),
        "active": changes.get("active", True),
        "note": changes.get("note"),
        "created_at": now,
        "updated_at": now,
    }
    EventModel(pk=TRIGGERS_PK, sk=trigger_sk(connection.id, data["id"]), data=data).save()
    audit.record(
        "trigger.created",
        connection_id=connection.id,
        details={"trigger_id": data["id"], "jql": data["jql"], "active": data["active"]},
    )
    return resource(data)


def update(
    connection: ConnectionModel, trigger_id: str, body: Mapping[str, Any], *, deps: SyncDeps
) -> dict[str, Any]:
    item = _get(connection.id, trigger_id)
    changes = _fields(body, partial=True)
    if "jql" in changes:
        check_jql(changes["jql"], deps=deps)
        changes["where"] = jql.condition(changes["jql"])
    data = {**item.data, **changes, "updated_at": _now()}
    item.update(actions=[EventModel.data.set(data)])
    audit.record(
        "trigger.updated",
        connection_id=connection.id,
        details={"trigger_id": trigger_id, **{k: v for k, v in changes.items() if k != "where"}},
    )
    return resource(data)


def delete(connection: ConnectionModel, trigger_id: str) -> None:
    item = _get(connection.id, trigger_id)
    item.delete()
    audit.record(
        "trigger.deleted",
        connection_id=connection.id,
        details={"trigger_id": trigger_id, "jql": item.data.get("jql")},
    )


def preview(body: Mapping[str, Any], *, deps: SyncDeps) -> dict[str, Any]:
    """How many issues match now, and the first few keys (paging is capped: ``exact``)."""
    text = _fields({"jql": body.get("jql")}, partial=False)["jql"]
    check_jql(text, deps=deps)
    count, sample, cursor = 0, [], None
    try:
        for _ in range(PREVIEW_PAGES):
            page = deps.tracker.search(text, cursor=cursor, limit=PREVIEW_PAGE)
            if page.total is not None:
                count = page.total
                sample += [r.key for r in page.issues]
                cursor = None
                break
            count += len(page.issues)
            sample += [r.key for r in page.issues]
            cursor = page.next_cursor
            if not cursor or not page.issues:
                break
    except TrackerError as exc:
        raise BadGateway(
            f"The tracker could not run the query now ({exc.message}); try again.",
            code="tracker_unavailable",
        ) from exc
    return {"count": count, "exact": cursor is None, "sample_keys": sample[:PREVIEW_SAMPLE]}
