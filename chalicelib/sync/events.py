"""What happened: error records an admin can retry or resolve, and each twin's history.

An error record is made when a change could not be synced within its retry budget: it
keeps the queue message, so ``retry`` puts the very same work back, and ``resolve`` drops
it on purpose. Nothing fails silently.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import DoesNotExist

from chalicelib.observability import logs
from chalicelib.queues import PermanentFailure, QueueMessage
from chalicelib.store.models import EventModel, new_id, utcnow
from chalicelib.store.namespaces import ERRORS_PK, history_pk
from chalicelib.store.pages import ID, KeyShape, Page, query_page
from chalicelib.trackers.errors import InvalidRequest, TrackerError

if TYPE_CHECKING:
    from chalicelib.net.outbound import Fetcher

log = logging.getLogger("twinsync.sync.events")

HISTORY_TTL = timedelta(days=90)


def _now() -> str:
    return utcnow().isoformat()


def describe_failure(exc: BaseException) -> tuple[str, str | None]:
    """(what failed, the tracker's own message if it was the tracker)."""
    from chalicelib.queues import RetryLater

    if isinstance(exc, RetryLater) and exc.__cause__ is not None:
        exc = exc.__cause__  # the retry wrapper: report what actually failed
    elif isinstance(exc, PermanentFailure) and isinstance(exc.__cause__, TrackerError):
        exc = exc.__cause__  # a refusal: keep the tracker's own words (field errors too)
    if isinstance(exc, InvalidRequest):
        details = "; ".join(
            [*exc.error_messages, *(f"{k}: {v}" for k, v in exc.field_errors.items())]
        )
        return f"The tracker refused the change: {exc.message}", details or exc.message
    if isinstance(exc, TrackerError):
        return f"The tracker failed: {exc.message}", exc.message
    if isinstance(exc, PermanentFailure):  # already says what and where (e.g. a script line)
        return str(exc), None
    return f"{type(exc).__name__}: {exc}", None


def record_error(
    *,
    stage: str,
    connection_id: str | None,
    issue_key: str | None,
    exc: BaseException,
    attempts: int = 1,
    queue: str | None = None,
    body: Any = None,
) -> dict[str, Any]:
    what, tracker_message = describe_failure(exc)
    eid = new_id()
    now = _now()
    data = {
        "id": eid,
        "connection_id": connection_id,
        "issue_key": issue_key,
        "stage": stage,
        "message": what,
        "tracker_message": tracker_message,
        "attempts": attempts,
        "first_at": now,
        "last_at": now,
        "status": "open",
        "queue": queue,
        "body": body,
    }
    EventModel(pk=ERRORS_PK, sk=eid, data=data).save()
    log.warning(
        "error record %s: %s",
        eid,
        logs.redact(what),
        extra={
            "event": "error.recorded",
            "error_id": eid,
            "stage": stage,
            "connection_id": connection_id,
            "issue_key": issue_key,
            "attempts": attempts,
        },
    )
    return data


def record_give_up(
    stage: str,
    message: QueueMessage,
    exc: BaseException,
    *,
    node_id: str = "",
    fetch: Fetcher | None = None,
) -> None:
    """The queue layer's last word on a message: an error record, the twin marked, and the
    admin's notification webhooks told (``fetch``: the node's guarded fetcher)."""
    body = dict(message.body)
    connection_id = body.get("connection_id") or getattr(exc, "connection_id", None)
    issue_key = getattr(exc, "issue_key", None) or body.get("issue_key") or body.get("remote_key")
    local_key = body.get("local_key") or getattr(exc, "local_key", None)
    record = record_error(
        stage=stage,
        connection_id=connection_id,
        issue_key=issue_key,
        exc=exc,
        attempts=message.receive_count,
        queue=stage,
        body=body,
    )
    # the admin's webhooks, told on a give-up only (cold start: issue 19)
    from chalicelib.sync.notify import ISSUE_ERROR, notify

    notify(
        ISSUE_ERROR,
        subject=str(connection_id or "node"),
        text=f"issue {issue_key or '(unknown)'} is in error: {record['message']} "
        "(GET /api/v1/errors lists every open error).",
        node_id=node_id,
        details={
            "connection_id": connection_id,
            "issue_key": issue_key,
            "error_id": record["id"],
            "message": record["message"],
        },
        fetch=fetch,
    )
    from chalicelib.sync.twins import mark_error

    if connection_id and not local_key and body.get("remote_key"):
        from chalicelib.sync.store import twin_by_remote

        twin = twin_by_remote(connection_id, str(body["remote_key"]))
        local_key = twin.local_key if twin is not None else None
    if connection_id and local_key:
        mark_error(connection_id, local_key, describe_failure(exc)[0])


def list_errors(connection_id: str | None = None, *, include_closed: bool = False) -> list[dict]:
    items = [e.data for e in EventModel.query(ERRORS_PK, scan_index_forward=False, limit=500)]
    if connection_id:
        items = [e for e in items if e.get("connection_id") == connection_id]
    if not include_closed:
        items = [e for e in items if e.get("status") == "open"]
    return [{k: v for k, v in e.items() if k != "body"} for e in items]


ERROR_STATUSES = ("open", "retried", "resolved")
ERROR_POSITIONS = KeyShape(fixed={"pk": ERRORS_PK}, patterns={"sk": ID})


def _without_body(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "body"}


def errors_page(
    *,
    connection_id: str | None = None,
    status: str | None = "open",
    limit: int,
    after: dict[str, str] | None = None,
) -> Page[dict[str, Any]]:
    """One page of error records, newest first; ``status=None``: every status."""
    start = ERROR_POSITIONS.check(after) if after is not None else None

    def wanted(item: EventModel) -> bool:
        data = item.data
        return (not connection_id or data.get("connection_id") == connection_id) and (
            status is None or data.get("status") == status
        )

    found = query_page(EventModel, ERRORS_PK, forward=False, limit=limit, after=start, keep=wanted)
    return Page([_without_body(e.data) for e in found.items], found.after)


def get_error(eid: str) -> EventModel | None:
    try:
        return EventModel.get(ERRORS_PK, eid)
    except DoesNotExist:
        return None


def close_error(item: EventModel, status: str) -> dict[str, Any]:
    data = dict(item.data)
    data["status"] = status
    data["last_at"] = _now()
    item.update(actions=[EventModel.data.set(data)])
    return {k: v for k, v in data.items() if k != "body"}


# --- history --------------------------------------------------------------------------


def record_transaction(
    connection_id: str,
    local_key: str,
    *,
    direction: str,
    changes: list[str],
    outcome: str,
    version: int | None = None,
    error: str | None = None,
    conflicts: list[dict[str, Any]] | None = None,
) -> None:
    extra = {"conflicts": conflicts} if conflicts else {}
    log.info(
        "%s %s %s: %s",
        direction,
        connection_id,
        local_key,
        outcome,
        extra={
            "event": "twin.transaction",
            "direction": direction,
            "connection_id": connection_id,
            "issue_key": local_key,
            "outcome": outcome,
            "changes": len(changes),
            "version": version,
        },
    )
    EventModel(
        pk=history_pk(connection_id, local_key),
        sk=new_id(),
        data={
            "direction": direction,
            "time": _now(),
            "changes": changes,
            "outcome": outcome,
            "version": version,
            "error": error,
            **extra,
        },
        purge_at=utcnow() + HISTORY_TTL,
    ).save()


def history(connection_id: str, local_key: str, *, limit: int = 200) -> list[dict[str, Any]]:
    return [
        e.data
        for e in EventModel.query(
            history_pk(connection_id, local_key), scan_index_forward=False, limit=limit
        )
    ]


def history_page(
    connection_id: str, local_key: str, *, limit: int, after: dict[str, str] | None = None
) -> Page[dict[str, Any]]:
    """One page of a twin's history, newest first."""
    pk = history_pk(connection_id, local_key)
    start = (
        KeyShape(fixed={"pk": pk}, patterns={"sk": ID}).check(after) if after is not None else None
    )
    found = query_page(EventModel, pk, forward=False, limit=limit, after=start)
    return Page([e.data for e in found.items], found.after)


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
