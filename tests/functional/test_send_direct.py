"""A change goes to a public peer from ingest itself; the deliver queue is the retry path.

Issue 19: pushing the new outbox entry where it is made saves a queue message, a function
invocation and the deliver stage's reads; an entry the peer accepted is not saved at all
(ADR 0011). Whatever goes wrong (peer down, refusing, paused) the entry is kept pending
and queued for the deliver stage as before. A read that shows nothing to send takes no
lease.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from chalicelib.net.errors import PeerRefused, Unreachable
from chalicelib.net.peer import PeerEnd
from chalicelib.queues import QueueMessage
from chalicelib.root import build_sync, root
from chalicelib.store.models import ConnectionModel, EntryModel, TwinModel
from chalicelib.store.namespaces import outbox_pk
from chalicelib.sync import peer_contact
from chalicelib.sync.deliver import handle_deliver
from chalicelib.sync.ingest import handle_ingest
from chalicelib.sync.messages import IngestMessage
from chalicelib.sync.outgoing import send_replica
from chalicelib.trackers.base import IssueFields
from tests.factories.connections import saved_connection
from tests.factories.memory_tracker import MemoryTracker

CID = "conn-direct"


class Sent(list):
    def __call__(self, url, body, *, group_id, dedup_id, region):
        self.append((url, body))


class Peer:
    """The other end's node API: accepts every replica, or fails as told."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail: list[Exception] = []

    def call(self, end: PeerEnd, method: str, path: str, body: Any = None) -> dict[str, Any]:
        self.calls.append({"method": method, "path": path, "body": body})
        if self.fail:
            raise self.fail.pop(0)
        return {"accepted": [item["id"] for item in body["items"]]}


@pytest.fixture(autouse=True)
def _fresh_process(monkeypatch):
    from chalicelib.sync import deliver

    monkeypatch.setattr(deliver, "_queue_only_until", {})


@pytest.fixture
def sender(node):
    tracker = MemoryTracker.with_projects("OPS")
    sent, peer = Sent(), Peer()
    deps = build_sync(
        root().settings, tracker=tracker, send=sent, peer=peer, fetch=lambda *a, **k: None
    )
    ref = tracker.create_issue("OPS", IssueFields(summary="first"))
    TwinModel(connection_id=CID, local_key=ref.key, remote_key="X-1").save()
    return tracker, deps, sent, peer, ref.key


def send(tracker, deps, key) -> bool:
    (twin,) = [TwinModel.get(CID, key, consistent_read=True)]
    return send_replica(tracker.get_issue(key), twin, deps=deps)


def outbox() -> list[EntryModel]:
    return list(EntryModel.query(outbox_pk(CID), consistent_read=True))


@contextmanager
def dynamodb_requests() -> Iterator[list[tuple[str, str]]]:
    """(operation, table) of every DynamoDB request made meanwhile (PynamoDB's signal)."""
    from pynamodb.signals import pre_dynamodb_send

    made: list[tuple[str, str]] = []

    def record(_sender, operation_name, table_name, req_uuid):
        made.append((operation_name, table_name))

    pre_dynamodb_send.connect(record)
    try:
        yield made
    finally:
        pre_dynamodb_send.disconnect(record)


def writes(requests: list[tuple[str, str]]) -> list[str]:
    """The writes among ``requests``, as "operation table-suffix"."""
    kinds = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
    return [f"{op} {table.rsplit('-', 1)[-1]}" for op, table in requests if op in kinds]


def deliver_messages(sent) -> list[dict[str, Any]]:
    url = root().settings.resources.deliver_queue_url
    return [body for queue, body in sent if queue == url]


def test_a_change_is_pushed_at_once_and_its_entry_not_saved(sender):
    """Issue 19: the peer accepted it, so nothing is left to deliver or to pull: the
    entry is not saved (ADR 0011), only the twin's registers and the history record."""
    tracker, deps, sent, peer, key = sender
    saved_connection(CID, remote_public=True, remote_url="https://peer.test")
    assert send(tracker, deps, key) is True
    assert [c["path"] for c in peer.calls] == [f"/node/v1/connections/{CID}/replicas"]
    assert deliver_messages(sent) == []
    assert outbox() == []
    assert TwinModel.get(CID, key).last_sent_version == 1
    assert peer_contact.contact(CID).reachable is True


