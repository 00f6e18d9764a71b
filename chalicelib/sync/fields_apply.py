"""Issue 18: writing what Script and Visual rules planned beyond Basic's fields: people
through the connection's user map (an unmapped person falls back, never fails a sync), and
components and versions the project lacks, created when the rules allow it."""

from __future__ import annotations

from chalicelib.rules.plan import Plan
from chalicelib.store.models import ConnectionModel, TwinModel
from chalicelib.sync.services import SyncDeps


def prepare(connection: ConnectionModel, plan: Plan, *, deps: SyncDeps) -> Plan:
    """Before the fields are written: the plan as this tracker can take it."""
    return plan


def apply_people(
    connection: ConnectionModel, twin: TwinModel, plan: Plan, *, deps: SyncDeps
) -> list[str]:
    """Assignee and reporter written; problems to show on the twin (none fails the sync)."""
    return []
