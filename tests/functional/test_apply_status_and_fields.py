"""Apply with a status to reach (by workflow transition) and custom fields by name: the
plan's status is executed after the fields; a status no transition leads to is a visible
twin error, and everything else still syncs."""

from __future__ import annotations

import pytest
from msgspec.structs import replace

from chalicelib.root import build_sync, root
from chalicelib.rules.replica import stamp
from chalicelib.rules.visual import outgoing_rule
from chalicelib.sync.apply import handle_apply
from chalicelib.sync.inbox import accept
from chalicelib.sync.messages import parse_incoming
from chalicelib.sync.store import get_twin, twin_by_remote
from tests.factories import BOT, comment, issue, project
from tests.factories.connections import saved_connection
from tests.factories.memory_tracker import MemoryTracker
from tests.factories.sqs import queue_message

FIELDS = [
    {"field": "summary"},
    {"field": "status", "values": {"Closed": "Done"}},
    {"field": "custom", "local": "Customer", "remote": "Client"},
    {"field": "comments"},
]
MAPPINGS = [
    {"side": "local", "direction": "incoming", "fields": FIELDS},
    {"side": "remote", "direction": "outgoing", "fields": FIELDS},
]


class Sent:
    def __init__(self):
        self.messages = []

    def __call__(self, url, body, *, group_id, dedup_id, region):
        self.messages.append({"url": url, "body": body, "group": group_id})


@pytest.fixture
def env(node):
    tracker = MemoryTracker(projects=[project("OPS", ("Task", "Bug"), "Task")])
    tracker.workflow = {"To Do": ("In Progress",), "In Progress": ("Done", "To Do")}
    sent = Sent()
    deps = build_sync(root().settings, tracker=tracker, send=sent, fetch=lambda *a, **k: None)
    connection = saved_connection("conn-1", mode="visual", mappings=MAPPINGS)
    return tracker, sent, deps, connection


def replica(version: int, status: str, client: str = "ACME", **changes):
    source = replace(
        issue(comments=(comment("c1", "hello"),)),
        status=status,
        fields={"Customer": client},
        **changes,
    )
    document = [{**m, "side": "local" if m["side"] == "remote" else "remote"} for m in MAPPINGS]
    raw = outgoing_rule(document)(
        source, connection_id="conn-1", integration_user_id=BOT.id, attachment_sha={}
    )
    return stamp(raw, version=version)


def apply(env, data) -> None:
    _, sent, deps, connection = env
    sent.messages.clear()
    accept(connection, [parse_incoming(data)], deps=deps)
    for m in sent.messages:
        if m["url"] == deps.settings.resources.apply_queue_url:
            handle_apply(queue_message(m["body"], group=m["group"], queue="apply.fifo"), deps=deps)


def test_status_moves_by_transition_and_custom_fields_go_by_name(env):
    tracker = env[0]
    apply(env, replica(1, "To Do"))
    (key,) = tracker.issues
    assert tracker.issues[key].status == "To Do"
    assert tracker.issues[key].fields == {"Customer": "ACME"}
    tracker.calls.clear()
    apply(env, replica(2, "In Progress", client="Initech"))
    assert tracker.issues[key].status == "In Progress"
    assert tracker.issues[key].fields == {"Customer": "Initech"}
    calls = tracker.calls
    assert calls.index("transition_issue") > calls.index("update_issue")  # after the fields
    apply(env, replica(3, "Closed"))  # mapped: Closed -> Done
    assert tracker.issues[key].status == "Done"
    assert get_twin("conn-1", key).status == "synced"


def test_a_status_no_transition_leads_to_is_a_twin_error_and_the_rest_syncs(env):
    tracker = env[0]
    apply(env, replica(1, "To Do"))
    (key,) = tracker.issues
    apply(env, replica(2, "Closed", summary="Printer replaced"))  # To Do -> Done: no way
    local = tracker.issues[key]
    assert (local.status, local.summary) == ("To Do", "Printer replaced")
    twin = twin_by_remote("conn-1", "ALPHA-1")
    assert twin.status == "error"
    assert "Status 'Done'" in twin.error and "no workflow transition" in twin.error
    # a later change that can be reached clears the error
    apply(env, replica(3, "In Progress"))
    twin = twin_by_remote("conn-1", "ALPHA-1")
    assert (tracker.issues[key].status, twin.status, twin.error) == ("In Progress", "synced", None)
