"""Outgoing replicas: an issue as it is now becomes a replica in a twin's outbox.

Each field is compared with what this end last sent or wrote (the merge registers,
:mod:`chalicelib.rules.merge`): a field that differs was edited here and gets a new stamp;
when no field was edited and the comments and attachments are as last sent, nothing is
sent, so our own writes never echo. Ingest (:mod:`chalicelib.sync.ingest`), a trigger, a
connect or a restart all send through :func:`send_replica`. A new entry is pushed to a
public peer at once (:func:`chalicelib.sync.deliver.deliver_now`); the deliver queue is
its retry path.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pynamodb.expressions.update import Action

from chalicelib.rules import merge
from chalicelib.rules import recovery as recovery_rules
from chalicelib.rules.replica import field_hashes, items_hash
from chalicelib.rules.select import outgoing_rule
from chalicelib.rules.skip import SkipSync
from chalicelib.store.models import ConnectionModel, EntryModel, TwinModel
from chalicelib.store.namespaces import outbox_dedup, outbox_pk
from chalicelib.sync import hierarchy, lanes, recovery, relations_apply
from chalicelib.sync.blobs import outgoing_key
from chalicelib.sync.deliver import deliver_now, enqueue_deliver
from chalicelib.sync.events import record_transaction
from chalicelib.sync.hook_guard import Mark
from chalicelib.sync.links import end_origin, get_connection
from chalicelib.sync.messages import DeliverMessage, Replica
from chalicelib.sync.services import SyncDeps
from chalicelib.sync.store import (
    BUSY_RETRY_S,
    TwinBusy,
    TwinGone,
    clock_seq,
    held_here,
    holding,
    pending_entry,
    save_new,
    update_as_read,
    update_ending_lease,
)
from chalicelib.trackers.base import Issue, TrackerError
from chalicelib.trackers.retry import retrying_later

log = logging.getLogger("twinsync.outgoing")


def _attachment_hashes(issue: Issue, twin: TwinModel, *, deps: SyncDeps) -> dict[str, str]:
    """SHA-256 of each attachment we offer, uploaded once to our bucket for the peer."""
    known: dict[str, str] = dict(twin.sent_attachments or {})
    ours = deps.integration_user_id()
    for attachment in issue.attachments:
        if attachment.id in known or (attachment.author and attachment.author.id == ours):
            continue
        try:
            with retrying_later():
                data = deps.tracker.download_attachment(attachment.id)
        except TrackerError as exc:
            log.warning("attachment %s of %s unreadable: %s", attachment.id, issue.key, exc)
            continue
        deps.blobs.put(
            outgoing_key(twin.connection_id, attachment.id), data, content_type=attachment.mime_type
        )
        known[attachment.id] = hashlib.sha256(data).hexdigest()
    return known


def send_replica(
    issue: Issue,
    twin: TwinModel,
    *,
    deps: SyncDeps,
    force: bool = False,
    repair: Sequence[str] = (),
    read_at: datetime | None = None,
    mark: Mark | None = None,
) -> bool:
    """Append this issue's replica to the twin's connection outbox; False if nothing new.

    ``repair`` (a drift repair, :mod:`chalicelib.ops.drift`): fields the receiver is to
    write whatever the stamps say (``replica.repair``). The twin is held meanwhile (an
    apply of the same twin waits, and this waits for one: ``TwinBusy``). ``read_at``:
    when ``issue`` was read, outside the hold (ingest); an apply that ended since may
    have written over what it shows without looking (issue 19), so it is read again.
    ``mark``: the signed webhook this read is for (ingest), set by the send's last
    update of the twin, or by an update of its own when the send updates nothing."""
    # Issue 19: a lease this call takes ends with its last update of the twin (one write
    # instead of two); re-entered from an apply, which holds the twin, it is apply's to end.
    ending = not held_here(twin)
    if ending:  # issue 19: a read that sends nothing takes no lease (two writes)
        stored = _without_lease(issue, twin, deps=deps, force=force, repair=repair, read_at=read_at)
        if stored == []:
            if mark is not None:
                mark.write()
            return False
        if stored is not None and update_as_read(twin, _with(mark, stored)):
            if mark is not None:
                mark.carried()
            return False
    try:
        with holding(twin):
            if _read_before_an_apply(issue, twin, read_at):
                raise TwinBusy(f"{twin.local_key} written since read", delay=BUSY_RETRY_S)
            sent = _send(
                issue, twin, deps=deps, force=force, repair=repair, ending=ending, mark=mark
            )
    except TwinGone:
        return False
    if mark is not None:
        mark.write()  # (nothing, when the send's update carried it)
    return sent


def _with(mark: Mark | None, actions: list[Action]) -> list[Action]:
    return mark.ride(actions) if mark is not None else actions


def _without_lease(
    issue: Issue,
    twin: TwinModel,
    *,
    deps: SyncDeps,
    force: bool,
    repair: Sequence[str],
    read_at: datetime | None = None,
) -> list[Action] | None:
    """What a send of this read would write, when it sends nothing: no update (``[]``),
    or only what this end stores of its read (the registers, the offered attachments,
    ``seen_updated``). None: it may send, or this cannot tell without side effects.
    Decided before the lease (issue 19, ADR 0011), so that a read that sends nothing costs
    no lease taken and given back: nothing at all for a late webhook of an edit already
    sent; one update of the twin as it was read (:func:`chalicelib.sync.store.
    update_as_read`) for the sweep's read-back of an issue an apply wrote (our write moved
    ``updated``; the twin cannot know to what: Jira answers an edit with 204).

    Decided from ``twin`` as the caller read it, which can be a moment old. A read of
    the very version of the issue this end read last (``updated`` equal to the twin's
    ``seen_updated``, which the same write stores with the registers) that shows nothing
    edited and nothing new to offer changes nothing, whatever happened since: the
    registers move after such a copy only by a newer read (this read is then older:
    :func:`_send` drops it) or by an apply of the same version, whose own write is not in
    this read (a field still showing the value before it is no edit; the write moves
    ``updated`` and comes back as a read of its own, which is sent if a person edited in
    between). A newer read that shows nothing edited against the registers as read is
    stored by an update conditioned on the twin being as read (no lease since, ``holds``
    and ``seen_updated`` unchanged): had anything held the twin since, the update writes
    nothing and the send decides under the lease. Anything this cannot tell without side
    effects (an attachment not offered yet, an edit to recover from the changelog, a
    connection gone) says None, and the send decides under the lease as before."""
    if force or repair or not twin.seen_updated:
        return None
    if lanes.older_read(issue.updated, twin.seen_updated):
        return []  # older than a read already sent: the send drops it (a newer copy of
        # the twin has a later ``seen_updated`` still: sends store it only moving forward)
    same_read = issue.updated == twin.seen_updated
    if not same_read and (
        twin.lease_until is not None or _read_before_an_apply(issue, twin, read_at)
    ):
        return None  # (held: its holder may still write; or read again, under the lease)
    connection = get_connection(twin.connection_id)
    if connection is None or connection.status == "deleted":
        return None
    if not same_read and connection.mode == "script":
        return None  # (a script runs once per read: under the lease, as before)
    ours = deps.integration_user_id()
    if issue.history and recovery_rules.overwritten(
        issue.history, since=recovery.last_read(twin), ours=ours
    ):
        return None
    hashes: dict[str, str] = dict(twin.sent_attachments or {})
    if any(
        a.id not in hashes and not (a.author and a.author.id == ours) for a in issue.attachments
    ):
        return None  # (offering it downloads and uploads it: under the lease)
    try:
        replica = _replica_of(issue, connection, hashes, deps=deps)
    except SkipSync:  # (the send stores the read alone)
        return [] if same_read else [TwinModel.seen_updated.set(issue.updated)]
    if not relations_apply.copies_unchanged(twin, replica):
        return None
    state, changed = _observed(merge.load(twin.merge_state), replica, issue, connection, deps=deps)
    if changed or items_hash(replica) != twin.last_sent_hash:
        return None
    registers = merge.dump(state)
    if _stored_as_is(twin, registers, hashes, issue):
        return []
    return [
        TwinModel.merge_state.set(registers),
        TwinModel.sent_attachments.set(hashes),
        TwinModel.seen_updated.set(issue.updated),
    ]


def _replica_of(
    issue: Issue, connection: ConnectionModel, hashes: dict[str, str], *, deps: SyncDeps
) -> dict[str, Any]:
    """The replica this connection's outgoing rule makes of ``issue`` (raises SkipSync)."""
    return outgoing_rule(connection)(
        issue,
        connection_id=connection.id,
        integration_user_id=deps.integration_user_id(),
        attachment_sha=hashes,
    )


