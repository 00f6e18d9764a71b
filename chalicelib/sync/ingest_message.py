"""The queue message of an ingest (a hint that an issue changed) and its sending.

Apart from :mod:`chalicelib.sync.messages` (which re-exports both) so that a webhook's
intake queues a hint without importing the replica messages or ingest's implementation
(issue 19, cold start).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from chalicelib.store.namespaces import ingest_group

# A signed webhook's accepted window (intake), and how long a body claimed by ingest is
# remembered (chalicelib.sync.hook_guard): here, where both read them, so that intake
# loads nothing of the guard
MAX_AGE = timedelta(days=2)  # a signed delivery older than this is a replay (Jira retries
# for about 30 minutes)
CLOCK_SKEW = timedelta(minutes=15)  # how far ahead of ours Jira's clock may be
BODY_SEEN_FOR = MAX_AGE + 2 * CLOCK_SKEW  # outlives the window of any accepted timestamp

if TYPE_CHECKING:
    from chalicelib.sync.services import SyncDeps
    from chalicelib.trackers.changes import ChangeEvent


def _body_str(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    return None if value is None else str(value)


def _body_int(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)


class IngestMessage(msgspec.Struct, frozen=True):
    """A hint that an issue changed (webhook, reconcile sweep, "sync this issue", a job):
    ingest re-reads the issue."""

    issue_key: str | None
    source: str
    issue_id: str | None = None
    kind: str = "issue_updated"
    author_id: str | None = None
    delivery_id: str | None = None
    connection_id: str | None = None
    # a webhook's: its timestamp (ms; capped at our clock when unsigned) and the key its
    # body is claimed under when no twin can remember it (chalicelib.sync.hook_guard)
    event_at: int | None = None
    replay_claim: str | None = None

    @classmethod
    def from_event(
        cls,
        event: ChangeEvent,
        *,
        source: str = "webhook",
        event_at: int | None = None,
        replay_claim: str | None = None,
    ) -> IngestMessage:
        return cls(
            event.issue_key,
            source=source,
            issue_id=event.issue_id,
            kind=event.kind,
            author_id=event.author_id,
            delivery_id=event.delivery_id,
            event_at=event_at,
            replay_claim=replay_claim,
        )

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> IngestMessage:
        return cls(
            _body_str(body, "issue_key"),
            source=str(body.get("source") or ""),
            issue_id=_body_str(body, "issue_id"),
            kind=str(body.get("kind") or ""),
            author_id=_body_str(body, "author_id"),
            delivery_id=_body_str(body, "delivery_id"),
            connection_id=_body_str(body, "connection_id"),
            event_at=_body_int(body, "event_at"),
            replay_claim=_body_str(body, "replay_claim"),
        )

    def to_body(self) -> dict[str, Any]:
        return {
            "issue_key": self.issue_key,
            "issue_id": self.issue_id,
            "kind": self.kind,
            "author_id": self.author_id,
            "delivery_id": self.delivery_id,
            "source": self.source,
            "connection_id": self.connection_id,
            **({"event_at": self.event_at} if self.event_at is not None else {}),
            **({"replay_claim": self.replay_claim} if self.replay_claim else {}),
        }

    @property
    def ref(self) -> str | None:
        """The issue to read: its key, else its id (comment events on Jira Server)."""
        return self.issue_key or self.issue_id

    @property
    def group(self) -> str:
        return ingest_group(str(self.ref))


def enqueue_ingest(message: IngestMessage, *, deps: SyncDeps, dedup: str) -> None:
    """Queue ``message`` for ingest (its FIFO group: the issue)."""
    deps.enqueue(
        deps.settings.resources.ingest_queue_url,
        message.to_body(),
        group=message.group,
        dedup=dedup,
    )
