"""Issue 18, hierarchy in Script mode: an epic, its stories and a story's sub-tasks arrive
with the same hierarchy whatever order their replicas arrive in.

One node in moto with a local Script connection (OPS ↔ SUP), its real queues pumped
through the app's handlers, the in-memory tracker. A child whose parent has no twin yet
waits (shown in the connection's queue, not as an error) and goes on when the parent's
first sync lands; with ``hierarchy`` ``parent_first`` (the default) the sending end puts
the parent under sync first, with ``wait`` it does not.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.rules.script.defaults import DEFAULT_INCOMING, DEFAULT_OUTGOING
from chalicelib.rules.script.runner import ChildProcessRunner, ScriptLimits, use_runner
from chalicelib.trackers.base import IssueFields, Project
from tests.factories.memory_tracker import MemoryTracker
from tests.functional.ops.conftest import A_URL, Clock, Ops, Pump

OUTGOING = DEFAULT_OUTGOING + "replica.parent = issue.parent\n"
INCOMING = DEFAULT_INCOMING + 'if changed("parent"):\n    issue.parent = replica.parent\n'
TYPES = ("Task", "Story", "Epic")


def kind(key: str, subtask: str) -> Project:
    return Project(
        key=key, name=key, issue_types=TYPES, default_issue_type="Task", subtask_types=(subtask,)
    )


@pytest.fixture(autouse=True)
def sandbox() -> Iterator[Any]:
    runner = ChildProcessRunner(ScriptLimits(cpu_seconds=2, wall_seconds=4.0), warm=1)
    previous = use_runner(runner)
    yield runner
    use_runner(previous)
    runner.close()


@pytest.fixture
def hier(node: dict[str, str]) -> Iterator[Ops]:
    from chalice.test import Client

    from app import app
    from chalicelib.root import Providers, root, use_providers
    from chalicelib.sync import trigger_match
    from chalicelib.sync.links import get_connection

    # the two projects name their sub-task type as Server and Cloud do
    tracker = MemoryTracker(projects=[kind("OPS", "Sub-task"), kind("SUP", "Subtask")])
    trigger_match._matches.clear()
    with use_providers(Providers(tracker=lambda settings: tracker)), Client(app) as client:
        harness = Ops(client, tracker, Pump(app, root().settings.resources, Clock()))
        status, body = harness.api(
            "POST",
            "/api/v1/connections",
            {
                "destination_url": A_URL,
                "mode": "script",
                "local_short_name": "Ops",
                "remote_short_name": "Support",
                "name": f"hier-{uuid.uuid4().hex[:6]}",
                "incoming_project": "OPS",
                "destination_incoming_project": "SUP",
            },
        )
        assert status == 201, body
        harness.connection_id = body["connection"]["id"]
        harness.other_id = str(get_connection(harness.connection_id).local_peer_id)
        for cid in (harness.connection_id, harness.other_id):
            scripts = {"outgoing_script": OUTGOING, "incoming_script": INCOMING}
            status, body = harness.api("PATCH", f"/api/v1/connections/{cid}", scripts)
            assert status == 200, body
        yield harness
    trigger_match._matches.clear()


def set_hierarchy(cid: str, value: str | None) -> None:
    from chalicelib.store.models import ConnectionModel

    connection = ConnectionModel.get(cid)
    connection.update(actions=[ConnectionModel.hierarchy.set(value)])


def tree(tracker: MemoryTracker) -> dict[str, str]:
    """Epic, stories and sub-tasks in OPS: summary → key."""
    made: dict[str, str] = {}

    def make(summary: str, issue_type: str, parent: str | None = None) -> None:
        fields = IssueFields(summary=summary, issue_type=issue_type, parent=parent)
        made[summary] = tracker.create_issue("OPS", fields).key

    make("Epic", "Epic")
    for n in (1, 2, 3):
        make(f"Story {n}", "Story", made["Epic"])
    for n in (1, 2):
        make(f"Sub-task {n}", "Sub-task", made["Story 1"])
    return made


EXPECTED = {
    "Epic": (None, "Epic"),
    "Story 1": ("Epic", "Story"),
    "Story 2": ("Epic", "Story"),
    "Story 3": ("Epic", "Story"),
    "Sub-task 1": ("Story 1", "Subtask"),
    "Sub-task 2": ("Story 1", "Subtask"),
}


def mirrored(hier: Ops, made: dict[str, str]) -> dict[str, tuple[str | None, str]]:
    """In SUP, for each OPS issue: (its parent's summary, its type)."""
    out: dict[str, tuple[str | None, str]] = {}
    for summary, key in made.items():
        twin = hier.twin_of(key)
        assert twin is not None, f"{summary} has no twin"
        issue = hier.tracker.get_issue(twin.local_key)
        parent = hier.tracker.get_issue(issue.parent).summary if issue.parent else None
        out[summary] = (parent, issue.issue_type)
    return out


def sync(hier: Ops, key: str) -> None:
    status, body = hier.api("POST", hier.conn("/sync"), {"issue_key": key})
    assert status == 202, body


def inbox_states(cid: str) -> list[str]:
    from chalicelib.store.models import EntryModel
    from chalicelib.store.namespaces import inbox_pk

    return [e.state for e in EntryModel.query(inbox_pk(cid))]


def assert_clean(hier: Ops) -> None:
    from chalicelib.sync.events import list_errors

    assert list_errors() == []
    for cid in (hier.connection_id, hier.other_id):
        assert set(inbox_states(cid)) <= {"applied"}, inbox_states(cid)
        view = hier.api("GET", f"/api/v1/connections/{cid}/queue")[1]["incoming"]
        assert view["waiting"] == 0 and view["waiting_for_parent"] == []


ORDERS = [
    ["Sub-task 1", "Sub-task 2", "Story 3", "Story 2", "Story 1", "Epic"],  # children first
    ["Story 2", "Sub-task 1", "Epic", "Sub-task 2", "Story 3", "Story 1"],
    *(random.Random(seed).sample(list(EXPECTED), len(EXPECTED)) for seed in (1, 2)),
]


@pytest.mark.parametrize("order", ORDERS, ids=[",".join(o) for o in ORDERS])
def test_one_at_a_time_in_any_order_the_hierarchy_arrives_whole(hier, order):
    """Each replica is applied before the next is sent: a child before its parent waits."""
    set_hierarchy(hier.connection_id, "wait")  # the order is the test's
    made = tree(hier.tracker)
    for summary in order:
        sync(hier, made[summary])
        hier.pump.drain()
    assert mirrored(hier, made) == EXPECTED
    assert_clean(hier)


def test_all_at_once_the_hierarchy_arrives_whole(hier):
    set_hierarchy(hier.connection_id, "wait")
    made = tree(hier.tracker)
    for key in reversed(list(made.values())):
        sync(hier, key)
    hier.pump.drain()
    assert mirrored(hier, made) == EXPECTED
    assert_clean(hier)


def console_queue(hier: Ops, cid: str) -> str:
    """The Sync queue section of a connection's Overview in the console, signed in."""
    from contextlib import nullcontext

    from tests.functional.test_console import Visitor, text

    class OneNode:  # the harness's one node, as the console tests' cluster offers it
        client = hier.client

        def __getitem__(self, name: str) -> None:
            return None

        def active(self, node: object) -> object:
            return nullcontext()

    visitor = Visitor(OneNode(), "node")
    visitor.sign_in()
    html = text(visitor.get(f"/console/connections/{cid}"))
    return html[html.index('id="queue"') : html.index("</section>", html.index('id="queue"'))]


def test_a_waiting_child_shows_in_the_queue_not_as_an_error(hier):
    from chalicelib.sync.events import list_errors

    set_hierarchy(hier.connection_id, "wait")
    made = tree(hier.tracker)
    sync(hier, made["Sub-task 1"])
    hier.pump.drain()
    assert hier.twin_of(made["Sub-task 1"]) is None  # nothing written yet
    view = hier.api("GET", f"/api/v1/connections/{hier.other_id}/queue")[1]["incoming"]
    assert view["waiting"] == 1 and view["pending"] == 0
    assert view["waiting_for_parent"] == [{"key": made["Sub-task 1"], "parent": made["Story 1"]}]
    health = hier.api("GET", "/api/v1/health")[1]
    shown = [c for c in health["connections"] if c["id"] == hier.other_id]
    assert shown and shown[0]["incoming"]["waiting"] == 1
    assert list_errors() == []
    queue = console_queue(hier, hier.other_id)  # what an admin sees on the Overview tab
    assert "Waiting for a parent" in queue
    assert f"{made['Sub-task 1']} (parent {made['Story 1']})" in queue and "Not an error" in queue
    sync(hier, made["Story 1"])  # its parent, the epic, is not synced either: it waits too
    hier.pump.drain()
    view = hier.api("GET", f"/api/v1/connections/{hier.other_id}/queue")[1]["incoming"]
    assert view["waiting"] == 2
    sync(hier, made["Epic"])
    hier.pump.drain()
    assert hier.twin_of(made["Sub-task 1"]) is not None
    assert hier.twin_of(made["Story 2"]) is None  # "wait": nobody brought it
    assert_clean(hier)


def test_parent_first_brings_the_parents_of_a_child_under_sync(hier):
    made = tree(hier.tracker)  # hierarchy not set: parent_first
    sync(hier, made["Sub-task 2"])
    hier.pump.drain()
    synced = {s for s, k in made.items() if hier.twin_of(k) is not None}
    assert synced == {"Sub-task 2", "Story 1", "Epic"}  # its chain, not its siblings
    assert hier.twin(made["Story 1"]) is not None  # under sync on the sending end
    expected = {s: EXPECTED[s] for s in synced}
    assert mirrored(hier, {s: made[s] for s in synced}) == expected
    assert_clean(hier)


def test_a_parent_change_follows_and_a_removed_parent_goes(hier):
    made = tree(hier.tracker)
    for key in made.values():
        sync(hier, key)
    hier.pump.drain()
    ops = hier.tracker
    ops.set_parent(made["Story 3"], None)  # leaves the epic
    ops.set_parent(made["Sub-task 2"], made["Story 2"])  # moves to another story
    for summary in ("Story 3", "Sub-task 2"):
        hier.webhook(made[summary])
    hier.pump.drain()
    now = mirrored(hier, made)
    assert now["Story 3"] == (None, "Story")
    assert now["Sub-task 2"] == ("Story 2", "Subtask")
    assert now["Story 1"] == ("Epic", "Story")
    assert_clean(hier)


def test_a_parent_set_on_the_other_side_comes_back(hier):
    made = tree(hier.tracker)
    for key in made.values():
        sync(hier, key)
    hier.pump.drain()
    sup_story = hier.twin_of(made["Story 3"]).local_key
    sup_story2 = hier.twin_of(made["Story 2"]).local_key
    sup_task = hier.twin_of(made["Sub-task 1"]).local_key
    hier.tracker.set_parent(sup_task, sup_story)
    hier.tracker.set_parent(sup_story2, None)
    from chalicelib.root import root
    from chalicelib.sync.ingest import enqueue_ingest
    from chalicelib.sync.messages import IngestMessage

    for key in (sup_task, sup_story2):
        message = IngestMessage(key, source="webhook", kind="issue_updated", author_id="x")
        enqueue_ingest(message, deps=root().sync, dedup=f"hook#{uuid.uuid4().hex}")
    hier.pump.drain()
    assert hier.tracker.get_issue(made["Sub-task 1"]).parent == made["Story 3"]
    assert hier.tracker.get_issue(made["Story 2"]).parent is None
    assert_clean(hier)


def test_a_parent_landing_while_its_child_starts_to_wait_releases_it(hier, monkeypatch):
    """The child missed the parent's twin, and the parent's release missed the child: the
    child finds the twin when it looks again after listing itself."""
    from chalicelib.sync import hierarchy

    set_hierarchy(hier.connection_id, "wait")
    made = tree(hier.tracker)
    sync(hier, made["Epic"])
    hier.pump.drain()
    real = hierarchy.twin_by_remote
    missed: list[str] = []

    def late_index(connection_id: str, remote_key: str) -> Any:
        if remote_key == made["Epic"] and not missed:
            missed.append(remote_key)
            return None  # not there yet when the child resolves its parent
        return real(connection_id, remote_key)

    monkeypatch.setattr(hierarchy, "twin_by_remote", late_index)
    sync(hier, made["Story 1"])
    hier.pump.drain()
    assert missed == [made["Epic"]]
    assert mirrored(hier, {"Story 1": made["Story 1"]}) == {"Story 1": ("Epic", "Story")}
    assert_clean(hier)