def _observed(
    registers: Mapping[str, merge.Register],
    replica: dict[str, Any],
    issue: Issue,
    connection: ConnectionModel,
    *,
    deps: SyncDeps,
) -> tuple[merge.State, list[str]]:
    """The registers after this end's read of ``issue`` (``merge.observe_local``), and
    the fields it shows edited here."""
    return merge.observe_local(
        registers,
        replica,
        at=merge.stamp_time(issue.updated),
        origin=end_origin(connection, deps.settings.node_id),
        at_of=merge.change_times(issue.updated, issue.changed_at),
    )


def _stored_as_is(
    twin: TwinModel, registers: dict[str, Any], hashes: dict[str, str], issue: Issue
) -> bool:
    """Does the twin already hold these registers, offered attachments and read?"""
    return (
        _as_stored(registers) == _as_stored(twin.merge_state or {})
        and _as_stored(hashes) == _as_stored(twin.sent_attachments or {})
        and issue.updated == twin.seen_updated
    )


def _read_before_an_apply(issue: Issue, twin: TwinModel, read_at: datetime | None) -> bool:
    """Was ``issue`` read before an apply of this twin ended, and does it show another
    value than the registers' own? Then it may predate the apply's unseen write (issue 19)
    and would be taken for an edit made after it: it is read again instead."""
    if read_at is None or twin.last_synced_at is None or read_at >= twin.last_synced_at:
        return False
    return recovery_rules.shows_edits(merge.load(twin.merge_state), issue)


