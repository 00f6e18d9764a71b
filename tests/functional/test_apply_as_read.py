"""Apply holds the twin as it read it (issue 19): one write for the hold and what the
apply expects to write, conditioned on nobody having held the twin since the read; when
somebody did, nothing is written and the apply plans again, held (ADR 0004, ADR 0010)."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from chalicelib.root import build_sync, root
from chalicelib.store.models import EntryModel, TwinModel
from chalicelib.store.namespaces import outbox_pk
from chalicelib.sync.apply import receive as receive_push
from chalicelib.sync.messages import parse_incoming
from chalicelib.sync.store import TwinMoved, get_twin, holding, holding_as_read
from tests.factories import project
from tests.factories.connections import saved_connection
from tests.factories.memory_tracker import MemoryTracker
from tests.functional.test_apply import Env, Sent, apply_all, receive, replica, sweep_ingest


@pytest.fixture
def env(node):
    tracker = MemoryTracker(projects=[project("OPS", ("Task", "Bug"), "Task")])
    tracker.body_format = "wiki"  # a Jira Server site: the summary is written unseen
    sent = Sent()
    deps = build_sync(root().settings, tracker=tracker, send=sent, fetch=lambda *a, **k: None)
    return Env(tracker, sent, deps, saved_connection("conn-1"))


@contextmanager
def twin_requests(*, names: bool = False) -> Iterator[list]:
    """The DynamoDB operations made on the twins table meanwhile (a botocore event hook on
    the twins' client); ``names``: each with the attribute names its expressions use."""
    events = TwinModel._get_connection().connection.client.meta.events
    calls: list = []

    def record(model, params, **_):
        if str(params.get("TableName", "")).endswith(TwinModel.Meta.table_name):
            used = set((params.get("ExpressionAttributeNames") or {}).values())
            calls.append((model.name, used) if names else model.name)

    events.register("before-parameter-build.dynamodb", record, unique_id="test-twin-calls")
    try:
        yield calls
    finally:
        events.unregister("before-parameter-build.dynamodb", unique_id="test-twin-calls")


def synced(env):
    """One issue synced here through the queue; its key here."""
    apply_all(env, receive(env, replica()))
    (key,) = env.deps.tracker.issues
    return key


def pushed(key, **kw):
    wire = replica(**kw)
    wire["twin_key"] = key
    return parse_incoming(wire)


def test_a_field_change_in_the_push_reads_the_twin_and_holds_it_with_its_expectations(env):
    key = synced(env)
    with twin_requests() as calls:
        receive_push(env.connection, [pushed(key, version=2, summary="A new title")], deps=env.deps)
    assert env.tracker.issues[key].summary == "A new title"
    # the read, the hold with the registers' expectations, the record ending the lease
    # (before: the hold, the expectations, the record: three writes)
    assert calls == ["GetItem", "UpdateItem", "UpdateItem"]
    twin = get_twin("conn-1", key)
    assert twin.lease_until is None and twin.last_applied_version == 2
    assert twin.merge_state["summary"]["l"] == twin.merge_state["summary"]["v"]


def test_a_replica_not_newer_is_dropped_without_holding_the_twin(env):
    key = synced(env)
    receive_push(env.connection, [pushed(key, version=2, summary="A new title")], deps=env.deps)
    with twin_requests() as calls:
        receive_push(env.connection, [pushed(key, version=2, summary="A new title")], deps=env.deps)
    assert calls == ["GetItem"]


def test_a_twin_held_since_it_was_read_is_not_taken_as_read_and_nothing_is_written(env):
    key = synced(env)
    read = get_twin("conn-1", key)
    with holding(get_twin("conn-1", key)):  # an ingest, say, held it and gave it back
        pass
    with pytest.raises(TwinMoved), holding_as_read(read, [TwinModel.error.set("expected")]):
        pass
    twin = get_twin("conn-1", key)
    assert twin.error is None and twin.lease_until is None
    with holding(get_twin("conn-1", key)):
        read_while_held = get_twin("conn-1", key)  # its holder may write after this read
    with pytest.raises(TwinMoved), holding_as_read(read_while_held):
        pass
    twin = get_twin("conn-1", key)
    with holding_as_read(twin, [TwinModel.error.set("expected")]):  # as read now: taken
        assert get_twin("conn-1", key).lease_until is not None
    assert get_twin("conn-1", key).error == "expected"
    assert get_twin("conn-1", key).lease_until is None


class GuardedTracker(MemoryTracker):
    """Jira whose answer to the incoming guard's search comes after another invocation
    ran (``during_search``), as when an ingest of the issue runs between apply's read of
    the twin and its hold."""

    during_search = None

    def search(self, jql, *, cursor=None, limit=50):
        if self.during_search is not None:
            run, self.during_search = self.during_search, None
            contextvars.Context().run(run)  # another invocation, as the ingest worker is
        return super().search(jql, cursor=cursor, limit=limit)


def test_an_edit_ingested_between_the_read_and_the_hold_is_merged_not_overwritten(env):
    """Alice's edit here is read and sent by an ingest that runs after the push's apply
    read the twin and before it holds it: the hold as read fails, nothing is written, the
    apply plans again with Alice's register and decides the conflict (hers is later)."""
    tracker = GuardedTracker(projects=[project("OPS", ("Task", "Bug"), "Task")])
    tracker.body_format = "wiki"
    env.deps.tracker = tracker
    key = synced(env)
    env.connection.incoming_guard_jql = "project = OPS"
    agreed = get_twin("conn-1", key).merge_state["summary"]["s"]
    older = {
        **replica(version=2, summary="Bob's title, over there"),
        "stamps": {"summary": {"at": agreed[0], "origin": "~other", "after": agreed}},
        "twin_key": key,
    }

    def alice_edits_and_the_webhook_is_ingested():
        tracker.edit(key, summary="Alice's title, here")
        sweep_ingest(env, key)

    tracker.during_search = alice_edits_and_the_webhook_is_ingested
    env.sent.messages.clear()
    receive_push(env.connection, [parse_incoming(older)], deps=env.deps)

    assert tracker.during_search is None  # the ingest ran in between
    assert not [m for m in env.sent.messages if "apply" in m["url"]]  # applied in the push
    assert tracker.issues[key].summary == "Alice's title, here"
    twin = get_twin("conn-1", key)
    assert twin.last_applied_version == 2 and twin.lease_until is None
    (conflict,) = twin.conflicts
    assert conflict["winner"] == "local" and conflict["value"] == "Alice's title, here"
    sent = [e.replica["summary"] for e in EntryModel.query(outbox_pk("conn-1"))]
    assert sent[-1] == "Alice's title, here"  # her edit went to the other side
