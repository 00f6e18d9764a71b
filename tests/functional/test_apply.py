"""Apply, the receiving half of Basic sync: once in effect, whatever the retries and crashes."""

from __future__ import annotations

import contextvars
import hashlib
from dataclasses import dataclass

import msgspec
import pytest
from msgspec.structs import replace
from pynamodb.exceptions import UpdateError

from chalicelib.queues import RetryLater
from chalicelib.root import build_sync, root
from chalicelib.rules import basic
from chalicelib.rules.replica import stamp
from chalicelib.store.models import ConnectionModel, EntryModel, TwinModel
from chalicelib.store.namespaces import outbox_pk
from chalicelib.sync.apply import PROPERTY, handle_apply
from chalicelib.sync.blobs import incoming_key
from chalicelib.sync.inbox import accept
from chalicelib.sync.ingest import handle_ingest
from chalicelib.sync.messages import IngestMessage, parse_incoming
from chalicelib.sync.store import (
    TwinBusy,
    get_twin,
    holding,
    twin_by_remote,
    update_ending_lease,
)
from chalicelib.trackers.base import Attachment, Unavailable
from tests.factories import ALICE, BOT, comment, issue, project
from tests.factories.connections import saved_connection
from tests.factories.memory_tracker import MemoryTracker
from tests.factories.sqs import queue_message


@dataclass
class Env:
    tracker: MemoryTracker
    sent: Sent
    deps: object
    connection: ConnectionModel


class Sent:
    def __init__(self):
        self.messages = []

    def __call__(self, url, body, *, group_id, dedup_id, region):
        self.messages.append({"url": url, "body": body, "group": group_id})


@pytest.fixture
def env(node):
    tracker = MemoryTracker(projects=[project("OPS", ("Task", "Bug"), "Task")])
    tracker.body_format = "wiki"  # a Jira Server site: descriptions and comments in wiki
    sent = Sent()
    deps = build_sync(root().settings, tracker=tracker, send=sent, fetch=lambda *a, **k: None)
    connection = saved_connection("conn-1")
    return Env(tracker, sent, deps, connection)


def retried(messages):
    """The same messages as the queue hands them back after a failure."""
    return [msgspec.structs.replace(m, receive_count=m.receive_count + 1) for m in messages]


def receive(env, replica):
    env.sent.messages.clear()
    accept(env.connection, [parse_incoming(replica)], deps=env.deps)
    applies = [
        m for m in env.sent.messages if m["url"] == env.deps.settings.resources.apply_queue_url
    ]
    return [queue_message(m["body"], group=m["group"], queue="apply.fifo") for m in applies]


def replica(version=1, **kw):
    raw = basic.outgoing(
        issue(**kw),
        connection_id="conn-1",
        integration_user_id="nobody",
        attachment_sha=kw.pop("sha", {}) if "sha" in kw else {},
    )
    return stamp(raw, version=version)


def apply_all(env, messages, **hooks):
    env.deps.hooks.update(hooks)
    for message in messages:
        handle_apply(message, deps=env.deps)


def test_first_sync_creates_the_twin_in_the_incoming_project(env):
    apply_all(env, receive(env, replica(comments=(comment("c1", "hello"),))))
    (key,) = env.tracker.issues
    created = env.tracker.issues[key]
    assert key.startswith("OPS-")
    assert created.summary == "Printer on fire" and created.issue_type == "Bug"
    assert created.description.format == "wiki" and "It smokes." in created.description.value
    assert env.tracker.properties[(key, PROPERTY)] == {
        "connection_id": "conn-1",
        "remote_key": "ALPHA-1",
    }
    assert len(created.comments) == 1 and "Alice Smith wrote" in created.comments[0].body.value
    twin = twin_by_remote("conn-1", "ALPHA-1")
    assert twin.local_key == key and twin.status == "synced" and twin.last_applied_version == 1
    # the other end learns which issue is its twin (a replica carrying twin_key)
    (out,) = list(EntryModel.query(outbox_pk("conn-1")))
    assert out.replica["key"] == key and out.replica["twin_key"] == "ALPHA-1"


