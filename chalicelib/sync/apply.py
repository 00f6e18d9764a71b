"""Apply: a received replica becomes writes to the local twin, exactly once in effect.

- First sync: the twin is claimed with a conditional write before its issue is created,
  and the issue carries the remote key in an issue property; a retry after a crash
  between "issue created" and "twin recorded" finds that issue instead of making another.
- Later syncs: a version older than (or equal to) the one applied is dropped; only what
  changed since the last applied replica is written.
- Comments and attachments are mapped by remote id, and the maps are saved with the
  apply's record (or at once when it fails before), so a retry neither duplicates nor
  loses one; a retry first maps what an earlier attempt wrote without recording it (a
  crash, or an answer lost after the write landed).
- A status in the plan is reached through a workflow transition after the fields are
  written; when no transition leads there the twin shows why, and the rest still syncs.
- Each field is merged, not overwritten (:mod:`chalicelib.rules.merge`): a remote value
  is written only when its register is newer than ours; the same field changed on both
  sides is a conflict, decided alike on both ends and kept in the twin's history.
- What we wrote is remembered from the plan, never from a later read (which could hold an
  edit made meanwhile): our own write read back is recognised (no echo), a person's edit
  made during the apply is sent like any other.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from chalicelib.net.errors import OutboundError, PeerRefused
from chalicelib.observability import logs, metrics
from chalicelib.queues import QueueMessage, RetryLater
from chalicelib.rules import merge, recovery
from chalicelib.rules.plan import AttachmentOp, CommentOp, IncomingContext, Plan
from chalicelib.rules.replica import body_json
from chalicelib.rules.select import incoming_rule
from chalicelib.rules.skip import SkipSync
from chalicelib.store.models import (
    ConnectionModel,
    KeyModel,
    TwinModel,
    set_or_remove,
    utcnow,
)
from chalicelib.store.namespaces import claim_key, inbox_pk
from chalicelib.sync import (
    arrival,
    fields_apply,
    hierarchy,
    inbox,
    lanes,
    link_back,
    refusals,
    relations_apply,
)
from chalicelib.sync.arrival import Arrival
from chalicelib.sync.blobs import incoming_key, outgoing_key
from chalicelib.sync.events import dumps, record_transaction
from chalicelib.sync.links import get_connection, is_live, is_local, peer_end, peer_origin
from chalicelib.sync.messages import (
    ApplyMessage,
    ConnectRequest,
    Incoming,
    Removal,
    Replica,
    from_wire,
)
from chalicelib.sync.privacy import private_visibility
from chalicelib.sync.services import SyncDeps
from chalicelib.sync.store import (
    TwinBusy,
    TwinGone,
    TwinMoved,
    claim,
    create_twin,
    get_entry,
    get_key,
    get_twin,
    held_here,
    holding,
    holding_as_read,
    holding_named,
    holding_new,
    new_lease,
    set_entry_state,
    set_key,
    twin_by_remote,
    update_ending_lease,
)
from chalicelib.sync.twins import conflict_records, keeping_conflicts
from chalicelib.trackers.base import (
    Body,
    CommentVisibility,
    InvalidRequest,
    Issue,
    IssueFields,
    NotFound,
    TooLarge,
    TrackerError,
    utc_time,
)
from chalicelib.trackers.retry import retrying_later

log = logging.getLogger("twinsync.apply")

PROPERTY = "twinsync.twin"


def handle_apply(message: QueueMessage, *, deps: SyncDeps) -> None:
    job = ApplyMessage.from_body(message.body)
    connection_id = job.connection_id
    entry = get_entry(inbox_pk(connection_id), job.seq)
    if entry is None or entry.state == "applied":
        return
    incoming = from_wire(entry.replica)  # checked when it entered the inbox
    logs.bind(remote_key=incoming.key, replica_id=entry.replica_id)
    connection = get_connection(connection_id)
    if connection is None:
        return
    if not is_live(connection):
        set_entry_state(entry, "held")  # applied when the connection is activated again
        return
    try:
        with retrying_later(unavailable_retry_after=False):
            # a retry heals what an earlier attempt wrote without recording it: an earlier
            # receive, or the inline apply that handed this replica over (``tried``)
            retry = message.receive_count > 1 or job.tried
            apply_replica(connection, incoming, deps=deps, retry=retry)
    except hierarchy.ParentNotSynced as exc:  # not an error: applied once the parent lands
        hierarchy.wait(
            connection, entry, exc.remote_key, deps=deps, receive_count=message.receive_count
        )
        return
    except InvalidRequest as exc:
        if not refusals.is_permanent(exc):
            raise
        # the same answer however often it is asked: an error record now, on both ends
        raise refusals.refused(connection, incoming, exc, deps=deps) from exc
    set_entry_state(entry, "applied")
    refusals.applied(connection, incoming, deps=deps)


INLINE_ITEMS = 3  # replicas one push applies itself; the rest go through the apply queue
INLINE_BUDGET_S = 4.0  # no inline apply starts later than this into the push


def receive(
    connection: ConnectionModel,
    replicas: Iterable[Incoming],
    *,
    deps: SyncDeps,
    clock: Callable[[], float] = time.monotonic,
) -> list[str]:
    """A peer's push: the ids of ``replicas``, each applied at once or taken into the inbox.

    Issue 19: a replica :func:`applies_now` allows is applied in the request that brings it
    (:func:`apply_now`): no inbox entry, no apply message, no apply worker. The inbox and
    the apply queue stay the retry path, as the deliver queue is on the sending side: what
    does not apply at once is taken in exactly as before (:func:`inbox.take`). The work is
    bounded: at most :data:`INLINE_ITEMS` tries per push, none started after
    :data:`INLINE_BUDGET_S` seconds, well under the sender's read timeout
    (``net.outbound.READ_TIMEOUT``, 10 s). A sender that gives up before the answer retries
    through its deliver queue, and the retry changes nothing: apply drops a version it has.
    """
    accepted, tries, started = [], 0, clock()
    for replica in replicas:
        now = tries < INLINE_ITEMS and clock() - started < INLINE_BUDGET_S
        if now and applies_now(connection, replica):
            tries += 1
            if not apply_now(connection, replica, deps=deps):
                inbox.take(connection, replica, deps=deps, tried=True)
        else:
            inbox.take(connection, replica, deps=deps)
        accepted.append(replica.id)
    return accepted


def applies_now(connection: ConnectionModel, incoming: Incoming) -> bool:
    """Whether the request that brings ``incoming`` may apply it itself (:func:`apply_now`):
    a live-lane replica that names an issue of ours (``twin_key``: a linked twin's change,
    a link-back, a connect request) on a live connection.

    The rest keeps the inbox and the apply queue: catch-up replicas (their own lane, ADR
    0003), removals (rare; they end a link), and replicas without ``twin_key`` (a first
    sync: it creates an issue, may wait for Jira's search or a parent, and pushes a
    link-back of its own)."""
    return (
        isinstance(incoming, Replica)
        and bool(incoming.twin_key)
        and lanes.of(incoming) == lanes.LIVE
        and is_live(connection)
    )


def apply_now(connection: ConnectionModel, incoming: Incoming, *, deps: SyncDeps) -> bool:
    """Apply a replica in the request that brought it (issue 19); True when it is done.

    The worker's apply (:func:`handle_apply` without its inbox entry): the same
    :func:`apply_replica`, then the same :func:`refusals.applied`. On any other outcome (the
    twin busy, a parent not synced here yet, a tracker error or 429, a refusal, anything
    raised) False, and the caller takes the replica into the inbox and queues it, exactly
    as before: :func:`handle_apply` then does what it always did, with its retries, error
    records and hierarchy waits. Whatever this attempt wrote is harmless there: apply is
    idempotent, and the queued message says ``tried`` so the worker heals on its first
    receive (comments or attachments written without their map, ``_expectations``'
    registers). Nothing is written to the inbox or queued when it succeeds, so a sender's
    retry of the same replica is applied again here and dropped as not newer.

    This apply always heals (``retry=True``): nothing records that an earlier push of the
    same replica got this far, and one stopped between a tracker write and its record (the
    API function's 29 s timeout; its sender gave up at 10 s and pushes again) must not
    write a comment, an attachment or a worklog twice. Healing reads the issue only when
    the replica creates one of those; a field change costs nothing more.

    Calling it for a replica :func:`applies_now` refuses is the caller's mistake: False."""
    if not applies_now(connection, incoming):
        return False
    with logs.context(stage="apply", remote_key=incoming.key, replica_id=incoming.id):
        started = time.perf_counter()
        try:
            apply_replica(connection, incoming, deps=deps, retry=True)
            refusals.applied(connection, incoming, deps=deps)
        except Exception as exc:  # the apply queue's worker takes it from here
            log.info(
                "replica %s of %s goes through the apply queue: %s",
                incoming.id,
                incoming.key,
                f"{type(exc).__name__}: {exc}",
            )
            done = False
        else:
            done = True
        # the line a queue record's apply ends with (``queues.process_batch``), for the push
        log.info(
            "apply in the push of %s: %s",
            incoming.id,
            "done" if done else "queued",
            extra={
                "event": "sync.transaction",
                "via": "push",
                "direction": "incoming",
                "outcome": "done" if done else "queued",
                "attempt": 1,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
    return done


def apply_replica(
    connection: ConnectionModel, message: Incoming, *, deps: SyncDeps, retry: bool = False
) -> TwinModel | None:
    """Apply's steps: find the twin, decide what the message is, act on that decision.

    Issue 19, on a Basic connection: the twin is read, the change planned on it, and the
    twin held with what the apply expects to write in one conditional write
    (:func:`chalicelib.sync.store.holding_as_read`, in :func:`_apply_held`) instead of a
    hold, then an expectation. When the twin was worked on between the read and that write
    (:class:`TwinMoved`: nothing written), the apply starts again as before: the twin
    held first (found and held in one write when the replica names it), then planned.
    The other end's first replica of a twin that names ours (version 1 with ``twin_key``:
    a link-back, a connect request) links it and writes no field: held first too, as a
    read first would only add a read there."""
    if connection.mode == "basic" and not (message.twin_key and message.version <= 1):
        try:
            return _apply_found(connection, message, None, deps=deps, retry=retry, as_read=True)
        except TwinMoved as exc:
            log.info("%s: planned again, held: %s", message.key, exc)
    named = (
        holding_named(connection.id, message.twin_key, message.key)
        if message.twin_key
        else contextlib.nullcontext(None)
    )
    with named as held:  # the twin the replica names, found and held in one write
        return _apply_found(connection, message, held, deps=deps, retry=retry)


def _apply_found(
    connection: ConnectionModel,
    message: Incoming,
    held: TwinModel | None,
    *,
    deps: SyncDeps,
    retry: bool,
    as_read: bool = False,
) -> TwinModel | None:
    twin, link = find_twin(connection, message, named=held)
    stopped = twin is not None and twin.status == "stopped"
    tomb = None
    if twin is not None and stopped:
        from chalicelib.sync.stop import tombstone  # a stopped twin's (cold start: issue 19)

        tomb = tombstone(connection.id, twin.local_key)
    decision = arrival.classify(message, twin, tomb)
    if as_read:
        _may_hold_later(message, twin, decision)
    answer = False  # answer like a first sync, so both ends know the link is live
    if decision is Arrival.REMOVAL:
        assert isinstance(message, Removal)
        arrival.receive_removal(connection, message, twin, deps=deps)
        return twin
    assert isinstance(message, Replica)  # every other arrival is a replica of the issue
    replica = message
    if decision is Arrival.LATE:
        assert twin is not None
        arrival.skipped(connection, twin, replica, "skipped: sync stopped (late change)")
        return twin
    if decision is Arrival.CONNECT:
        from chalicelib.sync import connect  # a first sync's (cold start: issue 19)

        twin = connect.receive_request(connection, ConnectRequest(replica), deps=deps)
        if twin is None:
            return None  # refused: the other side was told
        link = answer = True
    elif decision is Arrival.AFTER_DELETION:
        assert twin is not None
        twin.delete()
        twin, link = None, False
    elif decision is Arrival.RESTART:
        assert twin is not None
        from chalicelib.sync.stop import reopen

        twin, answer = reopen(twin), True
    if twin is not None and not arrival.guard_allows(connection, twin, deps=deps):
        arrival.skipped(connection, twin, replica, "skipped: protected by the incoming guard")
    else:
        twin = (
            _apply_holding(
                connection,
                replica,
                twin,
                link=link,
                deps=deps,
                retry=retry,
                as_read=as_read and decision is Arrival.APPLY,
            )
            or twin
        )
    if answer and twin is not None:
        current = get_twin(connection.id, twin.local_key) or twin
        if current.status != "stopped":
            issue = deps.tracker.get_issue(current.local_key)
            send_replica(issue, current, deps=deps, force=True)
    return twin


def _may_hold_later(message: Incoming, twin: TwinModel | None, decision: Arrival) -> None:
    """:class:`TwinMoved` when an apply of ``twin`` as read is to be held first instead:
    a stop, restart or removal of the twin the replica names (held first, as before), or
    a twin read with a lease (:func:`holding_as_read` would not take it)."""
    if twin is None or held_here(twin):
        return
    if decision is not Arrival.APPLY and message.twin_key:
        raise TwinMoved(f"{decision.value} of {twin.local_key}: held first")
    if twin.lease_until is not None:  # held (or its holder stopped): holding says which
        raise TwinMoved(f"twin {twin.local_key} is held")


def find_twin(
    connection: ConnectionModel, message: Incoming, *, named: TwinModel | None = None
) -> tuple[TwinModel | None, bool]:
    """The twin ``message`` is for, and whether the message links it (a twin its sender
    named, ``twin_key``, that knows no remote key or another one yet).

    A sender names our issue in every replica once it knows it: that twin (``named``, when
    the caller holds it already) is read by its key; the index by remote key is asked only
    when the named twin is not linked with the replica's issue (a first sync, a connect
    request, a link, a twin linked anew)."""
    if named is None and message.twin_key:
        named = get_twin(connection.id, message.twin_key)
    if named is not None and named.remote_key == message.key:
        return named, False
    twin = twin_by_remote(connection.id, message.key)
    if twin is None and named is not None:
        return named, True
    return twin, False


def _apply_holding(
    connection: ConnectionModel,
    replica: Replica,
    twin: TwinModel | None,
    *,
    link: bool,
    deps: SyncDeps,
    retry: bool,
    as_read: bool = False,
) -> TwinModel | None:
    """Apply ``replica`` with ``twin`` held; ``as_read``: the twin as read, not held yet
    (:func:`_apply_held` holds it with its first write, or not at all when it writes
    nothing)."""
    take = as_read and twin is not None and not held_here(twin)
    with ExitStack() as held:
        if twin is not None and not take:
            try:
                held.enter_context(holding(twin))  # ingest waits: both use the registers
            except TwinGone:
                return None
        return _apply_held(
            connection, replica, twin, link=link, held=held, deps=deps, retry=retry, take=take
        )


def _apply_held(
    connection: ConnectionModel,
    replica: Replica,
    twin: TwinModel | None,
    *,
    link: bool,
    held: ExitStack,
    deps: SyncDeps,
    retry: bool,
    take: bool = False,
) -> TwinModel | None:
    """The apply itself, with the twin held (a first sync holds the twin it creates).

    ``take``: the twin as read and not held yet. It is held by this apply's first write of
    it, conditioned on the twin being as read (:func:`holding_as_read`): before a look
    (which may send), else with what the plan expects to write (:func:`_expectations`).
    A replica not newer is dropped without holding it (a history line, no twin write)."""
    remote_key = replica.key
    if twin is not None and replica.version <= int(twin.last_applied_version or 0):
        record_transaction(
            connection.id,
            twin.local_key,
            direction="incoming",
            changes=[],
            outcome="skipped: not newer",
            version=replica.version,
        )
        return twin
    # a link replica (or a connected twin's first one) describes an issue that already
    # matches ours as far as we know: a baseline, nothing to write
    baseline = link or (
        twin is not None and not twin.last_applied_version and twin.remote_key == remote_key
    )
    merged = _merge(connection, replica, twin, baseline=baseline)
    if twin is not None and merged.write and not baseline and not replica.repair:
        # (a drift repair rewrites what this tracker shows wrongly: nothing to look for)
        merged, take = _look_first(
            connection, replica, twin, merged, held=held, take=take, deps=deps
        )
    ctx = IncomingContext(
        # the rules' boundary: the replica as a mapping (scripts see exactly the wire object)
        replica={**replica.to_wire(), **merged.values},  # a set merged from both sides: the union
        previous=twin.last_applied_replica if twin is not None else None,
        first_sync=twin is None,
        project=deps.project(connection.incoming_project),
        body_format=deps.tracker.body_format,
        remote_short_name=connection.remote_short_name,
        previous_hashes=(
            merge.settled_hashes(replica.payload, merged.write) if twin is not None else {}
        ),
        comment_map=dict(twin.comment_map or {}) if twin is not None else {},
        attachment_map=dict(twin.attachment_map or {}) if twin is not None else {},
        worklog_map=dict(twin.worklog_map or {}) if twin is not None else {},
    )
    try:
        plan = incoming_rule(connection)(ctx)
    except SkipSync as exc:  # the rules leave this replica out (scope, direction disabled)
        if twin is not None:
            record_transaction(
                connection.id,
                twin.local_key,
                direction="incoming",
                changes=[],
                outcome=f"skipped: {exc}",
                version=replica.version,
            )
        return twin
    plan = hierarchy.resolve_parent(connection, replica, twin, plan, deps=deps)
    plan = fields_apply.prepare(connection, plan, deps=deps)
    # a first sync that stopped after creating the issue (a 429, a crash) still answers
    # with the link-back when it is retried, or the other end never learns its twin
    first_sync = twin is None or (not link and not twin.last_applied_version)
    if twin is None:
        twin = _create_twin(connection, replica, plan, deps=deps)
        held.enter_context(holding_new(twin))
    else:
        _write_fields(twin, plan, held=held if take else None, deps=deps)
    problems = _apply_status(twin, plan.status, deps=deps)
    state = merge.after_write(merged.state, _written(plan, status_set=not problems))
    if plan.fields is not None and plan.fields.custom:
        state = merge.unknown_local(state, ["fields"])  # a script decides their replica form
    maps = Maps(twin)
    try:
        state, missed = _apply_items(
            connection, twin, replica, plan, state, maps=maps, deps=deps, retry=retry
        )
        problems += missed
        _finish(
            connection,
            twin,
            replica,
            plan,
            problems,
            state=state,
            conflicts=merged.conflicts,
            first_sync=first_sync,
            # nothing after the record writes the registers: the lease ends with it
            last=not first_sync and not merged.send_back,
            maps=maps,
            deps=deps,
        )
    except Exception:
        maps.save()  # what was written is recorded: a retry neither repeats nor loses it
        raise
    if link and not first_sync:  # a link learns its remote key: its children go on
        hierarchy.released(connection, twin, deps=deps)
    if merged.send_back and not first_sync:
        # a rule kept our value in a conflict: the other end learns it as a later edit
        try:
            send_replica(deps.tracker.get_issue(twin.local_key), twin, deps=deps, force=True)
        except TrackerError as exc:  # the next ingest of this issue sends it
            log.warning("kept value of %s not sent back yet: %s", twin.local_key, exc)
    return twin


def _write_fields(twin: TwinModel, plan: Plan, *, held: ExitStack | None, deps: SyncDeps) -> None:
    """Write the plan's fields, what it expects to write saved first (:func:`_expectations`);
    ``held``: the twin is as read and not held yet, and its hold takes the same write
    (:func:`holding_as_read`), kept until ``held`` closes."""
    expected = _expectations(twin, plan)
    if held is not None:
        held.enter_context(holding_as_read(twin, expected))
    elif expected:
        twin.update(actions=expected)
    if plan.fields is not None:
        deps.tracker.update_issue(twin.local_key, plan.fields)


def _apply_items(
    connection: ConnectionModel,
    twin: TwinModel,
    replica: Replica,
    plan: Plan,
    state: merge.State,
    *,
    maps: Maps,
    deps: SyncDeps,
    retry: bool,
) -> tuple[merge.State, list[str]]:
    """After the fields and the status: comments, attachments, people, relations. The
    registers as written, and what could not be done."""
    problems = _apply_comments(
        twin,
        plan.comments,
        maps.comments,
        deps=deps,
        heal=retry,
        visibility=private_visibility(connection),
    )
    problems += _apply_attachments(
        connection, twin, replica, plan.attachments, maps.attachments, deps=deps, heal=retry
    )
    instead = fields_apply.apply_people(connection, twin, plan, deps=deps)
    if instead:  # the tracker refused a user and the fallback took its place
        state = merge.after_write(state, instead)
    problems += relations_apply.apply(connection, twin, replica, plan, deps=deps, heal=retry)
    return state, problems


class Maps:
    """The twin's comment and attachment maps (remote id → ours) as this apply changes
    them: saved with its record (:func:`_finish`: no write of their own, issue 19), or by
    :meth:`save` when the apply stops before it (an exception: what was written is
    recorded). A crash in between (the function stopped) leaves comments and attachments
    of ours without a map: the retry heals them (``heal``: it finds ours among the issue's
    by text, by file name and size) instead of writing them again."""

    def __init__(self, twin: TwinModel) -> None:
        self.twin = twin
        self.comments: dict[str, Any] = dict(twin.comment_map or {})
        self.attachments: dict[str, Any] = dict(twin.attachment_map or {})
        self._saved = (dict(self.comments), dict(self.attachments))

    def actions(self) -> list[Action]:
        """The twin update that saves what changed since the last save (none: [])."""
        comments, attachments = self._saved
        return [
            *([TwinModel.comment_map.set(self.comments)] if self.comments != comments else []),
            *(
                [TwinModel.attachment_map.set(self.attachments)]
                if self.attachments != attachments
                else []
            ),
        ]

    def saved(self) -> None:
        """:meth:`actions` were written (with another update)."""
        self._saved = (dict(self.comments), dict(self.attachments))

    def save(self) -> None:
        """Save what changed, when the apply stops before its record; never raises (the
        retry heals what a failed save leaves unmapped) nor re-creates a deleted twin."""
        actions = self.actions()
        if not actions:
            return
        try:
            self.twin.update(actions=actions, condition=TwinModel.local_key.exists())
        except UpdateError as exc:
            log.warning("maps of %s not saved, the retry heals them: %s", self.twin.local_key, exc)
            return
        self.saved()


def _expectations(twin: TwinModel, plan: Plan) -> list[Action]:
    """The twin update that remembers, before the fields are written, what this apply
    writes (the registers' ``local``, nothing else); none when it writes no field.

    A write that lands without its record (its answer lost, the worker stopped before
    :func:`_finish`) is then ours when read back, by the sweep or by the retry's look.
    Taken for an edit made here, it was stamped with the time of our write and beat the
    other side's next edit of that field on both ends. If the write did not land, the
    tracker still shows the register's value: no edit either. Saved alone, or with the
    twin's hold (:func:`holding_as_read`)."""
    written = _written(plan, status_set=True)
    custom = plan.fields is not None and bool(plan.fields.custom)
    if not written and not custom:
        return []
    state = merge.after_write(merge.load(twin.merge_state), written)
    if custom:
        state = merge.unknown_local(state, ["fields"])
    return [TwinModel.merge_state.set(merge.dump(state))]


def _writes_unseen(
    connection: ConnectionModel, merged: merge.MergeResult, *, deps: SyncDeps
) -> bool:
    """Whether everything the merge writes is written without a look (:func:`_look_first`)."""
    return connection.mode == "basic" and recovery.can_write_unseen(
        merged.write, deps.tracker.body_format
    )


def _look_first(
    connection: ConnectionModel,
    replica: Replica,
    twin: TwinModel,
    merged: merge.MergeResult,
    *,
    held: ExitStack,
    take: bool,
    deps: SyncDeps,
) -> tuple[merge.MergeResult, bool]:
    """Before writing a field, look at the issue: an edit made here that ingest has not
    read yet (its webhook late or lost) is taken in first, sent, and merged with the
    incoming value instead of being overwritten by it (one read per apply that writes).
    With ``take`` (the twin as read, not held yet) it is held before the look, whose send
    writes the registers; the second value says whether it is still to be held.

    Issue 19: not for the fields whose overwritten edit the changelog gives back exactly
    (Basic's summary, type, a wiki description): those are written unseen, and the next
    read of the issue finds such an edit and decides it (:mod:`chalicelib.sync.recovery`),
    so a field change costs one read where it was made and one write here."""
    if _writes_unseen(connection, merged, deps=deps):
        return merged, take
    if take:
        held.enter_context(holding_as_read(twin))
    if send_replica(deps.tracker.get_issue(twin.local_key), twin, deps=deps):
        return _merge(connection, replica, twin, baseline=False), False
    return merged, False


def _merge(
    connection: ConnectionModel,
    replica: Replica,
    twin: TwinModel | None,
    *,
    baseline: bool,
) -> merge.MergeResult:
    return merge.merge_remote(
        merge.load(twin.merge_state) if twin is not None else {},
        replica.payload,
        fallback_origin=peer_origin(connection, replica.connection_id),
        baseline=baseline,
        previous=twin.last_applied_replica if twin is not None else None,
        repair=replica.repair if twin is not None else (),
        prefer=conflict_preferences(connection),
    )


def conflict_preferences(connection: ConnectionModel) -> dict[str, str]:
    """Field → the side whose value a conflict keeps: Visual's ``on_conflict: keep`` (both
    ends hold it), Script mode's ``conflict_rules`` (this end's own)."""
    if connection.mode == "visual":
        from chalicelib.rules import mapping_document  # Visual mode's (cold start: issue 19)

        return mapping_document.conflict_preferences(connection.mappings)
    if connection.mode == "script":
        return {name: "local" for name in connection.conflict_rules or {}}
    return {}


def send_replica(issue: Issue, twin: TwinModel, *, deps: SyncDeps, force: bool = False) -> bool:
    """:func:`chalicelib.sync.outgoing.send_replica`, imported on its first use: a field
    written unseen sends nothing, so a first apply need not load the outgoing path (its
    merge with the outbox, the delivery and the peer client; cold start, issue 19)."""
    from chalicelib.sync.outgoing import send_replica as send

    return send(issue, twin, deps=deps, force=force)


def _written(plan: Plan, *, status_set: bool) -> dict[str, Any]:
    """What the plan wrote, in replica form (as our outgoing rules show those fields)."""
    written: dict[str, Any] = {}
    fields = plan.fields
    if fields is not None:
        if fields.summary is not None:
            written["summary"] = fields.summary
        if fields.description is not None:
            written["description"] = body_json(fields.description)
        if fields.issue_type is not None:
            written["type"] = {"name": fields.issue_type}
        if fields.labels is not None:
            written["labels"] = list(fields.labels)
        if fields.priority is not None:
            written["priority"] = {"name": fields.priority}
        if fields.parent is not None:  # our key of the parent ("" removed it)
            written["parent"] = {"key": fields.parent} if fields.parent else None
    # issue 18: components, versions, due date, environment, resolution, people
    written.update(fields_apply.written(plan, status_set=status_set))
    if plan.status and status_set:
        written["status"] = {"name": plan.status}
    return written


def _create_twin(
    connection: ConnectionModel, replica: Replica, plan: Plan, *, deps: SyncDeps
) -> TwinModel:
    remote_key = replica.key
    marker = {"connection_id": connection.id, "remote_key": remote_key}
    fields = plan.fields or IssueFields(summary=replica.summary or remote_key)
    local_key = None
    key = claim_key(connection.id, remote_key)
    if not claim(key, value=claim_value(remote_key, utcnow())):
        # an earlier attempt got this far: did it create the issue before it stopped?
        found = deps.tracker.find_issues_with_property(
            connection.incoming_project, PROPERTY, marker
        )
        if found:
            local_key = found[0]
            deps.tracker.update_issue(local_key, fields)
        elif claimed_within(get_key(key), deps.search_settle, utcnow()):
            # Jira's search lags behind its writes: the issue may exist and not show yet
            raise RetryLater(
                f"{remote_key}: an earlier attempt may have created its twin, which Jira's "
                "search does not show yet; looking again later",
                delay=5,
            )
    if local_key is None:
        deps.hook("before_create", connection_id=connection.id)
        try:
            ref = deps.tracker.create_issue(
                connection.incoming_project,
                IssueFields(
                    summary=fields.summary,
                    description=fields.description,
                    issue_type=fields.issue_type,
                    labels=fields.labels,
                    priority=fields.priority,
                    custom=fields.custom,
                    properties={**fields.properties, PROPERTY: marker},
                    parent=fields.parent,
                    components=fields.components,
                    fix_versions=fields.fix_versions,
                    versions=fields.versions,
                    due_date=fields.due_date,
                    environment=fields.environment,
                    resolution=fields.resolution,
                ),
            )
        except TrackerError as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                # Jira refused it: nothing was created, a retry need not wait for search
                set_key(key, remote_key)
            raise
        local_key = ref.key
        deps.hook("after_create", connection_id=connection.id, key=local_key)
    twin = TwinModel(
        connection_id=connection.id,
        local_key=local_key,
        remote_key=remote_key,
        remote_url=replica.url,
        status="queued",
        lease_until=new_lease(),  # held by this apply (holding_new) until it finishes
    )
    if not create_twin(twin):  # the same replica applied at the same time: it made the twin
        raise TwinBusy(f"{local_key} was just recorded by another apply; retrying")
    return twin


def claim_value(remote_key: str, now: datetime) -> str:
    """A twin claim's value: the remote key and when the claim was made."""
    return f"{remote_key} {now.isoformat()}"


def claimed_within(item: KeyModel | None, window: timedelta, now: datetime) -> bool:
    """Whether a claim was made less than ``window`` ago (a claim without a time, from
    before claims carried one, counts as old)."""
    stamp = (item.value or "").rpartition(" ")[2] if item is not None else ""
    try:
        made = datetime.fromisoformat(stamp)
    except ValueError:
        return False
    return now - made < window


def _apply_status(twin: TwinModel, status: str | None, *, deps: SyncDeps) -> list[str]:
    """Move the twin to ``status`` through a transition; a problem to show when none leads
    there (or Jira refuses the one that does, e.g. a screen with required fields)."""
    if not status:
        return []
    try:
        if deps.tracker.transition_issue(twin.local_key, status):
            return []
        why = "no workflow transition leads there from the issue's current status"
    except InvalidRequest as exc:
        why = f"Jira refused the transition: {exc.message}"
    return [f"Status '{status}' was not set on {twin.local_key}: {why}. Everything else synced."]


def _text(body: Body | None) -> str:
    if body is None:
        return ""
    if body.format == "adf":
        from chalicelib.trackers.formats import adf_to_text

        return " ".join(adf_to_text(body.value).split())
    return " ".join(str(body.value or "").split())


def _unmapped_own_comments(
    twin: TwinModel, mapping: dict[str, Any], *, deps: SyncDeps
) -> dict[str, list[str]]:
    """On a retry: comments we wrote whose creation was not recorded (a crash in between),
    by text (oldest first: one apply can write the same text twice), so the retry maps
    them instead of writing them twice."""
    known = {str(v.get("local_id")) for v in mapping.values() if isinstance(v, dict)}
    ours = deps.integration_user_id()
    found: dict[str, list[str]] = {}
    for comment in deps.tracker.get_issue(twin.local_key).comments:
        if comment.author.id == ours and comment.id not in known:
            found.setdefault(_text(comment.body), []).append(comment.id)
    return found


def _apply_comments(
    twin: TwinModel,
    ops: tuple[CommentOp, ...],
    mapping: dict[str, Any],
    *,
    deps: SyncDeps,
    heal: bool = False,
    visibility: CommentVisibility | None = None,
) -> list[str]:
    """Write the planned comment operations, ``mapping`` (the twin's comment map, saved
    by the caller: :class:`Maps`) following each; internal ones are restricted to
    ``visibility`` (the connection's ``private_comment_visibility``)."""
    orphans = (
        _unmapped_own_comments(twin, mapping, deps=deps)
        if heal and any(op.action == "create" for op in ops)
        else {}
    )
    for op in ops:
        if op.action == "create" and op.body is not None:
            local_id = _healed(orphans, _text(op.body))
            if local_id is None:
                local_id = deps.tracker.add_comment(
                    twin.local_key, op.body, public=op.public, visibility=visibility
                ).id
                deps.hook("after_comment", key=twin.local_key, comment_id=local_id)
            mapping[op.remote_id] = {"local_id": local_id, "hash": op.body_hash or ""}
        elif op.action == "update" and op.body is not None and op.local_id:
            try:
                deps.tracker.update_comment(twin.local_key, op.local_id, op.body)
            except NotFound:  # deleted here meanwhile: bring it back
                comment = deps.tracker.add_comment(
                    twin.local_key, op.body, public=op.public, visibility=visibility
                )
                op = CommentOp("update", op.remote_id, local_id=comment.id, body_hash=op.body_hash)
            mapping[op.remote_id] = {"local_id": op.local_id, "hash": op.body_hash or ""}
        elif op.action == "delete":
            if op.local_id:
                with contextlib.suppress(NotFound):  # already gone here: fine
                    deps.tracker.delete_comment(twin.local_key, op.local_id)
            mapping.pop(op.remote_id, None)
    return []


def _healed(orphans: dict[Any, list[str]], found_by: Any) -> str | None:
    """The oldest of ours found by ``found_by`` and not mapped yet (taken), or None."""
    ids = orphans.get(found_by)
    return ids.pop(0) if ids else None


def fetch_attachment(
    connection: ConnectionModel, replica: Replica, remote_id: str, *, deps: SyncDeps
) -> bytes:
    """The bytes of a remote attachment: pushed to us by a private peer, or fetched."""
    data = deps.blobs.get(incoming_key(connection.id, remote_id))
    if data is not None:
        return data
    if is_local(connection):
        data = deps.blobs.get(outgoing_key(replica.connection_id, remote_id))
        if data is None:
            raise RetryLater(f"attachment {remote_id} is not uploaded yet")
        return data
    if not connection.remote_public:
        raise RetryLater(f"attachment {remote_id} not received from the private peer yet")
    path = (
        f"/node/v1/connections/{quote(connection.id, safe='')}/attachments/"
        f"{quote(remote_id, safe='')}"
    )
    try:
        offer = deps.peer.call(peer_end(connection), "GET", path)
        url = offer.get("url") if isinstance(offer, dict) else None
        if not url:
            raise RetryLater(f"the peer has no bytes for attachment {remote_id} yet")
        response = (deps.blob_fetch or deps.fetch)("GET", url)
    except (OutboundError, PeerRefused) as exc:
        raise RetryLater(f"attachment {remote_id}: {exc}") from exc
    if response.status != 200:
        raise RetryLater(f"attachment {remote_id}: download answered {response.status}")
    return response.body


def _unmapped_own_attachments(
    twin: TwinModel, mapping: dict[str, Any], *, deps: SyncDeps
) -> dict[tuple[str, int], list[str]]:
    """On a retry: attachments we uploaded whose upload was not recorded (a crash, or an
    answer lost after the upload landed), by file name and size (oldest first), so the
    retry maps them instead of uploading them twice."""
    known = {str(v) for v in mapping.values()}
    ours = deps.integration_user_id()
    found: dict[tuple[str, int], list[str]] = {}
    for attachment in deps.tracker.get_issue(twin.local_key).attachments:
        if attachment.author and attachment.author.id == ours and attachment.id not in known:
            found.setdefault((attachment.filename, int(attachment.size)), []).append(attachment.id)
    return found


def _apply_attachments(
    connection: ConnectionModel,
    twin: TwinModel,
    replica: Replica,
    ops: tuple[AttachmentOp, ...],
    mapping: dict[str, Any],
    *,
    deps: SyncDeps,
    heal: bool = False,
) -> list[str]:
    """Upload the planned attachments, ``mapping`` (the twin's attachment map, saved by
    the caller: :class:`Maps`) following each."""
    problems: list[str] = []
    limit = deps.tracker.attachment_limit
    orphans = _unmapped_own_attachments(twin, mapping, deps=deps) if heal and ops else {}
    for op in ops:
        if limit is not None and op.size > limit:
            problems.append(_too_large(op, limit))
            mapping[op.remote_id] = "skipped:too_large"
            continue
        healed = _healed(orphans, (op.filename, op.size))
        if healed is not None:
            mapping[op.remote_id] = healed
            continue
        data = fetch_attachment(connection, replica, op.remote_id, deps=deps)
        if op.sha256 and hashlib.sha256(data).hexdigest() != op.sha256:
            raise RetryLater(f"attachment {op.filename}: checksum mismatch, fetching again")
        try:
            attachment = deps.tracker.upload_attachment(
                twin.local_key, op.filename, data, op.mime_type
            )
        except TooLarge as exc:
            problems.append(_too_large(op, exc.limit))
            mapping[op.remote_id] = "skipped:too_large"
        else:
            deps.hook("after_attachment", key=twin.local_key, attachment_id=attachment.id)
            mapping[op.remote_id] = attachment.id
            if attachment.size and attachment.size != len(data):  # a 2xx is not proof
                problems.append(
                    f"Attachment '{op.filename}': the tracker kept {attachment.size} of "
                    f"{len(data)} bytes. Everything else synced."
                )
    return problems


def _count_applied(replica: Replica, *, measure: bool) -> None:
    """A change synced into this tracker; with ``measure``, how long since it was made in
    the other one (an issue's first sync carries no fresh edit: its age is no latency)."""
    metrics.add(metrics.CHANGES_SYNCED)
    edited = utc_time(replica.updated or "") if measure else None
    if edited:
        elapsed = (utcnow() - datetime.fromisoformat(edited)).total_seconds()
        metrics.add(metrics.SYNC_LATENCY, max(0.0, elapsed) * 1000)


def _too_large(op: AttachmentOp, limit: int | None) -> str:
    shown = f"{limit} bytes" if limit else "its limit"
    return (
        f"Attachment '{op.filename}' ({op.size} bytes) is over this tracker's attachment "
        f"limit ({shown}); it was not copied. Everything else synced."
    )


def _finish(
    connection: ConnectionModel,
    twin: TwinModel,
    replica: Replica,
    plan: Plan,
    problems: list[str],
    *,
    state: merge.State,
    conflicts: tuple[merge.Conflict, ...],
    first_sync: bool,
    last: bool = False,
    maps: Maps | None = None,
    deps: SyncDeps,
) -> None:
    """Record what was applied: the registers as written (never a later read, which could
    hold an edit made meanwhile), the conflicts decided, the twin's status, the comment
    and attachment ``maps``. ``last``: this apply writes the twin no more, and its lease
    ends with this record (one write less)."""
    decided = conflict_records(conflicts, version=replica.version)
    wire = replica.to_wire()
    actions: list[Action] = [
        TwinModel.last_applied_version.set(replica.version),
        TwinModel.merge_state.set(merge.dump(state)),
        # ``previous`` of the next incoming script run (not kept when very large)
        set_or_remove(TwinModel.last_applied_replica, wire if len(dumps(wire)) <= 64_000 else None),
        TwinModel.remote_key.set(replica.key),  # a link learns it here, with status
        set_or_remove(TwinModel.remote_url, replica.url),
        TwinModel.status.set("error" if problems else "synced"),
        set_or_remove(TwinModel.error, "; ".join(problems) if problems else None),
        TwinModel.last_synced_at.set(utcnow()),
    ]
    if decided:
        actions.append(keeping_conflicts(twin, decided))
    if link_back.wanted(twin, replica.key, replica.url) and link_back.place(
        connection, twin, replica.key, replica.url or "", deps=deps
    ):
        actions.append(TwinModel.linked_back.set(replica.key))
    if maps is not None:
        actions += maps.actions()
    if last:
        update_ending_lease(twin, actions)
    else:
        twin.update(actions=actions)
    if maps is not None:
        maps.saved()
    if first_sync:
        hierarchy.released(connection, twin, deps=deps)
        # tell the other end which issue is its twin (and what it looks like here)
        try:
            issue = deps.tracker.get_issue(twin.local_key)
        except TrackerError:
            issue = None  # the next ingest of this issue sends it
        if issue is not None:
            send_replica(issue, twin, deps=deps, force=True)
    if not problems and plan.changes():
        _count_applied(replica, measure=not first_sync)
    record_transaction(
        connection.id,
        twin.local_key,
        direction="incoming",
        changes=plan.changes(),
        outcome="error" if problems else "applied",
        version=replica.version,
        error="; ".join(problems) or None,
        conflicts=decided,
    )
