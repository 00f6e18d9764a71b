"""At a read of an issue, the edit made here that an apply overwrote unseen (issue 19).

Apply writes Basic's summary, type and (Server) description without reading the issue
first (:func:`chalicelib.rules.recovery.can_write_unseen`). An edit a person made here
whose webhook was late or lost is then overwritten; the next read of the issue (its
webhook, the sweep: our write moved ``updated``) finds it in the changelog, after the
issue's ``updated`` as this end last read it (``seen_updated``), followed by our write.
It is decided against our register as a conflict by stamp
(:func:`chalicelib.rules.merge.recover_local`): written back here when it is the later
edit, and sent either way, so both ends record the same conflict. Each read moves
``seen_updated`` past what it saw, so an edit is found once, and an edit read before our
write (registered and sent then) never again. ADR 0004 has the reasoning.

Runs within :func:`chalicelib.sync.outgoing.send_replica`, with the twin held.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import msgspec

from chalicelib.rules import merge, recovery
from chalicelib.store.models import ConnectionModel, TwinModel
from chalicelib.sync.events import record_transaction
from chalicelib.sync.links import end_origin
from chalicelib.sync.services import SyncDeps
from chalicelib.sync.twins import conflict_records, keeping_conflicts
from chalicelib.trackers.base import Body, Issue, IssueFields, utc_time

log = logging.getLogger("twinsync.recovery")


class Overwritten(msgspec.Struct, frozen=True):
    """What a read found: the issue as the replica is to show it (the recovered values),
    and the decision (:class:`chalicelib.rules.merge.Recovered`)."""

    issue: Issue
    decided: merge.Recovered

    def registers(self, stored: merge.State) -> merge.State:
        """The registers the replica is composed from: the recovered edits' own."""
        return {**stored, **self.decided.sent}

    def settled(self, state: merge.State) -> merge.State:
        """The registers to store: each recovered field as decided."""
        return {**state, **self.decided.state}


def last_read(twin: TwinModel) -> str | None:
    """The issue's ``updated`` when this end last read it (UTC); a twin never read: when
    it was recorded (its issue created by us, or linked then)."""
    seen = utc_time(twin.seen_updated or "")
    if seen:
        return seen
    return utc_time(twin.created_at.isoformat()) if twin.created_at else None


def overwritten_edits(
    connection: ConnectionModel, issue: Issue, twin: TwinModel, *, deps: SyncDeps
) -> Overwritten | None:
    """The edits made here that a write of ours replaced before this end read them;
    those that win are written back to the tracker now, and the conflicts recorded. None:
    nothing was overwritten (Basic mode only: the changelog field is the replica field)."""
    if connection.mode != "basic" or not issue.history or not twin.merge_state:
        return None
    found = recovery.overwritten(
        issue.history, since=last_read(twin), ours=deps.integration_user_id()
    )
    values = recovery.replica_values(found, deps.tracker.body_format)
    if not values:
        return None
    decided = merge.recover_local(
        merge.load(twin.merge_state),
        values,
        recovery.current_values(issue),
        origin=end_origin(connection, deps.settings.node_id),
    )
    if not decided.sent:
        return None
    if decided.write:  # the edit is the later one: it is the value here again
        deps.tracker.update_issue(twin.local_key, _fields(decided.write))
    version = int(twin.last_sent_version or 0) + 1  # the replica that carries them
    recorded = conflict_records(decided.conflicts, version=version)
    twin.update(actions=[keeping_conflicts(twin, recorded)])
    record_transaction(
        connection.id,
        twin.local_key,
        direction="outgoing",
        changes=sorted(decided.sent),
        outcome="recovered: an edit made here that an incoming change had overwritten",
        version=version,
        conflicts=recorded,
    )
    log.info("recovered overwritten %s of %s", sorted(decided.sent), twin.local_key)
    shown = {name: values[name][0] for name in decided.sent}
    return Overwritten(recovery.showing(issue, shown), decided)


def _fields(values: Mapping[str, Any]) -> IssueFields:
    """The tracker write of recovered replica values (summary, type, wiki description)."""
    description = None
    if "description" in values:
        body = values["description"]
        description = Body("wiki", (body or {}).get("value") or "")
    type_ = values.get("type")
    return IssueFields(
        summary=values.get("summary"),
        description=description,
        issue_type=str(type_.get("name")) if isinstance(type_, Mapping) else None,
    )