def test_the_same_replica_twice_creates_nothing_twice(env):
    first = replica()
    apply_all(env, receive(env, first))
    apply_all(env, receive(env, first))  # pushed again: already queued, nothing new
    apply_all(env, receive(env, {**first, "id": "conn-1:ALPHA-1:1-resent"}))
    assert len(env.tracker.issues) == 1
    assert len(next(iter(env.tracker.issues.values())).comments) == 0


def test_a_replica_pushed_again_before_it_is_applied_is_one_entry_queued_again(env):
    first = replica()
    queued = receive(env, first)
    again = receive(env, first)  # the sender did not hear our answer: the same replica
    (entry,) = EntryModel.query("conn-1#in")
    assert entry.state == "pending" and entry.replica_id == first["id"]
    # queued again (the queue drops the copy for five minutes), in case the first call
    # stopped between its entry and its queueing
    assert [m.body for m in again] == [m.body for m in queued]
    apply_all(env, queued + again)
    assert len(env.tracker.issues) == 1
    assert receive(env, first) == []  # applied: acknowledged, nothing queued
    assert len(list(EntryModel.query("conn-1#in"))) == 1


def test_an_apply_ends_its_lease_with_its_record_and_a_later_hold_takes_it_again(env):
    apply_all(env, receive(env, replica()))
    (key,) = env.tracker.issues
    apply_all(env, receive(env, replica(version=2, summary="A new title")))
    twin = get_twin("conn-1", key)
    assert twin.lease_until is None  # an ingest of the issue may go at once
    with holding(twin):
        update_ending_lease(twin, [TwinModel.error.remove()])
        assert get_twin("conn-1", key).lease_until is None
        with holding(twin):  # not held any more: taken again, not re-entered
            assert get_twin("conn-1", key).lease_until is not None
        assert get_twin("conn-1", key).lease_until is None
    assert get_twin("conn-1", key).lease_until is None


def test_a_last_update_that_fails_ends_no_lease_and_the_holder_still_releases_it(env):
    apply_all(env, receive(env, replica()))
    (key,) = env.tracker.issues
    twin = get_twin("conn-1", key)
    with pytest.raises(UpdateError), holding(twin):
        # one path set and removed in one update: DynamoDB refuses the whole update
        update_ending_lease(twin, [TwinModel.error.set("x"), TwinModel.error.remove()])
    assert get_twin("conn-1", key).lease_until is None  # free at once, not in 90 s


def test_an_older_version_is_never_applied_over_a_newer_one(env):
    apply_all(env, receive(env, replica(version=2, summary="new")))
    apply_all(env, receive(env, replica(version=1, summary="old")))
    assert next(iter(env.tracker.issues.values())).summary == "new"


def test_a_crash_between_create_and_twin_record_heals_without_a_duplicate(env):
    messages = receive(env, replica())

    def crash(**_):
        raise RuntimeError("injected crash after the tracker write")

    with pytest.raises(RuntimeError):
        apply_all(env, messages, after_create=crash)
    assert len(env.tracker.issues) == 1 and twin_by_remote("conn-1", "ALPHA-1") is None
    apply_all(env, messages, after_create=lambda **_: None)  # the queue's retry
    assert len(env.tracker.issues) == 1
    assert twin_by_remote("conn-1", "ALPHA-1").local_key == next(iter(env.tracker.issues))


def test_comment_edits_and_deletes_follow_by_remote_id(env):
    apply_all(env, receive(env, replica(comments=(comment("c1", "one"), comment("c2", "two")))))
    apply_all(env, receive(env, replica(version=2, comments=(comment("c1", "one!"),))))
    (local,) = env.tracker.issues.values()
    assert len(local.comments) == 1 and "one!" in local.comments[0].body.value


