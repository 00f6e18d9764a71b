"""A webhook's replay guard, kept on the twins it is about (issue 19; ADR 0012).

A captured Jira Cloud delivery (body and signature) can be sent again under a fresh
delivery id for as long as its signed timestamp is accepted (two days,
:mod:`chalicelib.sync.intake`), and Jira retries a delivery it thinks failed. A copy must
cost no tracker read. Each twin remembers ``webhook_seen``: the timestamp of the newest
delivery whose issue this end has read since. A webhook only says "this issue changed at
``timestamp``", and a read made after that delivery arrived shows that change (and every
earlier one). So a hint whose timestamp is not newer than every one of the issue's
twins' ``webhook_seen`` has nothing to show: ingest drops it before reading. This covers
a replay and a late or retried delivery, too.

The mark rides on the twin's update the send makes anyway (:class:`Mark`), so a synced
change costs no write for its guard; until issue 19 intake put the body's hash for every
delivery. Only a read that writes nothing to the twin (a change to something this
connection does not sync) makes the mark's own small update.

An issue with no twin (yet), or a delivery without a timestamp, has nothing to compare:
its hint claims the body's hash instead (one conditional put, ``hook-body#...``). A twin
made later has no mark: a replay of a body from before it costs one read, then the mark
stops the next.

An unsigned delivery's (Jira Server) timestamp is whatever the sender wrote: intake caps
it at our clock, so a forged one from the future cannot make the twins drop the real
deliveries that follow.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from chalicelib.store.models import TwinModel
from chalicelib.sync.ingest_message import BODY_SEEN_FOR, IngestMessage
from chalicelib.sync.store import claim, condition_failed

log = logging.getLogger("twinsync.hook_guard")


def is_news(hint: IngestMessage, twins: Sequence[TwinModel]) -> bool:
    """Should ingest read the issue for ``hint``? False for a webhook's that every twin
    of its issue has read past, or (no twin, no timestamp) whose body was claimed before.
    Any other hint (the sweep's, a job's, "sync this issue") is read."""
    if not hint.replay_claim:
        return True  # not a webhook's
    at = hint.event_at
    if at is not None and twins:
        return any(twin.webhook_seen is None or twin.webhook_seen < at for twin in twins)
    return claim(hint.replay_claim, "queued", ttl=BODY_SEEN_FOR)


class Mark:
    """The mark of one twin's read for a webhook's delivery: set by the send's last update
    of the twin (:meth:`ride`), or by :meth:`write` when the send updated nothing."""

    def __init__(self, twin: TwinModel, event_at: int | None) -> None:
        self.twin = twin
        newer = event_at is not None and (twin.webhook_seen is None or twin.webhook_seen < event_at)
        self.event_at = event_at if newer else None

    def ride(self, actions: list[Action]) -> list[Action]:
        """``actions`` and the mark, for an update of the twin; :meth:`carried` once it is
        written (an update that fails leaves the mark to the next, or to :meth:`write`)."""
        seen = self.twin.webhook_seen  # (as the lease's update returned it, when held)
        if self.event_at is None or (seen is not None and seen >= self.event_at):
            return actions
        return [*actions, TwinModel.webhook_seen.set(self.event_at)]

    def carried(self) -> None:
        self.event_at = None

    def write(self) -> None:
        """The mark's own update, when no update carried it: only ever moves it forward."""
        if self.event_at is None:
            return
        at, self.event_at = self.event_at, None
        try:
            self.twin.update(
                actions=[TwinModel.webhook_seen.set(at)],
                condition=TwinModel.local_key.exists()
                & (TwinModel.webhook_seen.does_not_exist() | (TwinModel.webhook_seen < at)),
            )
        except UpdateError as exc:
            if not condition_failed(exc):
                raise
            log.debug("twin %s read a newer delivery already", self.twin.local_key)
