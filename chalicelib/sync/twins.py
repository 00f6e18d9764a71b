"""Twins as the admin API shows them, and the small state changes every stage makes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pynamodb.expressions.update import Action

from chalicelib.rules.merge import Conflict
from chalicelib.store.models import TwinModel, utcnow
from chalicelib.sync.store import get_twin

CONFLICTS_SHOWN = 10
CONFLICTS_KEPT = 20


def conflict_records(conflicts: Iterable[Conflict], *, version: int) -> list[dict[str, Any]]:
    """Conflicts just decided, as the twin and its history keep them."""
    now = utcnow().isoformat()
    return [{**c.to_json(), "time": now, "version": version} for c in conflicts]


def keeping_conflicts(twin: TwinModel, records: list[dict[str, Any]]) -> Action:
    """The twin update that adds ``records`` to its conflicts (the newest kept)."""
    return TwinModel.conflicts.set([*(twin.conflicts or []), *records][-CONFLICTS_KEPT:])


def twin_resource(twin: TwinModel) -> dict[str, Any]:
    """The contract's ``twin`` resource."""
    remote = None
    if twin.remote_key:
        remote = {"key": twin.remote_key, "url": twin.remote_url}
    return {
        "connection_id": twin.connection_id,
        "local": {"key": twin.local_key, "url": twin.local_url},
        "remote": remote,
        "status": twin.status
        if twin.status in ("queued", "synced", "error", "stopped")
        else "error",
        "last_synced_at": twin.last_synced_at.isoformat() if twin.last_synced_at else None,
        "error": twin.error,
        # the same field changed on both sides: how each was decided (newest last)
        "conflicts": list(twin.conflicts or [])[-CONFLICTS_SHOWN:],
    }


def mark_error(connection_id: str, local_key: str, message: str) -> None:
    twin = get_twin(connection_id, local_key)
    if twin is None:
        return
    twin.update(actions=[TwinModel.status.set("error"), TwinModel.error.set(message)])