def test_an_attachment_over_the_limit_is_a_visible_error_and_the_rest_syncs(env):
    env.tracker.attachment_limit = 5
    small, big = b"tiny", b"far too large"
    for aid, data in (("a1", small), ("a2", big)):
        env.deps.blobs.put(incoming_key("conn-1", aid), data)
    sha = {"a1": hashlib.sha256(small).hexdigest(), "a2": hashlib.sha256(big).hexdigest()}
    atts = (
        Attachment("a1", "small.txt", len(small), "text/plain", author=ALICE),
        Attachment("a2", "big.bin", len(big), "application/octet-stream", author=ALICE),
    )
    raw = basic.outgoing(
        issue(attachments=atts, comments=(comment("c1", "hi"),)),
        connection_id="conn-1",
        integration_user_id=BOT.id,
        attachment_sha=sha,
    )
    apply_all(env, receive(env, stamp(raw, version=1)))
    (local,) = env.tracker.issues.values()
    assert [a.filename for a in local.attachments] == ["small.txt"]
    assert len(local.comments) == 1
    twin = get_twin("conn-1", local.key)
    assert twin.status == "error" and "big.bin" in twin.error and "5 bytes" in twin.error


def test_a_deactivated_connection_holds_changes_for_later(env):
    messages = receive(env, replica())
    env.connection.update(actions=[ConnectionModel.status.set("deactivated")])
    apply_all(env, messages)
    assert env.tracker.issues == {}
    (entry,) = [e for e in EntryModel.query("conn-1#in")]
    assert entry.state == "held"


def test_a_crash_after_writing_a_comment_does_not_write_it_twice(env):
    messages = receive(env, replica(comments=(comment("c1", "one"), comment("c2", "two"))))
    calls = []

    def crash_once(**_):
        calls.append(1)
        if len(calls) == 2:  # after the second comment, before it is recorded
            raise RuntimeError("injected crash after a comment write")

    with pytest.raises(RuntimeError):
        apply_all(env, messages, after_comment=crash_once)
    apply_all(env, retried(messages), after_comment=lambda **_: None)
    (local,) = env.tracker.issues.values()
    assert sorted(c.body.value.rsplit(None, 1)[-1] for c in local.comments) == ["one", "two"]


def test_a_crash_after_uploading_an_attachment_does_not_upload_it_twice(env):
    blobs = {"a1": b"first file", "a2": b"second file"}
    for aid, data in blobs.items():
        env.deps.blobs.put(incoming_key("conn-1", aid), data)
    atts = tuple(
        Attachment(aid, f"{aid}.txt", len(data), "text/plain", author=ALICE)
        for aid, data in blobs.items()
    )
    sha = {aid: hashlib.sha256(data).hexdigest() for aid, data in blobs.items()}
    raw = basic.outgoing(
        issue(attachments=atts),
        connection_id="conn-1",
        integration_user_id=BOT.id,
        attachment_sha=sha,
    )
    messages = receive(env, stamp(raw, version=1))
    calls = []

    def crash_once(**_):
        calls.append(1)
        if len(calls) == 2:  # after the second upload, before it is recorded
            raise RuntimeError("injected crash after an attachment upload")

    with pytest.raises(RuntimeError):
        apply_all(env, messages, after_attachment=crash_once)
    apply_all(env, retried(messages), after_attachment=lambda **_: None)
    (local,) = env.tracker.issues.values()
    assert sorted(a.filename for a in local.attachments) == ["a1.txt", "a2.txt"]


def outbox_summaries():
    return [e.replica["summary"] for e in EntryModel.query(outbox_pk("conn-1"))]


def sweep_ingest(env, key):
    """The reconcile sweep finds ``key`` changed and ingests it (no webhook: no author)."""
    body = IngestMessage(key, source="reconcile").to_body()
    message = queue_message(body, group=f"issue#{key}")
    handle_ingest(message, deps=env.deps)


