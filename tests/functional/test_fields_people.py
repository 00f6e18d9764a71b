"""Issue 18 in Script mode, end to end through apply (moto, the memory tracker, the
sandbox's semantics in process): components, fix and affects versions, due date,
environment and resolution follow an edit; a name the project lacks is created when the
incoming script allows it, else left out with a note in the twin's history (the twin
synced, the name not sent back as removed); assignee and reporter go through the
connection's user map, then the e-mail address, then the fallback, never failing a sync;
the settings are edited through ``PATCH /api/v1/connections/{id}``."""

from __future__ import annotations

import uuid

import pytest
from msgspec.structs import replace

from chalicelib.root import build_sync, root
from chalicelib.rules.replica import stamp
from chalicelib.rules.script.rules import outgoing_rule
from chalicelib.rules.script.runner import use_runner
from chalicelib.sync.apply import handle_apply
from chalicelib.sync.events import history
from chalicelib.sync.inbox import accept
from chalicelib.sync.messages import parse_incoming
from chalicelib.sync.outgoing import send_replica
from chalicelib.sync.store import get_twin
from chalicelib.trackers.base import Body, User
from tests.factories import BOT, adf, issue, project
from tests.factories.cluster import three_nodes
from tests.factories.connections import saved_connection
from tests.factories.memory_tracker import MemoryTracker
from tests.factories.sqs import queue_message
from tests.unit.rules.script_helpers import InProcessRunner

COPY = (
    "components",
    "fix_versions",
    "affects_versions",
    "due_date",
    "environment",
    "resolution",
    "assignee",
    "reporter",
)
OUTGOING = "replica.summary = issue.summary\nreplica.status = issue.status\n" + "".join(
    f"replica.{name} = issue.{name}\n" for name in COPY
)
INCOMING = (
    "issue.summary = replica.summary\n"
    "if replica.status:\n"
    "    issue.status = replica.status\n"
    + "".join(f"issue.{name} = replica.{name}\n" for name in COPY)
)
CREATING = INCOMING + 'issue.create_missing = ["fix_versions"]\n'


class Sent:
    def __init__(self):
        self.messages = []

    def __call__(self, url, body, *, group_id, dedup_id, region):
        self.messages.append({"url": url, "body": body, "group": group_id})


@pytest.fixture(autouse=True)
def in_process():
    previous = use_runner(InProcessRunner())
    yield
    use_runner(previous)


@pytest.fixture
def env(node):
    tracker = MemoryTracker(projects=[project("OPS", ("Task", "Bug"), "Task")])
    for name in ("Backend", "Frontend"):
        tracker.add_component("OPS", name)
    for name in ("1.0", "2.0"):
        tracker.add_version("OPS", name)
    tracker.add_user("u-anna", "Anna", "anna@globex.test")
    tracker.add_user("u-bob", "Bob")
    tracker.add_user("u-help", "Helpdesk")
    tracker.add_user("u-carl", "Carl")
    sent = Sent()
    deps = build_sync(root().settings, tracker=tracker, send=sent, fetch=lambda *a, **k: None)
    return tracker, sent, deps


def connect(incoming=INCOMING, **settings):
    return saved_connection(
        "conn-1",
        mode="script",
        outgoing_script=OUTGOING,
        incoming_script=incoming,
        **settings,
    )


def replica(version: int, **changes):
    source = replace(issue(), **{"status": "To Do", **changes})
    raw = outgoing_rule(OUTGOING, runner=InProcessRunner())(
        source, connection_id="conn-1", integration_user_id=BOT.id, attachment_sha={}
    )
    return stamp(raw, version=version)


def apply(env, connection, data):
    _, sent, deps = env
    sent.messages.clear()
    accept(connection, [parse_incoming(data)], deps=deps)
    for m in sent.messages:
        if m["url"] == deps.settings.resources.apply_queue_url:
            handle_apply(queue_message(m["body"], group=m["group"], queue="apply.fifo"), deps=deps)


def echoed(env, key) -> bool:
    """Whether reading the issue back now sends anything (our own write must not be)."""
    tracker, _, deps = env
    return send_replica(tracker.get_issue(key), get_twin("conn-1", key), deps=deps)


def notes(key):
    return [h["outcome"] for h in history("conn-1", key) if h["outcome"].startswith("note:")]


# --- components, versions, due date, environment, resolution --------------------------------


