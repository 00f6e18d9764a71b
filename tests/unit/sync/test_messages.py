"""Typed messages: parsed once at the edge, serialised once, the wire exactly as it was."""

from __future__ import annotations

import copy
import json

import pytest

from chalicelib.errors import BadRequest
from chalicelib.rules import basic
from chalicelib.rules.replica import blank_replica, stamp
from chalicelib.sync.inbox import validate_items
from chalicelib.sync.messages import (
    ApplyMessage,
    ConnectRequest,
    DeliverMessage,
    IngestMessage,
    InvalidReplica,
    Removal,
    Replica,
    from_wire,
    parse_incoming,
)
from chalicelib.trackers.base import Attachment, ChangeEvent
from tests.factories import ALICE, comment, issue

STAMPS = {
    "summary": {"at": "2026-12-02T17:05:01.123Z", "origin": "node-a#conn-1", "after": None},
    "labels": {
        "at": "2026-12-02T17:05:02.000Z",
        "origin": "node-a#conn-1",
        "after": ["2026-12-01T10:00:00.000Z", "node-b#conn-1"],
        "set": {"adds": {"x": ["t1"]}, "gone": []},
    },
}


def _wire_bytes(data: object) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def outgoing_sample(version: int = 3) -> dict:
    """A replica as basic rules send it: a comment, an attachment, stamps, a twin key."""
    source = issue(
        "ALPHA-7",
        comments=(comment("c1", "hello"),),
        attachments=(Attachment("a1", "log.txt", 12, "text/plain", author=ALICE),),
    )
    raw = basic.outgoing(
        source, connection_id="conn-1", integration_user_id="bot", attachment_sha={"a1": "ab" * 32}
    )
    wire = stamp(raw, version=version)
    wire["stamps"] = STAMPS
    wire["repair"] = ["summary"]
    wire["twin_key"] = "OPS-3"
    return wire


def removal_sample(kind: str, *, twin_key: str | None = "OPS-3") -> dict:
    """A removal exactly as ``removal.removal_replica`` built it before the typed messages."""
    wire = stamp(blank_replica("conn-1", "ALPHA-7", "https://a/browse/ALPHA-7", "t"), version=4)
    wire["removed"] = True
    wire["removal"] = {"kind": kind, "reason": "because" if kind != "stop_ack" else None}
    if twin_key:
        wire["twin_key"] = twin_key
    return wire