def test_an_edit_made_while_a_change_is_applied_is_sent_when_the_sweep_finds_it(env):
    apply_all(env, receive(env, replica()))  # first sync creates OPS-1
    (key,) = env.tracker.issues

    def alice_renames(**_):  # while the new comment is written
        env.tracker.issues[key] = replace(env.tracker.issues[key], summary="Renamed by Alice")

    new_comment = replica(version=2, comments=(comment("c1", "A new comment"),))
    apply_all(env, receive(env, new_comment), after_comment=alice_renames)
    sweep_ingest(env, key)
    assert outbox_summaries()[-1] == "Renamed by Alice"


def test_a_field_change_is_one_write_without_a_look_and_no_read_back(env):
    """Issue 19: a summary (type, wiki description) is written without looking first: an
    edit made here that it overwrites is found in the changelog by the next read
    (``tests/functional/test_overwritten_edits.py``)."""
    apply_all(env, receive(env, replica()))
    (key,) = env.tracker.issues
    env.tracker.calls.clear()
    apply_all(env, receive(env, replica(version=2, summary="A new title")))
    assert env.tracker.issues[key].summary == "A new title"
    assert env.tracker.calls == ["update_issue"]
    sent = len(outbox_summaries())
    sweep_ingest(env, key)  # our own write, read back by the sweep: not sent back
    assert len(outbox_summaries()) == sent


def test_a_description_on_a_cloud_site_is_still_a_look_then_one_write(env):
    """Cloud's changelog gives an ADF description as text, not the value: it keeps the
    look (so would custom fields, labels and status in the other modes)."""
    env.deps.tracker.body_format = "adf"
    apply_all(env, receive(env, replica()))
    assert len(env.tracker.issues) == 1
    env.tracker.calls.clear()
    apply_all(env, receive(env, replica(version=2, description="New steps")))
    assert env.tracker.calls == ["get_issue", "update_issue"]


def test_a_replica_equal_to_what_this_side_sent_changes_nothing(env):
    apply_all(env, receive(env, replica()))
    (key,) = env.tracker.issues
    env.tracker.issues[key] = replace(env.tracker.issues[key], summary="Renamed by Bob")
    sweep_ingest(env, key)  # sent: the other side will show Bob's title
    mine = EntryModel.query(outbox_pk("conn-1"), scan_index_forward=False, limit=1).next()
    env.tracker.issues[key] = replace(env.tracker.issues[key], summary="Renamed again by Bob")
    # the other side's next replica carries Bob's first title, stamped as Bob's change
    echo = {
        **replica(version=2, summary="Renamed by Bob", comments=(comment("c9", "Looks good"),)),
        "stamps": {"summary": mine.replica["stamps"]["summary"]},
    }
    apply_all(env, receive(env, echo))
    assert env.tracker.issues[key].summary == "Renamed again by Bob"
    assert any("Looks good" in c.body.value for c in env.tracker.issues[key].comments)


class TruncatingTracker(MemoryTracker):
    """A tracker that answers 201 to an upload but keeps only the first bytes."""

    def upload_attachment(self, key, filename, data, mime_type):
        return super().upload_attachment(key, filename, data[:4], mime_type)


def test_an_attachment_the_tracker_did_not_keep_whole_is_a_visible_error(env):
    env.deps.tracker = TruncatingTracker(projects=[project("OPS", ("Task", "Bug"), "Task")])
    data = b"twelve bytes"
    env.deps.blobs.put(incoming_key("conn-1", "a1"), data)
    raw = basic.outgoing(
        issue(attachments=(Attachment("a1", "log.txt", len(data), "text/plain", author=ALICE),)),
        connection_id="conn-1",
        integration_user_id=BOT.id,
        attachment_sha={"a1": hashlib.sha256(data).hexdigest()},
    )
    apply_all(env, receive(env, stamp(raw, version=1)))
    (local,) = env.deps.tracker.issues.values()
    twin = get_twin("conn-1", local.key)
    assert twin.status == "error" and "kept 4 of 12 bytes" in twin.error


