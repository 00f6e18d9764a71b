"""Issue 18's "done when", over the local stack: node a (Jira Cloud sandbox "a") and node c
(public, Jira Server sandbox "b"), one Script connection whose scripts sync everything
(docs/scripts.md, "Idioms"), real node processes, both ways.

- an epic with three stories and two sub-tasks of one story, put under sync in shuffled
  order (a sub-task first, the epic last), arrives with the same hierarchy and no error
  record, Cloud → Server and Server → Cloud;
- a "Blocks" link between two synced issues follows; one to an issue synced later appears
  once it is synced; a removed link goes;
- worklogs follow (create, edit, delete), each copy with an attribution line;
- labels, priority, components (created where missing), fix and affects versions and the
  due date follow edits;
- a user map maps an assignee (Cloud accountId ↔ Server username), an address both show
  maps another; an unmapped assignee falls back (a fallback user on one side, unassigned
  on the other) with no error record, and is not written back to where it came from;
- both issues of a twin carry the remote link back, and it goes when syncing stops.

Every scenario uses issues of its own in two projects made for this module (epics and
sub-tasks on both sides: Cloud calls its sub-task type "Subtask", Server "Sub-task").
"""

from __future__ import annotations

import json
import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from chalicelib.trackers.base import Body, IssueFields
from devstack.sandbox_jira.admin import SandboxAdmin
from tests.stack.conftest import eventually, tracker_as, twin_key, waiting

pytestmark = pytest.mark.stack

SLOW = 90.0  # seconds: several issues, each through both nodes

# The scripts: everything issue 18 adds, both ways (the same on both ends).
OUTGOING = """\
replica.summary = issue.summary
replica.description = issue.description
replica.type = issue.type
replica.labels = issue.labels
replica.priority = issue.priority
replica.comments = issue.comments
replica.components = issue.components
replica.fix_versions = issue.fix_versions
replica.affects_versions = issue.affects_versions
replica.due_date = issue.due_date
replica.assignee = issue.assignee
replica.parent = issue.parent
replica.links = issue.links
replica.worklogs = issue.worklogs
"""

INCOMING = """\
SUBTASK = {SUBTASK!r}
if changed("summary"):
    issue.summary = replica.summary
if changed("description"):
    issue.description = replica.description
if changed("type"):
    name = replica.type.name if replica.type else None
    issue.type = SUBTASK.get(name) or get_issue_type(replica.type)
if changed("labels"):
    issue.labels = replica.labels
if changed("priority") and replica.priority:
    issue.priority = replica.priority.name
issue.comments = merge_comments(replica.comments)
issue.create_missing = ["components", "fix_versions", "affects_versions"]
if changed("components"):
    issue.components = replica.components
if changed("fix_versions"):
    issue.fix_versions = replica.fix_versions
if changed("affects_versions"):
    issue.affects_versions = replica.affects_versions
if changed("due_date"):
    issue.due_date = replica.due_date
if changed("assignee"):
    issue.assignee = replica.assignee
if changed("parent"):
    issue.parent = replica.parent
issue.links = replica.links
issue.worklogs = merge_worklogs()
"""

CLOUD_TYPES = ["Epic", "Story", "Task", "Subtask"]
SERVER_TYPES = ["Epic", "Story", "Task", "Sub-task"]


def adf(text: str) -> dict:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


def text_of(body: Body | None) -> str:
    """A body's words, whatever its format (ADF's text nodes, wiki or plain text)."""
    if body is None:
        return ""
    if isinstance(body.value, str):
        return body.value
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text":
                found.append(str(node.get("text", "")))
            for child in node.get("content") or ():
                walk(child)

    walk(body.value)
    return " ".join(found)


def unique_key(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:4].upper().replace("0", "Q").replace("1", "R")