def _send(
    issue: Issue,
    twin: TwinModel,
    *,
    deps: SyncDeps,
    force: bool,
    repair: Sequence[str],
    ending: bool,
    mark: Mark | None = None,
) -> bool:
    """The send itself, the twin held; ``ending``: its last update of the twin also ends
    the lease (:func:`chalicelib.sync.store.update_ending_lease`): nothing after that
    update writes the twin's registers (the entry's queue message, the history record and
    a parent brought under sync are not the twin's)."""

    def last_update(twin: TwinModel, actions: list[Action]) -> None:
        (update_ending_lease if ending else _update)(twin, _with(mark, actions))
        if mark is not None:
            mark.carried()

    connection = get_connection(twin.connection_id)
    if connection is None or connection.status == "deleted":
        return False
    if not force and lanes.older_read(issue.updated, twin.seen_updated):
        return False  # a newer read of this issue was sent meanwhile (the other lane's)
    found = recovery.overwritten_edits(connection, issue, twin, deps=deps)  # issue 19
    if found is not None:  # sent whatever the registers say: the other end decides it too
        issue, force = found.issue, True
    hashes = _attachment_hashes(issue, twin, deps=deps)
    try:
        replica = _replica_of(issue, connection, hashes, deps=deps)
    except SkipSync:  # the rules leave this issue out (scope, direction disabled)
        last_update(twin, [TwinModel.seen_updated.set(issue.updated)])
        return False
    relations_apply.mark_copied(twin, replica)  # issue 18: our copies of their links
    registers = merge.load(twin.merge_state)
    state, changed = _observed(
        found.registers(registers) if found is not None else registers,
        replica,
        issue,
        connection,
        deps=deps,
    )
    items = items_hash(replica)
    if not force and not changed and items == twin.last_sent_hash:
        # nothing edited here since we last sent or wrote: our own write read back, or a
        # change to something this connection does not sync
        registers = merge.dump(state)
        if not _stored_as_is(twin, registers, hashes, issue):
            # issue 19: apply's look at an issue nobody edited here writes nothing
            last_update(
                twin,
                [
                    TwinModel.merge_state.set(registers),
                    TwinModel.sent_attachments.set(hashes),
                    TwinModel.seen_updated.set(issue.updated),
                ],
            )
        return False
    version = int(twin.last_sent_version or 0) + 1
    message = Replica.compose(
        replica,
        version=version,
        stamps=merge.stamps_json(state),
        repair=repair,
        twin_key=twin.remote_key,
    )
    if found is not None:
        state = found.settled(state)
    previous = dict(twin.sent_hashes or {})
    current = field_hashes(message.payload)
    entry = _new_entry(connection.id, issue.key, lanes.mark(message.to_wire()), deps=deps)
    delivered = deliver_now(connection, entry, deps=deps)  # the peer has it: no queue hop
    if not delivered:  # kept pending for the deliver queue (a private peer pulls it)
        save_new(entry)  # (one conditional put; another number if this one was just taken)
    last_update(
        twin,
        [
            TwinModel.last_sent_version.set(version),
            TwinModel.last_sent_hash.set(items),
            TwinModel.merge_state.set(merge.dump(state)),
            TwinModel.sent_hashes.set(current),
            TwinModel.sent_attachments.set(hashes),
            TwinModel.local_url.set(issue.url),
            TwinModel.local_id.set(issue.id),
            TwinModel.seen_updated.set(issue.updated),
        ],
    )
    if not delivered:
        enqueue_deliver(
            DeliverMessage(connection.id, int(entry.seq), issue.key),
            deps=deps,
            dedup=outbox_dedup(connection.id, int(entry.seq)),
        )
    record_transaction(
        connection.id,
        twin.local_key,
        direction="outgoing",
        changes=changed_names(previous, current),
        outcome="queued",
        version=version,
    )
    hierarchy.bring_parent(connection, replica, deps=deps)  # issue 18: parents first
    return True


def _update(twin: TwinModel, actions: list[Action]) -> None:
    twin.update(actions=actions)


def _as_stored(value: Any) -> Any:
    """``value`` as it reads back from a JSON attribute (tuples become lists)."""
    return json.loads(json.dumps(value, sort_keys=True))


def _new_entry(
    connection_id: str, issue_key: str, replica: dict[str, Any], *, deps: SyncDeps
) -> EntryModel:
    """The outbox entry of ``replica``, numbered from the clock but not saved yet.

    Issue 19: an entry the public peer accepted when it was pushed at once is not saved
    at all (nothing reads an acknowledged entry: pulls, acks, lag, drift and resume read
    pending ones; the peer keys nothing by our number, a push carries replicas only; ADR
    0011). An entry that was not pushed, or not accepted, is saved pending and queued, as
    before. Only a peer's push comes between the number and the save, and a pushed entry
    is never pulled; a private peer's entry is saved at once."""
    return pending_entry(
        outbox_pk(connection_id),
        clock_seq(),
        issue_key=issue_key,
        replica=replica,
        days=deps.settings.outbox_retention_days,
    )


def changed_names(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