def test_an_edit_here_not_read_yet_is_merged_not_overwritten_by_an_incoming_change(env):
    """Issue 19: the summary is written without a look, over Bob's edit; the sweep's
    read finds Bob's edit in the changelog and it wins (the later one), here and there."""
    apply_all(env, receive(env, replica()))
    (key,) = env.tracker.issues
    agreed = get_twin("conn-1", key).merge_state["summary"]["s"]
    # Bob edits the summary here; his webhook is late, so ingest has not read it yet
    env.tracker.edit(key, summary="Bob's title, later")
    # the other side's concurrent edit of the same field, made a moment before Bob's
    older = {
        **replica(version=2, summary="Alice's title"),
        "stamps": {"summary": {"at": agreed[0], "origin": "~other", "after": agreed}},
    }
    apply_all(env, receive(env, older))
    assert env.tracker.issues[key].summary == "Alice's title"  # written over, for now
    sweep_ingest(env, key)  # his webhook was lost: the sweep reads the issue again
    assert env.tracker.issues[key].summary == "Bob's title, later"
    assert outbox_summaries()[-1] == "Bob's title, later"  # and it goes to the other side
    (conflict,) = get_twin("conn-1", key).conflicts
    assert conflict["winner"] == "local" and conflict["value"] == "Bob's title, later"


def test_an_ingest_while_the_twin_is_applied_waits_its_turn_and_then_sends_the_edit(env):
    apply_all(env, receive(env, replica()))
    (key,) = env.tracker.issues
    busy = []

    def alice_renames_and_the_sweep_comes(**_):
        env.tracker.issues[key] = replace(env.tracker.issues[key], summary="Renamed by Alice")
        try:  # another invocation (its own context), as the ingest worker is
            contextvars.Context().run(sweep_ingest, env, key)
        except TwinBusy as exc:  # the queue brings it back in a moment
            busy.append(exc)

    change = replica(version=2, description="New steps", comments=(comment("c1", "Seen"),))
    apply_all(env, receive(env, change), after_comment=alice_renames_and_the_sweep_comes)
    assert len(busy) == 1 and busy[0].delay
    sweep_ingest(env, key)  # its retry, after the apply
    assert outbox_summaries()[-1] == "Renamed by Alice"
    twin = get_twin("conn-1", key)
    assert twin.lease_until is None
    assert "New steps" in env.tracker.issues[key].description.value


class LostAnswerTracker(MemoryTracker):
    """Jira whose answer to one field write is lost: the write lands (the changelog shows
    it at ``written_at``), the caller sees a 503. A worker killed between a tracker write
    and its record of it leaves the same behind."""

    lose_next_update = False
    written_at = ""

    def update_issue(self, key, fields):
        super().update_issue(key, fields)
        issue = self.issues[key]
        changed = {"description": self.written_at} if fields.description else {}
        self.issues[key] = replace(
            issue, updated=self.written_at, changed_at={**issue.changed_at, **changed}
        )
        if self.lose_next_update:
            self.lose_next_update = False
            raise Unavailable("the answer was lost (503)", status=503)