@pytest.fixture(scope="module")
def fidelity(stack_info, node_a, node_c) -> SimpleNamespace:
    """Two projects with epics and sub-tasks (Cloud's with components Backend and Frontend
    and versions 1.0 and 2.0, Server's with Backend, Ops and 1.0 only), one Script
    connection between them, both ends' scripts saved through the admin API."""
    cloud_project, server_project = unique_key("FC"), unique_key("FS")
    SandboxAdmin(stack_info["trackers"]["a"]["url"]).create_project(
        cloud_project,
        "Fidelity Cloud",
        issue_types=CLOUD_TYPES,
        default_issue_type="Task",
        components=["Backend", "Frontend"],
        versions=["1.0", "2.0"],
    )
    SandboxAdmin(stack_info["trackers"]["b"]["url"]).create_project(
        server_project,
        "Fidelity Server",
        issue_types=SERVER_TYPES,
        default_issue_type="Task",
        components=["Backend", "Ops"],
        versions=["1.0"],
    )
    created = node_a.post(
        "/api/v1/connections",
        {
            "destination_url": node_c.url,
            "mode": "script",
            "local_short_name": "Acme",
            "remote_short_name": "Initech",
            "name": f"fidelity-{uuid.uuid4().hex[:6]}",
            "incoming_project": cloud_project,
        },
    )
    assert created.status_code == 201, created.text
    accepted = node_c.post(
        "/api/v1/invitations/accept",
        {"invitation_code": created.json()["invitation_code"], "incoming_project": server_project},
    )
    assert accepted.status_code == 201, accepted.text
    cid = accepted.json()["connection"]["id"]
    for node, subtask in ((node_a, {"Sub-task": "Subtask"}), (node_c, {"Subtask": "Sub-task"})):
        saved = node.patch(
            f"/api/v1/connections/{cid}",
            {
                "outgoing_script": OUTGOING,
                "incoming_script": INCOMING.replace("{SUBTASK!r}", repr(subtask)),
            },
        )
        assert saved.status_code == 200, saved.text
    return SimpleNamespace(
        cid=cid,
        cloud=cloud_project,
        server=server_project,
        alice_a=tracker_as(stack_info, "a"),
        alice_c=tracker_as(stack_info, "b"),
    )


# --- helpers --------------------------------------------------------------------------------


def sync(node, cid: str, key: str) -> None:
    answer = node.post(f"/api/v1/connections/{cid}/sync", {"issue_key": key})
    assert answer.status_code == 202, answer.text


def twin_of(node, cid: str, key: str, timeout: float = 45.0) -> str:
    """The key of ``key``'s twin, once ``node`` knows it."""
    return eventually(lambda: twin_key(node, cid, key), timeout=timeout)


def synced(node, tracker, project: str, cid: str, summary: str, **fields: Any) -> tuple[str, str]:
    """A new issue on ``node``'s side, put under sync: (its key, its twin's key)."""
    ref = tracker.create_issue(
        project, IssueFields(summary=summary, issue_type=fields.pop("issue_type", "Task"), **fields)
    )
    sync(node, cid, ref.key)
    return ref.key, twin_of(node, cid, ref.key)


def open_errors(node, cid: str, keys: set[str]) -> list[dict]:
    errors = node.get(f"/api/v1/errors?connection_id={cid}")
    assert errors.status_code == 200, errors.text
    return [e for e in errors.json() if e.get("issue_key") in keys]


def twin_status(node, cid: str, key: str) -> dict:
    shown = node.get(f"/api/v1/connections/{cid}/twins/{key}")
    assert shown.status_code == 200, shown.text
    return shown.json()


def link_between(tracker, key: str, other: str, link_type: str = "Blocks"):
    """The outward ``link_type`` link from ``key`` to ``other`` as ``key`` shows it."""
    return [
        link
        for link in tracker.get_issue(key).links
        if link.type == link_type and link.direction == "outward" and link.issue_key == other
    ]


def tag() -> str:
    return uuid.uuid4().hex[:6]


# --- a. hierarchy ---------------------------------------------------------------------------


def build_epic(tracker, project: str, subtask_type: str, t: str) -> dict[str, str]:
    """An epic, three stories under it and two sub-tasks of the first story: name → key."""
    keys = {
        "epic": tracker.create_issue(
            project, IssueFields(summary=f"Epic {t}", issue_type="Epic")
        ).key
    }
    for n in (1, 2, 3):
        keys[f"story{n}"] = tracker.create_issue(
            project, IssueFields(summary=f"Story {n} {t}", issue_type="Story", parent=keys["epic"])
        ).key
    for n in (1, 2):
        keys[f"sub{n}"] = tracker.create_issue(
            project,
            IssueFields(
                summary=f"Sub-task {n} {t}", issue_type=subtask_type, parent=keys["story1"]
            ),
        ).key
    return keys


PARENT_OF = {
    "epic": None,
    "story1": "epic",
    "story2": "epic",
    "story3": "epic",
    "sub1": "story1",
    "sub2": "story1",
}
SHUFFLED = ["sub2", "story3", "sub1", "story1", "epic", "story2"]  # children before parents