def test_a_peer_that_does_not_answer_gets_it_through_the_deliver_queue(sender):
    tracker, deps, sent, peer, key = sender
    saved_connection(CID, remote_public=True, remote_url="https://peer.test")
    peer.fail.append(Unreachable("connection refused"))
    assert send(tracker, deps, key) is True
    (entry,) = outbox()
    assert entry.state == "pending"
    (message,) = deliver_messages(sent)
    assert peer_contact.contact(CID).reachable is False

    retry = QueueMessage("m1", "r1", message, CID, receive_count=2, queue_arn="arn:deliver")
    handle_deliver(retry, deps=deps)
    (entry,) = outbox()
    assert entry.state == "acked" and len(peer.calls) == 2
    assert peer_contact.contact(CID).reachable is True


def test_after_a_failure_the_next_changes_go_straight_to_the_queue(sender):
    """A peer that hangs costs one timeout per process, not one per record of a batch."""
    tracker, deps, sent, peer, key = sender
    saved_connection(CID, remote_public=True, remote_url="https://peer.test")
    peer.fail.append(Unreachable("read timed out"))
    send(tracker, deps, key)
    tracker.update_issue(key, IssueFields(summary="second"))
    send(tracker, deps, key)
    assert len(peer.calls) == 1 and len(deliver_messages(sent)) == 2


def test_a_refusal_keeps_the_entry_pending_and_queued(sender):
    tracker, deps, sent, peer, key = sender
    saved_connection(CID, remote_public=True, remote_url="https://peer.test")
    peer.fail.append(PeerRefused("busy", status=503, code="unavailable"))
    send(tracker, deps, key)
    (entry,) = outbox()
    assert entry.state == "pending" and len(deliver_messages(sent)) == 1


@pytest.mark.parametrize(
    "connection",
    [
        {"remote_public": True, "remote_url": "https://peer.test", "status": "error"},
        {"remote_public": False},  # the private peer pulls
    ],
    ids=["paused", "private peer"],
)
def test_no_push_from_ingest_to_a_paused_or_private_peer(sender, connection):
    tracker, deps, sent, peer, key = sender
    saved_connection(CID, **connection)
    send(tracker, deps, key)
    assert peer.calls == []
    (entry,) = outbox()
    assert entry.state == "pending" and len(deliver_messages(sent)) == 1


def test_a_look_at_an_issue_nobody_edited_writes_nothing(sender):
    """Issue 19: a read of the version last sent (a late webhook, the sweep) takes no
    lease: no DynamoDB write at all, nothing pushed."""
    tracker, deps, _sent, peer, key = sender
    saved_connection(CID, remote_public=True, remote_url="https://peer.test")
    send(tracker, deps, key)
    with dynamodb_requests() as requests:
        assert send(tracker, deps, key) is False
    assert writes(requests) == []
    assert len(peer.calls) == 1


def count_twin_updates(monkeypatch) -> list[Any]:
    updates: list[Any] = []
    original = TwinModel.update

    def counted(self, actions, *args, **kwargs):
        updates.append(actions)
        return original(self, actions, *args, **kwargs)

    monkeypatch.setattr(TwinModel, "update", counted)
    return updates


def test_a_send_ends_its_lease_with_the_registers_it_writes(sender, monkeypatch):
    """Issue 19: the lease taken for a send ends in the send's last update of the twin
    (two twin writes, not three), and the twin is free at once for an apply."""
    tracker, deps, _sent, _peer, key = sender
    saved_connection(CID, remote_public=True, remote_url="https://peer.test")
    updates = count_twin_updates(monkeypatch)
    assert send(tracker, deps, key) is True
    assert len(updates) == 2  # the lease taken; the registers written and the lease ended
    twin = TwinModel.get(CID, key, consistent_read=True)
    assert twin.lease_until is None and twin.last_sent_version == 1


def test_a_send_inside_an_apply_s_hold_leaves_the_lease_to_the_apply(sender, monkeypatch):
    """Re-entered from an apply (which holds the twin), the send's update ends nothing:
    the apply's own record ends it."""
    from chalicelib.sync.store import holding

    tracker, deps, _sent, _peer, key = sender
    saved_connection(CID, remote_public=True, remote_url="https://peer.test")
    twin = TwinModel.get(CID, key, consistent_read=True)
    with holding(twin):
        assert send_replica(tracker.get_issue(key), twin, deps=deps) is True
        held = TwinModel.get(CID, key, consistent_read=True)
        assert held.lease_until is not None and held.last_sent_version == 1
    assert TwinModel.get(CID, key, consistent_read=True).lease_until is None