def test_our_write_whose_answer_was_lost_is_not_taken_for_an_edit_made_here(env):
    """An apply whose field write landed but whose record did not (the answer lost, or the
    worker stopped after the write) is retried. Our own write read back meanwhile (by the
    sweep, by the retry's look) is not an edit made here: restamped with the time of our
    write, it was later than the other side's next edit, which both ends then lost."""
    tracker = LostAnswerTracker(projects=[project("OPS", ("Task", "Bug"), "Task")])
    tracker.body_format = "wiki"
    env.deps.tracker = tracker
    apply_all(env, receive(env, replica()))
    (key,) = tracker.issues
    agreed = get_twin("conn-1", key).merge_state["description"]["s"]
    other = agreed[1]  # the other end's origin
    first_at, later_at = "2026-01-02T10:00:01.000Z", "2026-01-02T10:00:02.000Z"
    first = {
        **replica(version=2, description="First steps"),
        "stamps": {"description": {"at": first_at, "origin": other, "after": agreed}},
    }
    # made over there before our write of the first one landed here (10:00:03)
    later = {
        **replica(version=3, description="Later steps"),
        "stamps": {"description": {"at": later_at, "origin": other, "after": [first_at, other]}},
    }
    tracker.lose_next_update, tracker.written_at = True, "2026-01-02T10:00:03.000+0000"
    messages = receive(env, first)
    with pytest.raises(RetryLater):
        apply_all(env, messages)
    assert "First steps" in tracker.issues[key].description.value  # it landed all the same

    sweep_ingest(env, key)  # the sweep reads our write before the queue retries the apply
    apply_all(env, retried(messages))
    apply_all(env, receive(env, later))

    assert "Later steps" in tracker.issues[key].description.value
    twin = get_twin("conn-1", key)
    assert twin.conflicts in (None, [])
    assert twin.merge_state["description"]["s"] == [later_at, other]
    # nothing went out claiming our write of the other side's value as an edit made here
    sent = [
        e.replica.get("stamps", {}).get("description")
        for e in EntryModel.query(outbox_pk("conn-1"))
    ]
    assert all(s is None or s["origin"] == other for s in sent), sent


def synced_twins(env, count):
    """``count`` issues synced here through the queue; their v2 replicas name our twins."""
    later = []
    for n in range(1, count + 1):
        remote = f"ALPHA-{n}"
        apply_all(env, receive(env, replica(key=remote)))
        wire = replica(version=2, key=remote, summary=f"Edited {n}")
        wire["twin_key"] = twin_by_remote("conn-1", remote).local_key
        later.append(parse_incoming(wire))
    return later


def test_a_push_applies_a_few_replicas_itself_and_queues_the_rest(env):
    from chalicelib.sync.apply import INLINE_ITEMS
    from chalicelib.sync.apply import receive as receive_push

    later = synced_twins(env, INLINE_ITEMS + 1)
    env.sent.messages.clear()
    accepted = receive_push(env.connection, later, deps=env.deps)

    assert accepted == [r.id for r in later]
    summaries = [env.tracker.issues[r.twin_key].summary for r in later]
    assert summaries[:INLINE_ITEMS] == [f"Edited {n}" for n in range(1, INLINE_ITEMS + 1)]
    assert summaries[INLINE_ITEMS] == "Printer on fire"  # queued, as before
    (queued,) = env.sent.messages
    assert queued["body"]["remote_key"] == later[-1].key and "tried" not in queued["body"]
    apply_all(env, [queue_message(queued["body"], group=queued["group"], queue="apply.fifo")])
    assert env.tracker.issues[later[-1].twin_key].summary == f"Edited {INLINE_ITEMS + 1}"


def test_no_inline_apply_starts_after_the_time_budget(env):
    from chalicelib.sync.apply import INLINE_BUDGET_S
    from chalicelib.sync.apply import receive as receive_push

    later = synced_twins(env, 2)
    env.sent.messages.clear()
    ticks = iter([0.0, 0.1, INLINE_BUDGET_S + 0.1])  # the second one would start too late
    receive_push(env.connection, later, deps=env.deps, clock=lambda: next(ticks))
    assert env.tracker.issues[later[0].twin_key].summary == "Edited 1"
    assert env.tracker.issues[later[1].twin_key].summary == "Printer on fire"
    assert len(env.sent.messages) == 1