def check_same_hierarchy(node, cid: str, keys: dict[str, str], there, types: dict[str, str]):
    twins = {name: twin_of(node, cid, key, timeout=SLOW) for name, key in keys.items()}

    def same_tree():
        for name, parent in PARENT_OF.items():
            issue = there.get_issue(twins[name])
            assert issue.parent == (twins[parent] if parent else None), (name, issue.parent)
        return True

    eventually(same_tree, timeout=SLOW)
    for name, twin in twins.items():
        assert there.get_issue(twin).issue_type == types[name.rstrip("123")]
    return twins


@pytest.mark.parametrize("direction", ["cloud_to_server", "server_to_cloud"])
def test_an_epic_stories_and_sub_tasks_synced_in_shuffled_order_keep_their_hierarchy(
    node_a, node_c, fidelity, direction
):
    f, t = fidelity, tag()
    if direction == "cloud_to_server":
        node, other, here, there = node_a, node_c, f.alice_a, f.alice_c
        project, there_project = f.cloud, f.server
        keys = build_epic(here, project, "Subtask", t)
        types = {"epic": "Epic", "story": "Story", "sub": "Sub-task"}
    else:
        node, other, here, there = node_c, node_a, f.alice_c, f.alice_a
        project, there_project = f.server, f.cloud
        keys = build_epic(here, project, "Sub-task", t)
        types = {"epic": "Epic", "story": "Story", "sub": "Subtask"}
    assert here.get_issue(keys["sub1"]).parent == keys["story1"]
    assert here.get_issue(keys["story2"]).parent == keys["epic"]

    for name in SHUFFLED:
        sync(node, f.cid, keys[name])

    twins = check_same_hierarchy(node, f.cid, keys, there, types)
    eventually(
        lambda: all(twin_status(node, f.cid, k)["status"] == "synced" for k in keys.values()),
        timeout=SLOW,
    )
    assert open_errors(node, f.cid, set(keys.values())) == []
    assert open_errors(other, f.cid, set(twins.values())) == []
    # exactly one twin each: parents brought under sync first were not created twice
    found = there.search(f'project = {there_project} AND summary ~ "{t}"').issues
    assert sorted(r.key for r in found) == sorted(twins.values())


