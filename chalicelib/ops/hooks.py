"""The only places where the sync pipeline calls into operations (one line each there).

- ``after_ingest``: ingest re-read an issue and sent it to its twins; an issue that now
  matches an active trigger is put under sync (:mod:`chalicelib.ops.triggers`);
- ``issue_gone``: ingest found no issue; a deleted issue ends its twin links
  (:mod:`chalicelib.ops.deletion`);
- ``before_apply``: removals, connect requests, stopped twins and the incoming guard
  (:mod:`chalicelib.ops.gate`);
- ``reopen_if_stopped``: "sync this issue" on a stopped twin is the explicit restart.

Imports are lazy: the stages import this module at cold start, operations only on use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.store.models import ConnectionModel, TwinModel
from chalicelib.sync.deps import SyncDeps
from chalicelib.trackers.base import Issue


def after_ingest(issue: Issue, body: Mapping[str, Any], *, deps: SyncDeps) -> None:
    from chalicelib.ops.triggers import put_under_sync_if_matching

    put_under_sync_if_matching(issue, body, deps=deps)


def issue_gone(body: Mapping[str, Any], *, deps: SyncDeps) -> None:
    from chalicelib.ops.deletion import issue_gone as end_links

    end_links(body, deps=deps)


def before_apply(
    connection: ConnectionModel, replica: dict[str, Any], twin: TwinModel | None, *, deps: SyncDeps
) -> bool:
    """True when the replica was dealt with here and apply must not write it."""
    from chalicelib.ops.gate import intercept

    return intercept(connection, replica, twin, deps=deps)


def reopen_if_stopped(twin: TwinModel) -> TwinModel:
    if twin.status != "stopped":
        return twin
    from chalicelib.ops.stop import reopen

    return reopen(twin)