def test_a_failed_inline_apply_is_handed_to_the_worker_which_heals_it(env):
    """The push's attempt wrote a comment whose answer was lost: the worker's first
    receive maps it (``tried``) instead of writing it twice."""
    from chalicelib.sync.apply import receive as receive_push

    (later,) = synced_twins(env, 1)
    wire = replica(version=2, comments=(comment("c9", "from the other side"),))
    wire["twin_key"] = later.twin_key
    env.sent.messages.clear()
    twin = later.twin_key

    def lost(**_):  # the comment landed, its answer did not
        raise Unavailable("read timed out")

    env.deps.hooks["after_comment"] = lost
    receive_push(env.connection, [parse_incoming(wire)], deps=env.deps)
    env.deps.hooks.pop("after_comment")
    (queued,) = env.sent.messages
    assert queued["body"]["tried"] is True
    apply_all(env, [queue_message(queued["body"], group=queued["group"], queue="apply.fifo")])
    assert len(env.tracker.issues[twin].comments) == 1
    assert get_twin("conn-1", twin).status == "synced"


class Killed(BaseException):
    """The function stopped (its timeout): nothing after this point runs."""


def test_a_push_stopped_after_a_write_and_pushed_again_writes_nothing_twice(env):
    """Nothing records an inline apply that was stopped (the API function's timeout) after
    its comment landed; the sender, which gave up waiting, pushes the replica again."""
    from chalicelib.sync.apply import receive as receive_push

    (later,) = synced_twins(env, 1)
    wire = replica(version=2, comments=(comment("c9", "from the other side"),))
    wire["twin_key"] = later.twin_key
    pushed = parse_incoming(wire)

    def stopped(**_):
        raise Killed

    env.deps.hooks["after_comment"] = stopped
    with pytest.raises(Killed):
        receive_push(env.connection, [pushed], deps=env.deps)
    env.deps.hooks.pop("after_comment")
    env.sent.messages.clear()
    receive_push(env.connection, [pushed], deps=env.deps)
    assert env.sent.messages == []  # applied in the push
    assert len(env.tracker.issues[later.twin_key].comments) == 1
    assert get_twin("conn-1", later.twin_key).last_applied_version == 2


class ReadDuringApplyTracker(MemoryTracker):
    """Jira answering a read just before an apply of the same issue runs and ends (the
    ingest holds the twin only after its read)."""

    during_read = None

    def get_issue(self, key):
        issue = super().get_issue(key)
        if self.during_read is not None:
            run, self.during_read = self.during_read, None
            contextvars.Context().run(run)  # another invocation, as the apply worker is
        return issue


def test_a_read_taken_before_an_unseen_write_is_made_again_not_taken_for_a_later_edit(env):
    """Issue 19: an ingest read Bob's edit, then an apply wrote the other side's value
    over it without looking, then the ingest held the twin: sent as it was read, Bob's
    value would count as made after the other side's. It is read again instead, and the
    changelog decides (here Bob's edit is the later one)."""
    tracker = ReadDuringApplyTracker(projects=[project("OPS", ("Task", "Bug"), "Task")])
    tracker.body_format = "wiki"
    env.deps.tracker = tracker
    apply_all(env, receive(env, replica()))
    (key,) = tracker.issues
    agreed = get_twin("conn-1", key).merge_state["summary"]["s"]
    tracker.edit(key, summary="Bob's title, later")
    older = {
        **replica(version=2, summary="Alice's title"),
        "stamps": {"summary": {"at": agreed[0], "origin": "~other", "after": agreed}},
    }
    messages = receive(env, older)
    tracker.during_read = lambda: apply_all(env, messages)
    with pytest.raises(TwinBusy):
        sweep_ingest(env, key)
    assert tracker.issues[key].summary == "Alice's title"  # the apply wrote it meanwhile
    sweep_ingest(env, key)  # the retry
    assert tracker.issues[key].summary == "Bob's title, later"
    assert outbox_summaries()[-1] == "Bob's title, later"
    (conflict,) = get_twin("conn-1", key).conflicts
    assert (conflict["winner"], conflict["remote_value"]) == ("local", "Alice's title")