def test_a_pushed_change_writes_no_entry_and_no_counter(sender):
    """Issue 19: a change the peer accepted costs no outbox write (and no counter)."""
    from chalicelib.store.models import KeyModel
    from chalicelib.store.namespaces import seq_key

    tracker, deps, _sent, peer, key = sender
    saved_connection(CID, remote_public=True, remote_url="https://peer.test")
    send(tracker, deps, key)
    tracker.update_issue(key, IssueFields(summary="second"))
    with dynamodb_requests() as requests:
        assert send(tracker, deps, key) is True
    assert sorted(writes(requests)) == ["PutItem events", "UpdateItem twins", "UpdateItem twins"]
    assert outbox() == [] and KeyModel.count(seq_key(outbox_pk(CID))) == 0
    assert [c["body"]["items"][0]["summary"] for c in peer.calls] == ["first", "second"]


def test_entries_kept_for_a_private_peer_are_numbered_in_order(sender):
    """An entry that was not pushed is saved once, pending, numbered from the clock."""
    tracker, deps, _sent, _peer, key = sender
    saved_connection(CID, remote_public=False)
    send(tracker, deps, key)
    tracker.update_issue(key, IssueFields(summary="second"))
    send(tracker, deps, key)
    first, second = outbox()
    assert int(first.seq) < int(second.seq) and {first.state, second.state} == {"pending"}
    assert [first.replica["summary"], second.replica["summary"]] == ["first", "second"]


def ingest(deps, key: str) -> None:
    body = IngestMessage(key, source="webhook", author_id="someone").to_body()
    message = QueueMessage("m", "r", body, f"issue#{key}", receive_count=1, queue_arn="arn:ingest")
    handle_ingest(message, deps=deps)


def test_a_late_webhook_of_a_change_already_sent_costs_no_write(sender):
    """Issue 19: ingest decides before taking the lease that the issue shows nothing to
    send (the twin as ingest read it, the issue as read); an edit after it is sent."""
    tracker, deps, _sent, peer, key = sender
    saved_connection(CID, remote_public=True, remote_url="https://peer.test")
    ingest(deps, key)
    with dynamodb_requests() as requests:
        ingest(deps, key)  # the same webhook late, or the sweep: the same version
    assert writes(requests) == [] and len(peer.calls) == 1
    tracker.update_issue(key, IssueFields(summary="second"))
    ingest(deps, key)
    assert [c["body"]["items"][0]["summary"] for c in peer.calls] == ["first", "second"]
    twin = TwinModel.get(CID, key, consistent_read=True)
    assert twin.last_sent_version == 2 and twin.lease_until is None


def test_a_read_judged_on_an_old_copy_of_the_twin_still_sends_an_edit(sender):
    """The twin ingest reads can be a moment old (an index): an edit made after the copy's
    read is never taken for a no-op (only a read of the copy's own version can be one)."""
    tracker, deps, _sent, peer, key = sender
    saved_connection(CID, remote_public=True, remote_url="https://peer.test")
    old_copy = TwinModel.get(CID, key, consistent_read=True)  # never read: no seen_updated
    send(tracker, deps, key)
    sent_copy = TwinModel.get(CID, key, consistent_read=True)
    tracker.update_issue(key, IssueFields(summary="second"))
    assert send_replica(tracker.get_issue(key), old_copy, deps=deps) is True
    tracker.update_issue(key, IssueFields(summary="third"))
    assert send_replica(tracker.get_issue(key), sent_copy, deps=deps) is True
    assert [c["body"]["items"][0]["summary"] for c in peer.calls] == ["first", "second", "third"]


def test_a_read_older_than_the_one_sent_costs_no_write(sender):
    """Two lanes read the issue at once and the newer read was sent first: the older one
    is dropped before the lease (it would be dropped under it too)."""
    tracker, deps, _sent, peer, key = sender
    saved_connection(CID, remote_public=True, remote_url="https://peer.test")
    older = tracker.get_issue(key)
    tracker.update_issue(key, IssueFields(summary="second"))
    send(tracker, deps, key)
    twin = TwinModel.get(CID, key, consistent_read=True)
    assert older.updated < twin.seen_updated  # (the memory tracker moves a second a write)
    with dynamodb_requests() as requests:
        assert send_replica(older, twin, deps=deps) is False
    assert writes(requests) == [] and len(peer.calls) == 1