def test_components_versions_due_date_environment_and_resolution_follow_an_edit(env):
    tracker = env[0]
    connection = connect()
    apply(
        env,
        connection,
        replica(
            1,
            components=("Backend",),
            fix_versions=("1.0",),
            versions=("1.0",),
            due_date="2026-12-24",
            environment=Body("adf", adf("Chrome 120")),
        ),
    )
    (key,) = tracker.issues
    local = tracker.issues[key]
    assert (local.components, local.fix_versions, local.versions) == (
        ("Backend",),
        ("1.0",),
        ("1.0",),
    )
    assert local.due_date == "2026-12-24"
    assert local.environment == Body("adf", adf("Chrome 120"))
    assert local.resolution is None
    assert not echoed(env, key)
    apply(
        env,
        connection,
        replica(
            2,
            components=("Frontend", "Backend"),
            fix_versions=("2.0",),
            versions=(),
            due_date=None,
            environment=None,
            status="Done",
            resolution="Won't Do",
        ),
    )
    local = tracker.issues[key]
    assert set(local.components) == {"Frontend", "Backend"}
    assert (local.fix_versions, local.versions) == (("2.0",), ())
    assert (local.due_date, local.environment) == (None, None)
    assert (local.status, local.resolution) == ("Done", "Won't Do")
    twin = get_twin("conn-1", key)
    assert (twin.status, twin.error) == ("synced", None)
    assert not echoed(env, key)  # our own writes read back are no edits
    assert notes(key) == []


def test_a_missing_name_is_left_out_and_noted_and_never_sent_back_as_removed(env):
    tracker = env[0]
    connection = connect()
    apply(env, connection, replica(1, components=("Backend", "Mobile"), fix_versions=("3.0",)))
    (key,) = tracker.issues
    local = tracker.issues[key]
    assert (local.components, local.fix_versions) == (("Backend",), ())
    twin = get_twin("conn-1", key)
    assert (twin.status, twin.error) == ("synced", None)  # a note, not an error
    (note,) = notes(key)
    assert "Component 'Mobile' is not in project OPS: left out" in note
    assert "Fix version '3.0' is not in project OPS: left out" in note
    assert "create_version" not in tracker.calls and "create_component" not in tracker.calls
    assert not echoed(env, key)  # "Mobile" stays on the other side


def test_create_missing_creates_a_version_once(env):
    tracker = env[0]
    connection = connect(CREATING)
    apply(env, connection, replica(1, components=("Mobile",), fix_versions=("3.0", "1.0")))
    (key,) = tracker.issues
    local = tracker.issues[key]
    assert local.fix_versions == ("3.0", "1.0")
    assert [v.name for v in tracker.versions["OPS"]] == ["1.0", "2.0", "3.0"]
    assert local.components == ()  # components were not allowed to be created
    (note,) = notes(key)
    assert "Fix version '3.0' was created in project OPS" in note
    assert "Component 'Mobile' is not in project OPS" in note
    apply(env, connection, replica(2, summary="Again", components=(), fix_versions=("3.0",)))
    assert tracker.calls.count("create_version") == 1  # known now: not created again
    assert tracker.issues[key].fix_versions == ("3.0",)
    assert get_twin("conn-1", key).status == "synced"


# --- people ---------------------------------------------------------------------------------


def test_assignee_by_user_map_then_by_e_mail_then_unassigned_with_a_note(env):
    tracker = env[0]
    connection = connect(user_map=[{"remote": "acc-bob", "local": "u-bob"}])
    apply(env, connection, replica(1, assignee=User("acc-bob", "Bob B")))
    (key,) = tracker.issues
    assert tracker.issues[key].assignee.id == "u-bob"  # the table
    assert not echoed(env, key)
    anna = User("acc-anna", "Anna A", "Anna@Globex.test")
    apply(env, connection, replica(2, assignee=anna))
    assert tracker.issues[key].assignee.id == "u-anna"  # the e-mail address
    assert not echoed(env, key)
    apply(env, connection, replica(3, assignee=User("acc-zed", "Zed")))
    assert tracker.issues[key].assignee is None  # the default fallback: unassigned
    twin = get_twin("conn-1", key)
    assert (twin.status, twin.error) == ("synced", None)
    (note,) = notes(key)
    assert "Assignee Zed (acc-zed)" in note and "left unassigned" in note
    assert not echoed(env, key)


def test_an_unmapped_or_refused_assignee_falls_back_to_the_fallback_user(env):
    tracker = env[0]
    tracker.unassignable.add("u-carl")
    connection = connect(
        user_map=[{"remote": "acc-carl", "local": "u-carl"}], user_fallback={"user": "u-help"}
    )
    zed = User("acc-zed", "Zed")
    apply(env, connection, replica(1, assignee=zed, reporter=zed))
    (key,) = tracker.issues
    local = tracker.issues[key]
    assert local.assignee.id == "u-help"
    assert local.reporter is None  # an unmapped reporter is left as it is
    assert any("Reporter Zed (acc-zed)" in n and "left as it is" in n for n in notes(key))
    assert not echoed(env, key)
    apply(env, connection, replica(2, assignee=User("acc-carl", "Carl C")))
    assert tracker.issues[key].assignee.id == "u-help"  # Carl cannot be assigned issues
    assert "cannot be assigned" in notes(key)[0]
    assert get_twin("conn-1", key).status == "synced"
    assert not echoed(env, key)  # the fallback that landed is ours, not an edit made here


