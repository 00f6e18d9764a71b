"""poll_peers: how a private node syncs without ever being called (see docs/private-nodes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.sync.deps import SyncDeps, default_deps


def poll_all_peers(
    *, remaining_ms: Callable[[], int], deps: SyncDeps | None = None
) -> dict[str, Any]:
    deps = deps or default_deps()
    if deps.settings.is_public:
        return {"polled": 0}
    from chalicelib.sync.private import poll_connections

    return poll_connections(remaining_ms=remaining_ms, deps=deps)