def test_a_read_that_needs_a_write_still_takes_the_lease(sender):
    """A read of the version last sent whose registers would change (here: the twin's
    stored registers lost) is sent under the lease as before, not skipped."""
    tracker, deps, _sent, _peer, key = sender
    saved_connection(CID, remote_public=True, remote_url="https://peer.test")
    send(tracker, deps, key)
    TwinModel.get(CID, key).update(actions=[TwinModel.merge_state.remove()])
    with dynamodb_requests() as requests:
        send(tracker, deps, key)
    assert "UpdateItem twins" in writes(requests)
    assert TwinModel.get(CID, key, consistent_read=True).merge_state


def test_a_batch_reads_each_connection_once(node):
    """Within one ingest or deliver batch the connection is read once, and what that
    batch's own code changes on it is seen by its next records."""
    from chalicelib.connections.store import reads_shared
    from chalicelib.sync.links import get_connection

    saved_connection("conn-batch", remote_public=True, remote_url="https://peer.test")
    with reads_shared():
        first = get_connection("conn-batch")
        assert first is not None
        first.status = "error"  # as pause() does before it saves
        assert get_connection("conn-batch") is first
        assert get_connection("conn-unknown") is None
        ConnectionModel.get("conn-batch").update(actions=[ConnectionModel.name.set("renamed")])
        assert get_connection("conn-batch").name == "connection conn-batch"  # this batch's copy
    fresh = get_connection("conn-batch")
    assert fresh is not first and fresh.name == "renamed" and fresh.status == "active"


def test_two_entries_in_the_same_microsecond_take_two_numbers(node):
    from chalicelib.sync.store import pending_entry, save_new

    pk = outbox_pk(CID)
    made = [
        save_new(pending_entry(pk, 1_000, issue_key="OPS-1", replica={"id": rid}, days=1))
        for rid in ("r1", "r2")
    ]
    assert [int(e.seq) for e in made] == [1_000, 1_001]
    assert [e.replica_id for e in outbox()] == ["r1", "r2"]


def moved_without_an_edit(tracker, key: str) -> str:
    """Our own write of what the registers hold (an apply's) moved the issue's ``updated``
    and nothing else: what the sweep reads back. The new ``updated``."""
    from msgspec.structs import replace

    issue = tracker.issues[key]
    later = issue.updated.replace("T10:", "T11:", 1)
    tracker.issues[key] = replace(issue, updated=later)
    assert later != issue.updated
    return later


def test_the_sweep_s_read_back_of_our_write_is_one_update_and_no_lease(sender):
    """Issue 19: a newer read that shows nothing edited stores what it read with one
    update of the twin as it was read, not a lease taken and ended (two writes)."""
    tracker, deps, _sent, peer, key = sender
    saved_connection(CID, remote_public=True, remote_url="https://peer.test")
    send(tracker, deps, key)
    later = moved_without_an_edit(tracker, key)
    with dynamodb_requests() as requests:
        assert send(tracker, deps, key) is False
    assert writes(requests) == ["UpdateItem twins"]
    twin = TwinModel.get(CID, key, consistent_read=True)
    assert twin.seen_updated == later and twin.lease_until is None
    assert len(peer.calls) == 1


def test_a_read_back_of_a_twin_held_since_it_was_read_is_stored_under_the_lease(sender):
    """The twin as read is out of date (an apply held it since): the one update writes
    nothing, and the read is decided and stored under the lease as before."""
    from chalicelib.sync.store import holding

    tracker, deps, _sent, peer, key = sender
    saved_connection(CID, remote_public=True, remote_url="https://peer.test")
    send(tracker, deps, key)
    as_read = TwinModel.get(CID, key, consistent_read=True)
    with holding(TwinModel.get(CID, key, consistent_read=True)):
        pass  # an apply held the twin (and wrote nothing new here)
    later = moved_without_an_edit(tracker, key)
    with dynamodb_requests() as requests:
        assert send_replica(tracker.get_issue(key), as_read, deps=deps) is False
    assert writes(requests).count("UpdateItem twins") == 3  # refused; the lease; its end
    twin = TwinModel.get(CID, key, consistent_read=True)
    assert twin.seen_updated == later and twin.lease_until is None
    assert len(peer.calls) == 1


def test_an_edit_read_after_our_write_is_still_sent(sender):
    """A newer read that shows an edit is no read-back: it is sent under the lease."""
    tracker, deps, _sent, peer, key = sender
    saved_connection(CID, remote_public=True, remote_url="https://peer.test")
    send(tracker, deps, key)
    tracker.edit(key, summary="edited by a person")
    assert send(tracker, deps, key) is True
    assert [c["body"]["items"][0]["summary"] for c in peer.calls] == [
        "first",
        "edited by a person",
    ]
