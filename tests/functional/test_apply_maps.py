"""The comment and attachment maps are saved with apply's record (issue 19): no write per
comment or attachment; saved at once when the apply fails before its record, and healed
by the retry when it was stopped (ADR 0010: the push's apply always heals)."""

from __future__ import annotations

import hashlib

import pytest

from chalicelib.root import build_sync, root
from chalicelib.rules import basic
from chalicelib.rules.replica import stamp
from chalicelib.sync.blobs import incoming_key
from chalicelib.sync.store import get_twin, twin_by_remote
from chalicelib.trackers.base import Attachment
from tests.factories import ALICE, BOT, comment, issue, project
from tests.factories.connections import saved_connection
from tests.factories.memory_tracker import MemoryTracker
from tests.functional.test_apply import Env, Killed, Sent, apply_all, receive, retried
from tests.functional.test_apply_as_read import twin_requests


@pytest.fixture
def env(node):
    tracker = MemoryTracker(projects=[project("OPS", ("Task", "Bug"), "Task")])
    tracker.body_format = "wiki"
    sent = Sent()
    deps = build_sync(root().settings, tracker=tracker, send=sent, fetch=lambda *a, **k: None)
    return Env(tracker, sent, deps, saved_connection("conn-1"))


def first_sync(env, *, comments=(), files=None):
    """The first sync's replica of an issue with ``comments`` and ``files`` (id → bytes,
    their bytes ready here), as the apply queue hands it over."""
    files = files or {}
    for aid, data in files.items():
        env.deps.blobs.put(incoming_key("conn-1", aid), data)
    raw = basic.outgoing(
        issue(
            comments=comments,
            attachments=tuple(
                Attachment(aid, f"{aid}.txt", len(data), "text/plain", author=ALICE)
                for aid, data in files.items()
            ),
        ),
        connection_id="conn-1",
        integration_user_id=BOT.id,
        attachment_sha={aid: hashlib.sha256(data).hexdigest() for aid, data in files.items()},
    )
    return receive(env, stamp(raw, version=1))


def test_a_first_sync_saves_its_maps_with_its_record(env):
    messages = first_sync(env, comments=(comment("c1", "hello"),), files={"a1": b"a file"})
    with twin_requests(names=True) as calls:
        apply_all(env, messages)
    (local,) = env.tracker.issues.values()
    assert len(local.comments) == 1 and len(local.attachments) == 1
    twin = get_twin("conn-1", local.key)
    assert twin.comment_map["c1"]["local_id"] == local.comments[0].id
    assert twin.attachment_map == {"a1": local.attachments[0].id}
    # one update names the maps: the record (it names the version applied too)
    saving = [used for op, used in calls if {"comment_map", "attachment_map"} & used]
    assert len(saving) == 1
    assert {"comment_map", "attachment_map", "last_applied_version"} <= saving[0]


def test_an_apply_that_fails_after_a_comment_saves_its_map_at_once(env):
    messages = first_sync(env, comments=(comment("c1", "hello"),), files={"a1": b"a file"})

    def upload_answer_lost(**_):
        raise RuntimeError("after the upload, before its record")

    with pytest.raises(RuntimeError):
        apply_all(env, messages, after_attachment=upload_answer_lost)
    (local,) = env.tracker.issues.values()
    twin = twin_by_remote("conn-1", "ALPHA-1")
    assert twin.comment_map["c1"]["local_id"] == local.comments[0].id  # saved on the failure
    assert twin.attachment_map == {} and twin.last_applied_version == 0
    apply_all(env, retried(messages), after_attachment=lambda **_: None)
    (local,) = env.tracker.issues.values()
    assert len(local.comments) == 1 and len(local.attachments) == 1  # healed, not again
    assert get_twin("conn-1", local.key).attachment_map == {"a1": local.attachments[0].id}


def test_an_apply_stopped_before_its_record_is_healed_by_the_retry(env):
    """The function stopped (its timeout) after every write and before the record: no map
    was saved at all; the retry finds the comments and the file as ours, by text, by name
    and size, even two comments of the same text."""
    same = (comment("c1", "the same words"), comment("c2", "the same words"))
    messages = first_sync(env, comments=same, files={"a1": b"a file"})

    def stopped(**_):
        raise Killed

    with pytest.raises(Killed):
        apply_all(env, messages, after_attachment=stopped)
    twin = twin_by_remote("conn-1", "ALPHA-1")
    assert twin.comment_map == {} and twin.attachment_map == {}
    apply_all(env, retried(messages), after_attachment=lambda **_: None)
    (local,) = env.tracker.issues.values()
    assert len(local.comments) == 2 and len(local.attachments) == 1
    twin = get_twin("conn-1", local.key)
    assert {v["local_id"] for v in twin.comment_map.values()} == {c.id for c in local.comments}
    assert twin.attachment_map == {"a1": local.attachments[0].id}
