"""Issue 18: parents first. A replica whose parent has no twin here waits (nothing written)
until that parent's first sync lands; the sending end brings a parent under sync before its
child when the connection says so. Order of arrival never matters."""

from __future__ import annotations

from chalicelib.rules.plan import Plan
from chalicelib.store.models import ConnectionModel, TwinModel
from chalicelib.sync.messages import Replica
from chalicelib.sync.services import SyncDeps


def resolve_parent(
    connection: ConnectionModel,
    replica: Replica,
    twin: TwinModel | None,
    plan: Plan,
    *,
    deps: SyncDeps,
) -> Plan:
    """The plan with its parent as this tracker's key (``IssueFields.parent``)."""
    return plan


def released(connection: ConnectionModel, twin: TwinModel, *, deps: SyncDeps) -> None:
    """A twin's first sync landed: replicas waiting for it as their parent go on."""
