"""poll_peers, every minute: what a node does on its own initiative towards its peers.

Every node retries the status notices (of the connection, and of twins) a public peer has
not received yet. A private node,
which nobody can call, also asks its public peers how their ends are (so it learns of a
deactivation or deletion) and long-polls their outboxes (``chalicelib.sync.private``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from chalicelib.ops import manage
from chalicelib.store.models import ConnectionModel
from chalicelib.sync import twin_status
from chalicelib.sync.services import SyncDeps

log = logging.getLogger("twinsync.poll")


def _ask_peers(deps: SyncDeps) -> int:
    asked = 0
    for connection in ConnectionModel.scan():
        if not connection.remote_public or connection.local_peer_id:
            continue
        if connection.remote_state == "active" and connection.status != "error":
            continue
        try:
            manage.check_peer(connection.id, settings=deps.settings, peer=deps.peer, sync=deps)
            asked += 1
        except Exception:  # the next round asks again
            log.warning("could not ask the peer of %s", connection.id, exc_info=True)
    return asked


def poll_all_peers(*, remaining_ms: Callable[[], int], deps: SyncDeps) -> dict[str, Any]:
    notices = manage.deliver_pending_notices(settings=deps.settings, peer=deps.peer)
    notices += twin_status.retry_undelivered(deps=deps)
    if deps.settings.is_public:
        return {"notices": notices, "polled": 0}
    from chalicelib.sync.private import poll_connections

    asked = _ask_peers(deps)
    return {
        "notices": notices,
        "asked": asked,
        **poll_connections(remaining_ms=remaining_ms, deps=deps),
    }
