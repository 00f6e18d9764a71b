"""Issue 18: writing the planned issue links and worklogs of a twin (links mapped through
the twins; worklogs mapped by remote id, like comments)."""

from __future__ import annotations

from chalicelib.rules.plan import Plan
from chalicelib.store.models import ConnectionModel, TwinModel
from chalicelib.sync.messages import Replica
from chalicelib.sync.services import SyncDeps


def apply(
    connection: ConnectionModel,
    twin: TwinModel,
    replica: Replica,
    plan: Plan,
    *,
    deps: SyncDeps,
    heal: bool = False,
) -> list[str]:
    """Write the plan's link and worklog operations; problems to show on the twin."""
    return []