def test_with_hierarchy_wait_a_child_waits_for_its_parent_to_be_synced(node_a, node_c, fidelity):
    f, t = fidelity, tag()
    changed = node_a.patch(f"/api/v1/connections/{f.cid}", {"hierarchy": "wait"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["hierarchy"] == "wait"
    try:
        story = f.alice_a.create_issue(
            f.cloud, IssueFields(summary=f"Story {t}", issue_type="Story")
        ).key
        sub = f.alice_a.create_issue(
            f.cloud, IssueFields(summary=f"Sub-task {t}", issue_type="Subtask", parent=story)
        ).key
        sync(node_a, f.cid, sub)

        # the sub-task waits over there; its story is not brought under sync
        def waiting_there():
            queue = waiting(node_c, f.cid)["incoming"]
            return [w["key"] for w in queue.get("waiting_for_parent") or ()]

        eventually(lambda: sub in waiting_there())
        assert twin_key(node_a, f.cid, sub) is None and twin_key(node_a, f.cid, story) is None

        # once a person syncs the story, the sub-task follows under its twin
        sync(node_a, f.cid, story)
        story2, sub2 = twin_of(node_a, f.cid, story), twin_of(node_a, f.cid, sub)
        eventually(lambda: f.alice_c.get_issue(sub2).parent == story2)
        assert f.alice_c.get_issue(sub2).issue_type == "Sub-task"
        # c marks the entry applied after its apply ends, and a may learn the link first
        # (c's link-back is applied in the push since issue 19)
        eventually(lambda: sub not in waiting_there())
        assert open_errors(node_a, f.cid, {story, sub}) == []
        assert open_errors(node_c, f.cid, {story2, sub2}) == []
    finally:
        node_a.patch(f"/api/v1/connections/{f.cid}", {"hierarchy": "parent_first"})


# --- b. links -------------------------------------------------------------------------------


def test_links_follow_both_ways_and_wait_for_an_issue_synced_later(node_a, node_c, fidelity):
    f, t = fidelity, tag()
    x, x2 = synced(node_a, f.alice_a, f.cloud, f.cid, f"Blocker {t}")
    y, y2 = synced(node_a, f.alice_a, f.cloud, f.cid, f"Blocked {t}")

    # Cloud → Server: X blocks Y
    f.alice_a.add_issue_link("Blocks", x, y)
    eventually(lambda: link_between(f.alice_c, x2, y2))
    assert [(lk.type, lk.direction, lk.issue_key) for lk in f.alice_c.get_issue(y2).links] == [
        ("Blocks", "inward", x2)
    ]

    # a link to an issue not under sync waits until it is
    z = f.alice_a.create_issue(f.cloud, IssueFields(summary=f"Later {t}", issue_type="Task")).key
    f.alice_a.add_issue_link("Blocks", x, z)
    f.alice_a.update_issue(x, IssueFields(summary=f"Blocker, linked {t}"))
    eventually(lambda: f.alice_c.get_issue(x2).summary == f"Blocker, linked {t}")
    assert [lk.issue_key for lk in f.alice_c.get_issue(x2).links] == [y2]  # Z has no twin yet
    sync(node_a, f.cid, z)
    z2 = twin_of(node_a, f.cid, z)
    eventually(lambda: link_between(f.alice_c, x2, z2))

    # a removed link goes, the other stays
    (gone,) = link_between(f.alice_a, x, y)
    f.alice_a.delete_issue_link(gone.id)
    eventually(lambda: not link_between(f.alice_c, x2, y2))
    assert link_between(f.alice_c, x2, z2)

    # Server → Cloud: Z' blocks Y' there, so Z blocks Y here; then removed there
    f.alice_c.add_issue_link("Blocks", z2, y2)
    eventually(lambda: link_between(f.alice_a, z, y))
    (back,) = link_between(f.alice_c, z2, y2)
    f.alice_c.delete_issue_link(back.id)
    eventually(lambda: not link_between(f.alice_a, z, y))
    assert link_between(f.alice_a, x, z)  # untouched
    keys = {x, y, z}
    assert open_errors(node_a, f.cid, keys) == []
    assert open_errors(node_c, f.cid, {x2, y2, z2}) == []


# --- b. worklogs ----------------------------------------------------------------------------


def worklogs(tracker, key: str) -> list[tuple[int, str]]:
    return [(w.seconds, text_of(w.comment)) for w in tracker.list_worklogs(key)]


def test_worklogs_follow_create_edit_and_delete_both_ways(node_a, node_c, fidelity):
    f, t = fidelity, tag()
    key, twin = synced(node_a, f.alice_a, f.cloud, f.cid, f"Time spent {t}")

    # Cloud → Server: a copy with an attribution line
    logged = f.alice_a.add_worklog(
        key,
        started="2026-12-01T09:30:00.000+0000",
        seconds=3600,
        comment=Body("adf", adf("Investigated")),
    )
    (copy,) = eventually(lambda: worklogs(f.alice_c, twin))
    seconds, comment = copy
    assert seconds == 3600
    assert "Investigated" in comment and "Logged by" in comment and "Alice" in comment
    f.alice_a.update_worklog(key, logged.id, seconds=5400)
    eventually(lambda: [s for s, _ in worklogs(f.alice_c, twin)] == [5400])
    f.alice_a.delete_worklog(key, logged.id)
    eventually(lambda: worklogs(f.alice_c, twin) == [])

    # Server → Cloud; the copy made on the other side is never sent back
    theirs = f.alice_c.add_worklog(
        twin, started="2026-12-02T14:00:00.000+0000", seconds=1800, comment=Body("wiki", "Deployed")
    )
    (copy,) = eventually(lambda: worklogs(f.alice_a, key))
    assert copy[0] == 1800 and "Deployed" in copy[1] and "Logged by" in copy[1]
    f.alice_c.update_worklog(twin, theirs.id, seconds=2700)
    eventually(lambda: [s for s, _ in worklogs(f.alice_a, key)] == [2700])
    assert [s for s, _ in worklogs(f.alice_c, twin)] == [2700]  # no echo
    f.alice_c.delete_worklog(twin, theirs.id)
    eventually(lambda: worklogs(f.alice_a, key) == [])
    assert open_errors(node_a, f.cid, {key}) == []
    assert open_errors(node_c, f.cid, {twin}) == []


# --- b. labels, priority, components, versions, due date -------------------------------------


def catalog(issue) -> tuple:
    return (
        sorted(issue.labels),
        issue.priority,
        sorted(issue.components),
        sorted(issue.fix_versions),
        sorted(issue.versions),
        issue.due_date,
    )


def test_labels_priority_components_versions_and_due_date_follow_edits_both_ways(
    node_a, node_c, fidelity
):
    f, t = fidelity, tag()
    key, twin = synced(node_a, f.alice_a, f.cloud, f.cid, f"Release {t}")

    # Cloud → Server; Frontend and 2.0 are not in the Server project: created there
    f.alice_a.update_issue(
        key,
        IssueFields(
            labels=("customer", "urgent"),
            priority="High",
            components=("Backend", "Frontend"),
            fix_versions=("2.0",),
            versions=("1.0",),
            due_date="2026-12-24",
        ),
    )
    wanted = (
        ["customer", "urgent"],
        "High",
        ["Backend", "Frontend"],
        ["2.0"],
        ["1.0"],
        "2026-12-24",
    )
    eventually(lambda: catalog(f.alice_c.get_issue(twin)) == wanted)
    assert "Frontend" in [c.name for c in f.alice_c.list_components(f.server)]
    assert "2.0" in [v.name for v in f.alice_c.list_versions(f.server)]

    # Server → Cloud; Ops is not in the Cloud project: created there
    f.alice_c.update_issue(
        twin,
        IssueFields(
            labels=("customer",),
            priority="Low",
            components=("Backend", "Ops"),
            fix_versions=("1.0",),
            versions=(),
            due_date="2027-01-15",
        ),
    )
    wanted = (["customer"], "Low", ["Backend", "Ops"], ["1.0"], [], "2027-01-15")
    eventually(lambda: catalog(f.alice_a.get_issue(key)) == wanted)
    assert "Ops" in [c.name for c in f.alice_a.list_components(f.cloud)]

    # a cleared due date and components follow too (Cloud → Server)
    f.alice_a.update_issue(key, IssueFields(components=(), due_date=""))
    eventually(lambda: catalog(f.alice_c.get_issue(twin))[2::3] == ([], None))
    assert catalog(f.alice_c.get_issue(twin))[:2] == (["customer"], "Low")
    assert open_errors(node_a, f.cid, {key}) == []
    assert open_errors(node_c, f.cid, {twin}) == []


# --- c. people ------------------------------------------------------------------------------


def history(node, cid: str, key: str) -> list[dict]:
    shown = node.get(f"/api/v1/connections/{cid}/twins/{key}/history")
    assert shown.status_code == 200, shown.text
    return shown.json()


def assignee_id(tracker, key: str) -> str | None:
    issue = tracker.get_issue(key)
    return issue.assignee.id if issue.assignee else None


def test_a_user_map_maps_assignees_and_an_unmapped_one_falls_back(
    stack_info, node_a, node_c, fidelity
):
    f, t = fidelity, tag()
    cloud = SandboxAdmin(stack_info["trackers"]["a"]["url"])
    server = SandboxAdmin(stack_info["trackers"]["b"]["url"])
    # Cloud hides these addresses, and Server's differ: only the table can match them
    dana_a = cloud.create_user(
        display_name=f"Dana {t}", email=f"dana-{t}@cloud.example", email_visible=False
    )
    erin_a = cloud.create_user(
        display_name=f"Erin {t}", email=f"erin-{t}@cloud.example", email_visible=False
    )
    dana_c = server.create_user(
        display_name=f"Dana S {t}", name=f"dana{t}", email=f"dana-{t}@server.example"
    )
    gus_c = server.create_user(
        display_name=f"Gus {t}", name=f"gus{t}", email=f"gus-{t}@server.example"
    )
    triage_c = server.create_user(
        display_name=f"Triage {t}", name=f"triage{t}", email=f"triage-{t}@server.example"
    )
    # Frank shows the same address on both: matched by e-mail, no table needed
    frank_a = cloud.create_user(display_name=f"Frank {t}", email=f"frank-{t}@example.com")
    frank_c = server.create_user(
        display_name=f"Frank S {t}", name=f"frank{t}", email=f"frank-{t}@example.com"
    )

    # the admins: a table each (Cloud accountId ↔ Server username); c falls back to a
    # triage user, a to unassigned (the default)
    on_c = node_c.patch(
        f"/api/v1/connections/{f.cid}",
        {
            "user_map": [{"remote": dana_a["accountId"], "local": dana_c["name"]}],
            "user_fallback": {"user": triage_c["name"]},
        },
    )
    assert on_c.status_code == 200, on_c.text
    assert on_c.json()["user_map"] == [{"remote": dana_a["accountId"], "local": dana_c["name"]}]
    assert on_c.json()["user_fallback"] == {"user": triage_c["name"]}
    on_a = node_a.patch(
        f"/api/v1/connections/{f.cid}",
        {"user_map": [{"remote": dana_c["name"], "local": dana_a["accountId"]}]},
    )
    assert on_a.status_code == 200, on_a.text
    assert on_a.json()["user_fallback"] == "unassigned"
    assert node_a.get(f"/api/v1/connections/{f.cid}").json()["user_map"] == [
        {"remote": dana_c["name"], "local": dana_a["accountId"]}
    ]
    server_ids = {
        "dana": {dana_c["key"], dana_c["name"]},
        "triage": {triage_c["key"], triage_c["name"]},
        "frank": {frank_c["key"], frank_c["name"]},
    }

    # Cloud → Server: Dana by the table, Erin (unmapped) to the triage user
    key, twin = synced(node_a, f.alice_a, f.cloud, f.cid, f"Owned {t}")
    f.alice_a.set_assignee(key, dana_a["accountId"])
    eventually(lambda: assignee_id(f.alice_c, twin) in server_ids["dana"])
    f.alice_a.set_assignee(key, frank_a["accountId"])
    eventually(lambda: assignee_id(f.alice_c, twin) in server_ids["frank"])
    f.alice_a.set_assignee(key, erin_a["accountId"])
    eventually(lambda: assignee_id(f.alice_c, twin) in server_ids["triage"])
    # the unmapped person is named in the twin's history, not an error
    eventually(lambda: f"Erin {t}" in json.dumps(history(node_c, f.cid, twin)))
    # the fallback written there is not taken for an edit there: a later change from
    # there leaves Erin assigned here
    f.alice_c.update_issue(twin, IssueFields(labels=("seen",)))
    eventually(lambda: f.alice_a.get_issue(key).labels == ("seen",))
    assert assignee_id(f.alice_a, key) == erin_a["accountId"]

    # Server → Cloud: Dana by the table, Frank by e-mail, Gus (unmapped) leaves it
    # unassigned
    other, other_twin = synced(node_c, f.alice_c, f.server, f.cid, f"Theirs {t}")
    f.alice_c.set_assignee(other, dana_c["key"])
    eventually(lambda: assignee_id(f.alice_a, other_twin) == dana_a["accountId"])
    f.alice_c.set_assignee(other, frank_c["key"])
    eventually(lambda: assignee_id(f.alice_a, other_twin) == frank_a["accountId"])
    f.alice_c.set_assignee(other, gus_c["key"])
    eventually(lambda: assignee_id(f.alice_a, other_twin) is None)
    f.alice_a.update_issue(other_twin, IssueFields(labels=("seen",)))
    eventually(lambda: f.alice_c.get_issue(other).labels == ("seen",))
    assert assignee_id(f.alice_c, other) in {gus_c["key"], gus_c["name"]}  # Gus stays there

    assert open_errors(node_a, f.cid, {key, other_twin}) == []
    assert open_errors(node_c, f.cid, {twin, other}) == []
    for node, k in ((node_a, key), (node_c, twin), (node_c, other), (node_a, other_twin)):
        assert twin_status(node, f.cid, k)["status"] == "synced"


# --- d. the remote link back ------------------------------------------------------------------


def link_titles(tracker, key: str) -> list[str]:
    return [link.title for link in tracker.remote_links(key)]


def test_both_issues_carry_the_link_back_until_syncing_stops(node_a, node_c, fidelity):
    f, t = fidelity, tag()
    key, twin = synced(node_a, f.alice_a, f.cloud, f.cid, f"Linked back {t}")
    eventually(lambda: f"Synced with {twin} by Twinsync" in link_titles(f.alice_a, key))
    eventually(lambda: f"Synced with {key} by Twinsync" in link_titles(f.alice_c, twin))
    (here,) = [lk for lk in f.alice_a.remote_links(key) if lk.global_id == f"twinsync:{f.cid}"]
    assert here.url.endswith(f"/browse/{twin}")

    stopped = node_a.delete(f"/api/v1/connections/{f.cid}/twins/{key}")
    assert stopped.status_code == 204, stopped.text
    eventually(lambda: twin_status(node_c, f.cid, twin)["status"] == "stopped", timeout=60)
    eventually(lambda: link_titles(f.alice_a, key) == [])
    eventually(lambda: link_titles(f.alice_c, twin) == [])
    assert f.alice_c.get_issue(twin).summary == f"Linked back {t}"  # both issues stay
