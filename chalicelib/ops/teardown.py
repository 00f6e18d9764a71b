"""After a connection is deleted: the links back on its twins' issues come off (issue 18:
"removed when syncing stops"), a page of twins per message on the jobs queue, so deleting
stays one quick request whatever the number of twins. Best effort, as when one twin stops:
an issue deleted meanwhile, or a tracker that refuses, leaves nothing to do."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.store.models import TwinModel
from chalicelib.store.namespaces import teardown_dedup, teardown_group
from chalicelib.sync import link_back
from chalicelib.sync.services import SyncDeps

PAGE = 50
KEY = "teardown"


def start(connection_id: str, *, deps: SyncDeps) -> None:
    """Queue the first page of a deleted connection's twins."""
    _enqueue(connection_id, None, deps=deps)


def handles(body: Mapping[str, Any]) -> bool:
    """Whether a jobs-queue message is a teardown page (not a job step)."""
    return isinstance(body.get(KEY), str)


def run(body: Mapping[str, Any], *, deps: SyncDeps) -> int:
    """One page: take each twin's link back down; queue the next page. Links taken down."""
    connection_id = str(body[KEY])
    after = body.get("after")
    condition = TwinModel.local_key > after if isinstance(after, str) and after else None
    twins = list(TwinModel.query(connection_id, condition, limit=PAGE + 1))
    taken = 0
    for twin in twins[:PAGE]:
        if twin.linked_back:
            link_back.take_down(twin, deps=deps)
            taken += 1
    if len(twins) > PAGE:
        _enqueue(connection_id, twins[PAGE - 1].local_key, deps=deps)
    return taken


def _enqueue(connection_id: str, after: str | None, *, deps: SyncDeps) -> None:
    deps.enqueue(
        deps.settings.resources.jobs_queue_url,
        {KEY: connection_id, "after": after},
        group=teardown_group(connection_id),
        dedup=teardown_dedup(connection_id, after),
    )