SAMPLES = {
    "replica": outgoing_sample(),
    "plain replica": stamp(
        basic.outgoing(
            issue(), connection_id="conn-1", integration_user_id="bot", attachment_sha={}
        ),
        version=1,
    ),
    "stopped": removal_sample("stopped"),
    "stop_ack": removal_sample("stop_ack"),
    "deleted": removal_sample("deleted", twin_key=None),
    "refused": removal_sample("refused"),
    "bare removed (protocol 1)": {**removal_sample("stopped", twin_key=None), "removal": None},
    "unknown extra field": {**outgoing_sample(), "x-future": {"kept": [1, 2]}},
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_parse_then_to_wire_gives_the_same_bytes(name):
    wire = SAMPLES[name]
    before = _wire_bytes(wire)
    message = parse_incoming(copy.deepcopy(wire))
    assert _wire_bytes(message.to_wire()) == before
    assert _wire_bytes(from_wire(json.loads(before)).to_wire()) == before
    assert _wire_bytes(wire) == before  # the input is not touched


def test_a_replica_is_typed():
    message = parse_incoming(outgoing_sample())
    assert isinstance(message, Replica)
    assert (message.id, message.connection_id, message.key, message.version) == (
        "conn-1:ALPHA-7:3",
        "conn-1",
        "ALPHA-7",
        3,
    )
    assert message.url == "https://a.example/browse/ALPHA-7"
    assert message.summary == "Printer on fire"
    assert message.twin_key == "OPS-3"
    assert message.repair == ("summary",)
    assert message.stamps is not None and set(message.stamps) == {"summary", "labels"}
    assert message.comment_ids == ("c1",)
    (attachment,) = message.attachments
    assert (attachment.id, attachment.filename, attachment.size) == ("a1", "log.txt", 12)
    assert attachment.sha256 == "ab" * 32
    assert message.payload["comments"][0]["id"] == "c1"  # what the rules read


@pytest.mark.parametrize("kind", ["stopped", "stop_ack", "deleted", "refused"])
def test_removal_is_a_kind_of_its_own(kind):
    message = parse_incoming(removal_sample(kind))
    assert isinstance(message, Removal)
    assert message.kind == kind
    assert message.reason == (None if kind == "stop_ack" else "because")
    assert message.version == 4 and message.key == "ALPHA-7"


def test_a_bare_removed_flag_reads_as_stopped():
    message = parse_incoming({**removal_sample("deleted"), "removal": None})
    assert isinstance(message, Removal)
    assert (message.kind, message.reason) == ("stopped", None)


def test_a_removal_built_here_is_the_wire_it_always_was():
    built = Removal.new(
        "conn-1",
        key="ALPHA-7",
        url="https://a/browse/ALPHA-7",
        version=4,
        kind="refused",
        reason="because",
        twin_key="OPS-3",
        updated="t",
        replica_id="conn-1:ALPHA-7:refused:abc",
    )
    expected = {**removal_sample("refused"), "id": "conn-1:ALPHA-7:refused:abc"}
    assert _wire_bytes(built.to_wire()) == _wire_bytes(expected)
    with pytest.raises(ValueError, match="unknown removal kind"):
        Removal.new(
            "c", key="K-1", url=None, version=1, kind="x", reason=None, twin_key=None, updated="t"
        )


def test_compose_gives_the_outgoing_wire_in_its_order():
    content = basic.outgoing(
        issue("ALPHA-7"), connection_id="conn-1", integration_user_id="bot", attachment_sha={}
    )
    expected = stamp(dict(content), version=5)
    expected["stamps"] = STAMPS
    expected["repair"] = ["description", "summary"]
    expected["twin_key"] = "OPS-3"
    composed = Replica.compose(
        content,
        version=5,
        stamps=STAMPS,
        repair=["summary", "description", "summary"],
        twin_key="OPS-3",
    )
    assert _wire_bytes(composed.to_wire()) == _wire_bytes(expected)
    plain = Replica.compose(content, version=5, stamps={}, repair=(), twin_key=None)
    assert "repair" not in plain.to_wire() and "twin_key" not in plain.to_wire()


def test_connect_request_names_both_issues():
    message = parse_incoming(outgoing_sample())
    assert isinstance(message, Replica)
    request = ConnectRequest(message)
    assert (request.target, request.requester) == ("OPS-3", "ALPHA-7")


def test_messages_are_frozen_and_their_wire_is_their_own():
    wire = outgoing_sample()
    message = parse_incoming(wire)
    with pytest.raises(AttributeError):  # a frozen Struct
        message.key = "OTHER-1"  # type: ignore[misc]
    with pytest.raises(TypeError):
        message.payload["summary"] = "changed"  # type: ignore[index]
    wire["summary"] = "changed after parsing"
    copy_ = message.to_wire()
    copy_["comments"].clear()
    assert message.summary == "Printer on fire"
    assert message.to_wire()["comments"] and message.payload["summary"] == "Printer on fire"


def test_equality_and_repr_leave_the_wire_out():
    """The envelope is what compares and shows; the object as read (``_wire``) neither."""
    wire = outgoing_sample()
    message = parse_incoming(wire)
    extra = parse_incoming({**wire, "x-future": {"kept": [1]}})  # same envelope, other wire
    assert message == extra
    assert (message != extra) is False  # msgspec derives != from the __eq__ override
    assert message.payload != extra.payload
    assert message != parse_incoming({**wire, "summary": "Other"})
    assert "_wire" not in repr(message) and "Printer on fire" in repr(message)
    assert repr(message).startswith("Replica(id=")
    gone = from_wire(removal_sample("deleted"))
    again = from_wire({**removal_sample("deleted"), "x-future": 1})
    assert gone == again and hash(gone) == hash(again) and len({gone, again}) == 1
    assert gone != from_wire(removal_sample("stopped"))
    assert "_wire" not in repr(gone) and "kind='deleted'" in repr(gone)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ("not an object", "must be a JSON object"),
        ({**outgoing_sample(), "id": ""}, "replica.id"),
        ({k: v for k, v in outgoing_sample().items() if k != "key"}, "replica.key"),
        ({**outgoing_sample(), "version": 0}, "replica.version"),
        ({**outgoing_sample(), "version": True}, "replica.version"),
        ({**outgoing_sample(), "entity": "page"}, "replica.entity"),
        ({**outgoing_sample(), "repair": ["colour"]}, "replica.repair"),
        ({**outgoing_sample(), "stamps": {"summary": {"at": 1}}}, "replica.stamps.summary"),
        ({**outgoing_sample(), "comments": [{"body": None}]}, "replica.comments"),
    ],
)
def test_bad_input_is_refused_clearly(data, says):
    with pytest.raises(InvalidReplica, match=says.replace(".", r"\.")):
        parse_incoming(data)


