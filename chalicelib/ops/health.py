"""``GET /api/v1/health``: can an operator trust this node right now, and if not, why.

One report, each part read independently so one broken part never hides the others:

- ``tables``: each table answers ``DescribeTable`` (and its status);
- ``queues``: each work queue answers, its depth, and its dead-letter queue's depth;
- ``open_errors``: error records nobody retried or resolved yet;
- ``connections``: each connection's status and its peer: reachable or not, since when,
  how far behind (a private peer's last pull; a public peer's last answer);
- ``oldest_pending_age_s``: the oldest change not yet delivered or applied, any connection;
- ``reconcile``: when the sweep last ran, last read to the end, and a failing streak.

``status`` is ``ok`` when nothing above needs an operator, else ``degraded`` with the
reasons in ``problems``. The answer is 200 either way: the report is the answer.
"""

from __future__ import annotations

from typing import Any

from chalicelib.config import Settings
from chalicelib.ops.queue_view import incoming
from chalicelib.queues import queue_state
from chalicelib.store.models import ALL_MODELS, ConnectionModel, utcnow
from chalicelib.sync.events import list_errors
from chalicelib.sync.outbox_api import lag
from chalicelib.sync.peer_contact import contact
from chalicelib.sync.reconcile import run_status

# A private peer long-polls every minute (each pull waits up to poll_wait_seconds): one
# that has not pulled for this long is not running, or cannot reach us.
PRIVATE_PEER_SILENT_S = 180
QUEUES = {
    "ingest": "ingest_queue_url",
    "deliver": "deliver_queue_url",
    "apply": "apply_queue_url",
    "jobs": "jobs_queue_url",
    # the catch-up lane (bulk jobs, the reconcile sweep; chalicelib.sync.lanes)
    "ingest_catchup": "ingest_catchup_queue_url",
    "deliver_catchup": "deliver_catchup_queue_url",
    "apply_catchup": "apply_catchup_queue_url",
}


def _seconds_since(moment: Any) -> float | None:
    return None if moment is None else round((utcnow() - moment).total_seconds(), 1)


def tables() -> dict[str, dict[str, Any]]:
    report: dict[str, dict[str, Any]] = {}
    for attr, model in ALL_MODELS.items():
        name = attr.removesuffix("_table")
        try:
            described = model.describe_table()
        except Exception as exc:
            report[name] = {"reachable": False, "error": type(exc).__name__}
            continue
        report[name] = {"reachable": True, "status": described.get("TableStatus")}
    return report


def queues(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        name: queue_state(getattr(settings.resources, attr), settings.region)
        for name, attr in QUEUES.items()
    }


def peer(connection: ConnectionModel, outgoing: dict[str, Any]) -> dict[str, Any]:
    """Is the other end there? Measured by what this end can see of it."""
    info: dict[str, Any] = {
        "node_id": connection.remote_node_id,
        "public": bool(connection.remote_public),
        "reachable": None,
        "last_contact_at": None,
        "lag_s": None,
        "error": None,
    }
    if connection.local_peer_id:  # both ends on this node
        return {**info, "reachable": True, "lag_s": 0.0}
    if not connection.remote_public:
        # a private peer calls us: its last pull is the only sign of life
        last = connection.peer_last_pull_at
        silent = _seconds_since(last)
        return {
            **info,
            "reachable": None if silent is None else silent <= PRIVATE_PEER_SILENT_S,
            "last_contact_at": last.isoformat() if last else None,
            "lag_s": silent,
            "behind": outgoing["pending"],
        }
    seen = contact(connection.id)
    return {
        **info,
        "reachable": seen.reachable,
        "last_contact_at": seen.reached_at.isoformat() if seen.reached_at else None,
        "lag_s": _seconds_since(seen.reached_at),
        "failed_at": seen.failed_at.isoformat() if seen.failed_at else None,
        "error": seen.error if seen.reachable is False else None,
    }


def connection_health(connection: ConnectionModel, open_errors: list[dict]) -> dict[str, Any]:
    out = lag(connection)
    inbox = incoming(connection)
    return {
        "id": connection.id,
        "name": connection.name,
        "status": connection.status,
        "status_reason": connection.status_reason,
        "peer": peer(connection, out),
        "outgoing": {"pending": out["pending"], "oldest_age_s": out["oldest_pending_age_s"]},
        "incoming": {
            "pending": inbox["pending"],
            "held": inbox["held"],
            "waiting": inbox["waiting"],  # issue 18: for their parent
            "oldest_age_s": inbox["oldest_age_s"],
        },
        "open_errors": sum(1 for e in open_errors if e.get("connection_id") == connection.id),
    }


def _problems(report: dict[str, Any]) -> list[str]:
    problems = [f"table {n} unreachable" for n, t in report["tables"].items() if not t["reachable"]]
    for name, queue in report["queues"].items():
        if not queue["reachable"]:
            problems.append(f"queue {name} unreachable")
        elif queue.get("dead_letter"):
            problems.append(f"{queue['dead_letter']} message(s) in the {name} dead-letter queue")
    if report["open_errors"]:
        problems.append(f"{report['open_errors']} open error record(s)")
    for c in report["connections"]:
        if c["peer"]["reachable"] is False:
            problems.append(f"the peer of connection {c['id']} is unreachable")
        if c["status"] == "error":
            problems.append(f"connection {c['id']} is paused: {c['status_reason']}")
    if report["reconcile"].get("ok") is False:
        problems.append(f"reconcile failing since {report['reconcile'].get('failing_since')}")
    return problems


def _guarded(part: Any, fallback: Any) -> tuple[Any, str | None]:
    try:
        return part(), None
    except Exception as exc:  # one broken part must not hide the others
        return fallback, type(exc).__name__


def health(settings: Settings) -> dict[str, Any]:
    """The whole report (see the module docstring)."""
    table_report = tables()
    open_errors, errors_failed = _guarded(list_errors, [])
    connections, conns_failed = _guarded(
        lambda: [connection_health(c, open_errors) for c in ConnectionModel.scan()], []
    )
    reconcile, reconcile_failed = _guarded(run_status, {})
    ages = [
        age
        for c in connections
        for age in (c["outgoing"]["oldest_age_s"], c["incoming"]["oldest_age_s"])
        if age is not None
    ]
    report: dict[str, Any] = {
        "node_id": settings.node_id,
        "checked_at": utcnow().isoformat(),
        "tables": table_report,
        "queues": queues(settings),
        "open_errors": len(open_errors),
        "oldest_pending_age_s": max(ages) if ages else None,
        "connections": connections,
        "reconcile": {
            "last_run_at": reconcile.get("at"),
            "last_sweep_at": reconcile.get("last_sweep_at"),
            "ok": reconcile.get("ok"),
            "error": reconcile.get("error"),
            "failing_since": reconcile.get("failing_since"),
        },
    }
    problems = _problems(report)
    for part, failed in (
        ("errors", errors_failed),
        ("connections", conns_failed),
        ("reconcile", reconcile_failed),
    ):
        if failed:
            problems.append(f"{part} could not be read ({failed})")
    report["status"] = "degraded" if problems else "ok"
    report["problems"] = problems
    return report
