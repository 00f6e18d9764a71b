"""Live changes before catch-up work: two lanes, one order per twin (chalicelib.sync.lanes).

Catch-up work (a bulk job, the reconcile sweep) travels on queues of its own and its
replicas say so (``lane: catch_up``); the receiver applies them from its catch-up apply
queue. The lanes run side by side, so a catch-up replica may arrive after a newer live
one of the same twin: it must change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from msgspec.structs import replace

from chalicelib.root import build_sync, root
from chalicelib.rules import basic
from chalicelib.rules.replica import stamp
from chalicelib.store.models import ConnectionModel, EntryModel
from chalicelib.store.namespaces import outbox_pk
from chalicelib.sync import lanes
from chalicelib.sync.apply import handle_apply
from chalicelib.sync.inbox import accept
from chalicelib.sync.ingest import handle_ingest
from chalicelib.sync.messages import IngestMessage, parse_incoming
from chalicelib.sync.store import twin_by_remote
from chalicelib.trackers.base import IssueFields
from tests.factories import issue, project
from tests.factories.connections import saved_connection
from tests.factories.memory_tracker import MemoryTracker
from tests.factories.sqs import queue_message


class Sent:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def __call__(self, url, body, *, group_id, dedup_id, region):
        self.messages.append({"url": url, "body": body, "group": group_id})


@dataclass
class Env:
    tracker: MemoryTracker
    sent: Sent
    deps: Any
    connection: ConnectionModel

    @property
    def queues(self) -> Any:
        return self.deps.settings.resources

    def receive(self, wire: dict[str, Any]) -> list[Any]:
        """The other end pushes ``wire``: the apply messages it queued, with their queue."""
        self.sent.messages.clear()
        accept(self.connection, [parse_incoming(wire)], deps=self.deps)
        return [
            (m["url"], queue_message(m["body"], group=m["group"], queue="apply.fifo"))
            for m in self.sent.messages
            if m["url"] in (self.queues.apply_queue_url, self.queues.apply_catchup_queue_url)
        ]

    def apply(self, queued: list[Any]) -> None:
        for _, message in queued:
            handle_apply(message, deps=self.deps)


@pytest.fixture
def env(node):
    tracker = MemoryTracker(projects=[project("OPS", ("Task", "Bug"), "Task")])
    sent = Sent()
    deps = build_sync(root().settings, tracker=tracker, send=sent, fetch=lambda *a, **k: None)
    return Env(tracker, sent, deps, saved_connection("conn-1"))


def replica(version: int, *, lane: str | None = None, **kw: Any) -> dict[str, Any]:
    wire = stamp(
        basic.outgoing(
            issue(**kw), connection_id="conn-1", integration_user_id="nobody", attachment_sha={}
        ),
        version=version,
    )
    if lane is not None:
        wire["lane"] = lane
    return wire


def test_a_catch_up_replica_waits_in_the_catch_up_apply_queue_and_others_are_live(env):
    ((bulk_url, _),) = env.receive(replica(1, lane="catch_up", key="ALPHA-1"))
    ((live_url, _),) = env.receive(replica(1, key="ALPHA-2"))  # a peer from before lanes
    ((odd_url, _),) = env.receive(replica(1, lane="express", key="ALPHA-3"))
    assert bulk_url == env.queues.apply_catchup_queue_url
    assert live_url == odd_url == env.queues.apply_queue_url


def test_a_stale_catch_up_replica_never_overwrites_a_newer_live_one(env):
    # the job's first sync (version 1) waits in the catch-up lane while a person's edit
    # (version 2) overtakes it in the live lane: the live one creates the twin
    bulk = env.receive(replica(1, lane="catch_up", summary="as the job read it"))
    live = env.receive(replica(2, summary="edited by Alice"))
    env.apply(live)
    env.apply(bulk)
    (local,) = env.tracker.issues.values()
    assert local.summary == "edited by Alice"
    twin = twin_by_remote("conn-1", "ALPHA-1")
    assert twin.last_applied_version == 2
    # and once synced: a catch-up replica older than the live one applied changes nothing
    later_bulk = env.receive(replica(3, lane="catch_up", summary="the sweep's read"))
    newer_live = env.receive(replica(4, summary="edited again"))
    env.apply(newer_live)
    env.apply(later_bulk)
    assert env.tracker.issues[local.key].summary == "edited again"
    assert twin_by_remote("conn-1", "ALPHA-1").last_applied_version == 4
    assert len(env.tracker.issues) == 1


def test_what_catch_up_work_sends_stays_in_its_lane_and_says_so(env):
    env.apply(env.receive(replica(1)))  # first sync: OPS-1 and its twin
    (key,) = env.tracker.issues
    env.tracker.update_issue(key, IssueFields(summary="renamed before the sweep"))
    env.sent.messages.clear()
    with lanes.working(lanes.CATCH_UP):  # the reconcile sweep finds the change
        ingest(env, key, "reconcile")
    deliver = [m for m in env.sent.messages if "local_key" in m["body"]]
    assert [m["url"] for m in deliver] == [env.queues.deliver_catchup_queue_url]
    newest = max(EntryModel.query(outbox_pk("conn-1")), key=lambda e: int(e.seq))
    assert newest.replica["summary"] == "renamed before the sweep"
    assert newest.replica["lane"] == "catch_up"
    # a person's edit is live: live queue, no marker
    env.tracker.update_issue(key, IssueFields(summary="renamed by Alice"))
    env.sent.messages.clear()
    ingest(env, key, "webhook")
    deliver = [m for m in env.sent.messages if "local_key" in m["body"]]
    assert [m["url"] for m in deliver] == [env.queues.deliver_queue_url]
    newest = max(EntryModel.query(outbox_pk("conn-1")), key=lambda e: int(e.seq))
    assert newest.replica["summary"] == "renamed by Alice" and "lane" not in newest.replica


def test_a_read_older_than_the_one_sent_is_not_sent_after_it(env):
    """A job's ingest and a webhook read the same issue at once: the older read loses."""
    env.apply(env.receive(replica(1)))
    (key,) = env.tracker.issues
    env.tracker.update_issue(key, IssueFields(summary="first edit"))
    stale = env.tracker.get_issue(key)  # the catch-up lane read this ...
    env.tracker.update_issue(key, IssueFields(summary="second edit"))
    ingest(env, key, "webhook")  # ... the live lane read and sent the newer state first
    sent_before = len(list(EntryModel.query(outbox_pk("conn-1"))))
    env.tracker.issues[key] = stale  # the catch-up lane's tracker read, replayed
    ingest(env, key, "job")
    env.tracker.issues[key] = replace(stale, summary="second edit")
    entries = list(EntryModel.query(outbox_pk("conn-1")))
    assert len(entries) == sent_before
    assert max(entries, key=lambda e: int(e.seq)).replica["summary"] == "second edit"


def ingest(env: Env, key: str, source: str) -> None:
    body = IngestMessage(key, source=source).to_body()
    handle_ingest(queue_message(body, group=f"issue#{key}"), deps=env.deps)