def test_a_bad_item_refuses_the_batch_with_a_400_naming_it():
    with pytest.raises(BadRequest) as caught:
        validate_items([outgoing_sample(), {**outgoing_sample(), "version": "3"}])
    assert caught.value.status == 400
    assert (caught.value.code, caught.value.field) == ("invalid_replica", "items[1]")
    with pytest.raises(BadRequest) as empty:
        validate_items([])
    assert empty.value.field == "items"
    assert [m.key for m in validate_items([outgoing_sample(), removal_sample("stopped")])] == [
        "ALPHA-7",
        "ALPHA-7",
    ]


def test_from_wire_reads_a_stored_entry_but_not_one_without_an_envelope():
    assert isinstance(from_wire(removal_sample("deleted")), Removal)
    with pytest.raises(InvalidReplica, match=r"replica\.connection_id"):
        from_wire({"id": "x", "key": "K-1", "version": 1})


# --- queue bodies -----------------------------------------------------------------------------


def test_ingest_message_from_a_webhook_event():
    event = ChangeEvent(
        kind="comment_created",
        issue_key=None,
        issue_id="10001",
        author_id="acc-alice",
        delivery_id="d-1",
        retry=True,
        changed_fields=("comment",),
    )
    message = IngestMessage.from_event(event)
    assert message.to_body() == {
        "issue_key": None,
        "issue_id": "10001",
        "kind": "comment_created",
        "author_id": "acc-alice",
        "delivery_id": "d-1",
        "source": "webhook",
        "connection_id": None,
    }
    assert (message.ref, message.group) == ("10001", "issue#10001")
    assert IngestMessage.from_body(json.loads(json.dumps(message.to_body()))) == message


def test_ingest_message_round_trip_and_defaults():
    message = IngestMessage("OPS-1", source="job", connection_id="conn-1")
    assert IngestMessage.from_body(message.to_body()) == message
    assert message.kind == "issue_updated" and message.group == "issue#OPS-1"
    legacy = IngestMessage.from_body({"issue_key": "OPS-2"})
    assert (legacy.ref, legacy.source, legacy.author_id) == ("OPS-2", "", None)


def test_apply_and_deliver_bodies():
    apply = ApplyMessage("conn-1", 7, "ALPHA-7")
    assert apply.to_body() == {"connection_id": "conn-1", "seq": 7, "remote_key": "ALPHA-7"}
    assert ApplyMessage.from_body(apply.to_body()) == apply
    assert apply.group == "conn-1#r#ALPHA-7"
    deliver = DeliverMessage("conn-1", 8, "OPS-3")
    assert deliver.to_body() == {"connection_id": "conn-1", "seq": 8, "local_key": "OPS-3"}
    assert DeliverMessage.from_body(deliver.to_body()) == deliver
    assert deliver.group == "conn-1#OPS-3"
    assert ApplyMessage.from_body({}) == ApplyMessage("", 0, "")