def test_people_are_mapped_and_written_once(env):
    tracker = env[0]
    connection = connect(user_map=[{"remote": "acc-bob", "local": "u-bob"}])
    bob = User("acc-bob", "Bob B")
    apply(env, connection, replica(1, assignee=bob, reporter=bob))
    (key,) = tracker.issues
    assert (tracker.issues[key].assignee.id, tracker.issues[key].reporter.id) == ("u-bob",) * 2
    tracker.calls.clear()
    apply(env, connection, replica(2, summary="Renamed", assignee=bob, reporter=bob))
    assert "set_assignee" not in tracker.calls and "set_reporter" not in tracker.calls
    assert tracker.issues[key].summary == "Renamed"


# --- settings over the admin API --------------------------------------------------------------


@pytest.fixture
def cluster(aws, monkeypatch):
    with three_nodes(aws, monkeypatch) as nodes:
        yield nodes


def test_people_and_hierarchy_settings_are_saved_and_shown(cluster):
    body = {
        "destination_url": None,
        "mode": "basic",
        "local_short_name": "A",
        "remote_short_name": "B",
        "name": f"a-{uuid.uuid4().hex[:6]}",
        "incoming_project": "SUP",
    }
    conn = cluster.admin("node-a", "POST", "/api/v1/connections", body).body["connection"]
    assert (conn["user_map"], conn["user_fallback"], conn["hierarchy"]) == (
        [],
        "unassigned",
        "parent_first",
    )
    path = f"/api/v1/connections/{conn['id']}"
    wanted = {
        "user_map": [{"remote": "5b10ac8d82e05b22cc7d4ef5", "local": "jsmith"}],
        "user_fallback": {"user": "helpdesk"},
        "hierarchy": "wait",
    }
    saved = cluster.admin("node-a", "PATCH", path, wanted)
    assert saved.status == 200, saved.body  # in Basic mode too: settings, not rules
    shown = cluster.admin("node-a", "GET", path).body
    assert {k: shown[k] for k in wanted} == wanted
    cleared = cluster.admin(
        "node-a", "PATCH", path, {"user_map": [], "user_fallback": "unassigned", "hierarchy": None}
    )
    assert (cleared.body["user_map"], cleared.body["user_fallback"]) == ([], "unassigned")
    assert cleared.body["hierarchy"] == "parent_first"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"user_map": {"acc": "u"}}, "user_map"),
        ({"user_map": [{"remote": "a"}]}, "user_map[0].local"),
        ({"user_map": [{"remote": " ", "local": "u"}]}, "user_map[0].remote"),
        ({"user_map": [{"remote": "a", "local": 7}]}, "user_map[0].local"),
        (
            {"user_map": [{"remote": "a", "local": "u"}, {"remote": "a", "local": "v"}]},
            "user_map[1].remote",
        ),
        ({"user_map": [{"remote": f"a{i}", "local": "u"} for i in range(1001)]}, "user_map"),
        ({"user_fallback": "nobody"}, "user_fallback"),
        ({"user_fallback": {"user": ""}}, "user_fallback.user"),
        ({"hierarchy": "children_first"}, "hierarchy"),
    ],
)
def test_bad_settings_are_refused_and_nothing_changes(cluster, change, field):
    body = {
        "destination_url": None,
        "mode": "script",
        "local_short_name": "A",
        "remote_short_name": "B",
        "name": f"a-{uuid.uuid4().hex[:6]}",
        "incoming_project": "SUP",
    }
    conn = cluster.admin("node-a", "POST", "/api/v1/connections", body).body["connection"]
    path = f"/api/v1/connections/{conn['id']}"
    before = {"user_map": [{"remote": "x", "local": "y"}], "hierarchy": "wait"}
    assert cluster.admin("node-a", "PATCH", path, before).status == 200
    refused = cluster.admin("node-a", "PATCH", path, {**change, "name": "renamed"})
    assert refused.status == 400, refused.body
    assert refused.body["error"]["field"] == field, refused.body
    shown = cluster.admin("node-a", "GET", path).body
    assert (shown["user_map"], shown["hierarchy"], shown["name"]) == (
        before["user_map"],
        "wait",
        conn["name"],
    )
