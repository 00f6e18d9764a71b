"""Script and Visual modes over the local stack: node a (Jira Cloud sandbox) and node c
(public, Jira Server sandbox "b"), real node processes, scripts in real sandbox processes.

- the default scripts sync exactly what Basic syncs;
- an edited script (type mapping, labels, a custom field by name) changes what syncs;
- the test run reports and writes nothing;
- an escape attempt errors only its issue, another issue keeps syncing;
- Visual mappings with value maps and filters sync what they say, both ways.
"""

from __future__ import annotations

import uuid

import pytest

from chalicelib.trackers.base import Body, IssueFields
from tests.stack.conftest import eventually, issue_requests, tracker_as, waiting

pytestmark = pytest.mark.stack

CUSTOMER = "customfield_10050"


def adf(text: str) -> dict:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


@pytest.fixture(scope="module")
def support_project(stack_info) -> str:
    """A project on tracker b whose types differ from a's (Bug there is Problem here)."""
    from devstack.sandbox_jira.admin import SandboxAdmin

    key = "PRB" + uuid.uuid4().hex[:4].upper().replace("0", "Q")
    SandboxAdmin(stack_info["trackers"]["b"]["url"]).create_project(
        key, "Problems", issue_types=["Problem", "Task", "Incident"], default_issue_type="Task"
    )
    return key


def connect(node_a, node_c, mode: str, project_c: str) -> str:
    created = node_a.post(
        "/api/v1/connections",
        {
            "destination_url": node_c.url,
            "mode": mode,
            "local_short_name": "Acme",
            "remote_short_name": "Initech",
            "name": f"{mode}-{uuid.uuid4().hex[:6]}",
            "incoming_project": "ALPHA",
        },
    )
    assert created.status_code == 201, created.text
    accepted = node_c.post(
        "/api/v1/invitations/accept",
        {"invitation_code": created.json()["invitation_code"], "incoming_project": project_c},
    )
    assert accepted.status_code == 201, accepted.text
    return accepted.json()["connection"]["id"]


def twin_on_c(node_a, cid: str, key: str, tracker_c):
    """The issue on c that ``key`` on a is synced with (once both ends know it)."""

    def remote_key():
        twin = node_a.get(f"/api/v1/connections/{cid}/twins/{key}")
        return twin.status_code == 200 and (twin.json()["remote"] or {}).get("key")

    return tracker_c.get_issue(eventually(remote_key))


def new_issue(tracker, summary: str, **fields):
    return tracker.create_issue(
        "ALPHA",
        IssueFields(summary=summary, description=Body("adf", adf("It smokes")), **fields),
    )


def outcomes(node, cid: str, key: str) -> list[str]:
    """What ``node`` recorded doing with ``key``, oldest first."""
    history = node.get(f"/api/v1/connections/{cid}/twins/{key}/history").json()
    return [h["outcome"] for h in reversed(history)]


def sync(node, cid: str, key: str) -> None:
    answer = node.post(f"/api/v1/connections/{cid}/sync", {"issue_key": key})
    assert answer.status_code == 202, answer.text


def test_default_scripts_sync_exactly_what_basic_syncs(stack_info, node_a, node_c):
    alice_a, alice_c = tracker_as(stack_info, "a"), tracker_as(stack_info, "b")
    basic = connect(node_a, node_c, "basic", "SUP")
    script = connect(node_a, node_c, "script", "SUP")
    shown = node_a.get(f"/api/v1/connections/{script}").json()
    assert "replica.summary = issue.summary" in shown["outgoing_script"]
    tag = uuid.uuid4().hex[:8]
    ref = new_issue(alice_a, f"Printer on fire {tag}", issue_type="Bug")
    alice_a.add_comment(ref.key, Body("adf", adf("First seen at 9am")))
    alice_a.upload_attachment(ref.key, "smoke.txt", b"lots of smoke", "text/plain")
    sync(node_a, basic, ref.key)
    sync(node_a, script, ref.key)

    by_basic = twin_on_c(node_a, basic, ref.key, alice_c)
    by_script = twin_on_c(node_a, script, ref.key, alice_c)
    assert by_basic.key != by_script.key
    for twin in (by_basic, by_script):
        eventually(lambda t=twin: len(alice_c.get_issue(t.key).comments) == 1)
        eventually(lambda t=twin: len(alice_c.get_issue(t.key).attachments) == 1)

    def same(a, b):
        a, b = alice_c.get_issue(a.key), alice_c.get_issue(b.key)
        assert (a.summary, a.issue_type, a.description, a.labels, a.priority) == (
            b.summary,
            b.issue_type,
            b.description,
            b.labels,
            b.priority,
        )
        assert [(c.body, c.public) for c in a.comments] == [(c.body, c.public) for c in b.comments]
        assert [(x.filename, x.size) for x in a.attachments] == [
            (x.filename, x.size) for x in b.attachments
        ]
        return True

    same(by_basic, by_script)
    alice_a.update_issue(ref.key, IssueFields(summary=f"Printer fixed {tag}"))
    eventually(lambda: alice_c.get_issue(by_script.key).summary == f"Printer fixed {tag}")
    eventually(lambda: alice_c.get_issue(by_basic.key).summary == f"Printer fixed {tag}")
    same(by_basic, by_script)


OUTGOING = f"""\
replica.summary = issue.summary
replica.description = issue.description
replica.type = issue.type
replica.labels = issue.labels
replica.fields["Customer"] = issue.fields["{CUSTOMER}"]
replica.comments = issue.comments
"""

INCOMING = f"""\
if changed("summary"):
    issue.summary = replica.summary
issue.type = {{"Bug": "Problem"}}.get(replica.type.name, "Task")
issue.labels = replica.labels + ["from-acme"]
issue.fields["{CUSTOMER}"] = replica.fields["Customer"]
issue.comments = merge_comments(replica.comments, public=False)
"""


@pytest.fixture(scope="module")
def scripted(node_a, node_c, support_project):
    cid = connect(node_a, node_c, "script", support_project)
    changed = node_a.patch(f"/api/v1/connections/{cid}", {"outgoing_script": OUTGOING})
    assert changed.status_code == 200, changed.text
    changed = node_c.patch(f"/api/v1/connections/{cid}", {"incoming_script": INCOMING})
    assert changed.status_code == 200, changed.text
    return cid


def test_an_edited_script_changes_what_syncs(stack_info, node_a, scripted):
    alice_a, alice_c = tracker_as(stack_info, "a"), tracker_as(stack_info, "b")
    ref = new_issue(
        alice_a,
        f"Scripted {uuid.uuid4().hex[:6]}",
        issue_type="Bug",
        labels=("customer",),
        custom={CUSTOMER: "ACME Corp"},
    )
    alice_a.add_comment(ref.key, Body("adf", adf("Seen by the night shift")))
    sync(node_a, scripted, ref.key)
    twin = twin_on_c(node_a, scripted, ref.key, alice_c)
    assert twin.issue_type == "Problem"
    assert sorted(twin.labels) == ["customer", "from-acme"]
    assert twin.fields.get(CUSTOMER) == "ACME Corp"
    comments = eventually(lambda: alice_c.get_issue(twin.key).comments)
    assert "night shift" in comments[0].body.value
    # a later change of the custom field follows the same script
    alice_a.update_issue(ref.key, IssueFields(custom={CUSTOMER: "Initrode"}))
    eventually(lambda: alice_c.get_issue(twin.key).fields.get(CUSTOMER) == "Initrode")


def test_the_test_run_reports_without_writing(
    local_stack, stack_info, node_a, node_c, scripted, support_project
):
    alice_a, alice_c = tracker_as(stack_info, "a"), tracker_as(stack_info, "b")
    ref = new_issue(
        alice_a, f"Dry run {uuid.uuid4().hex[:6]}", issue_type="Bug", custom={CUSTOMER: "X"}
    )
    run = node_a.post(f"/api/v1/connections/{scripted}/test-run", {"issue_key": ref.key})
    assert run.status_code == 200, run.text
    replica = run.json()["replica"]
    assert replica["fields"] == {"Customer": "X"} and replica["type"] == {"name": "Bug"}
    assert "summary" in run.json()["changes"]
    assert node_a.get(f"/api/v1/connections/{scripted}/twins/{ref.key}").status_code == 404

    # on the receiving side, with that replica: what would be written, and nothing is
    key = alice_c.create_issue(
        support_project, IssueFields(summary="Already here", issue_type="Incident")
    ).key
    before = alice_c.get_issue(key)
    run = node_c.post(
        f"/api/v1/connections/{scripted}/test-run", {"issue_key": key, "replica": replica}
    )
    assert run.status_code == 200, run.text
    plan = run.json()["plan"]
    assert plan["fields"]["issue_type"] == "Problem"
    assert plan["fields"]["custom"] == {CUSTOMER: "X"}
    # the test-run answered: whatever it did to the tracker is in the tracker's request log
    assert [r for r in issue_requests(local_stack, "b", before) if r["method"] != "GET"] == []
    assert node_c.get(f"/api/v1/connections/{scripted}/twins/{key}").status_code == 404
    after = alice_c.get_issue(key)
    assert (after.summary, after.issue_type, after.fields.get(CUSTOMER), after.updated) == (
        before.summary,
        before.issue_type,
        before.fields.get(CUSTOMER),
        before.updated,
    )
    assert list(alice_c.search('summary ~ "Dry run"').issues) == []


def test_an_escape_attempt_errors_only_its_issue(stack_info, node_a, node_c, support_project):
    alice_a, alice_c = tracker_as(stack_info, "a"), tracker_as(stack_info, "b")
    cid = connect(node_a, node_c, "script", support_project)
    refused = node_a.patch(
        f"/api/v1/connections/{cid}",
        {"outgoing_script": "x = ().__class__.__bases__[0].__subclasses__()"},
    )
    assert refused.status_code == 400 and "line 1" in refused.json()["error"]["message"]
    escape = (
        "replica.summary = issue.summary\n"
        "replica.type = issue.type\n"
        "if 'escape' in issue.summary:\n"
        "    replica.summary = '{0.__class__.__mro__}'.format(issue)\n"
    )
    assert node_a.patch(f"/api/v1/connections/{cid}", {"outgoing_script": escape}).ok
    tag = uuid.uuid4().hex[:6]
    bad = new_issue(alice_a, f"escape attempt {tag}", issue_type="Bug")
    good = new_issue(alice_a, f"regular issue {tag}", issue_type="Bug")
    sync(node_a, cid, bad.key)
    sync(node_a, cid, good.key)

    twin = twin_on_c(node_a, cid, good.key, alice_c)
    assert twin.summary == f"regular issue {tag}"

    def error_of_bad():
        errors = node_a.get(f"/api/v1/errors?connection_id={cid}").json()
        return [e for e in errors if e["issue_key"] == bad.key]

    errors = eventually(error_of_bad)  # one per ingest that ran the script (sync, webhook)
    for error in errors:
        assert "outgoing_script line 4" in error["message"] and "format" in error["message"]
        assert error["attempts"] == 1  # a script failure is not retried
    shown = node_a.get(f"/api/v1/connections/{cid}/twins/{bad.key}").json()
    assert shown["status"] == "error" and shown["remote"] is None
    assert list(alice_c.search(f'summary ~ "escape attempt {tag}"').issues) == []


# --- Visual --------------------------------------------------------------------------------

MAPPINGS = [
    {
        "side": "local",
        "direction": "outgoing",
        "scope": {"issue_types": ["Bug", "Task"]},
        "fields": [
            {"field": "summary"},
            {"field": "description"},
            {"field": "issue_type", "values": {"Bug": "Problem"}, "default": "Task"},
            {"field": "labels", "values": {"urgent": "p1"}},
        ],
    },
    {
        "side": "remote",
        "direction": "incoming",
        "scope": {"labels": ["customer"]},
        "fields": [
            {"field": "summary"},
            {"field": "description"},
            {"field": "issue_type"},
            {"field": "labels"},
        ],
    },
    {
        "side": "remote",
        "direction": "outgoing",
        "fields": [
            {"field": "summary"},
            {"field": "comments"},
            {"field": "labels", "values": {"p1": "urgent", "from-support": "support"}},
        ],
    },
    {
        "side": "local",
        "direction": "incoming",
        "fields": [{"field": "summary"}, {"field": "comments"}, {"field": "labels"}],
    },
]


def test_visual_mappings_sync_what_they_say_both_ways(
    local_stack, stack_info, node_a, node_c, support_project
):
    alice_a, alice_c = tracker_as(stack_info, "a"), tracker_as(stack_info, "b")
    cid = connect(node_a, node_c, "visual", support_project)
    saved = node_a.patch(f"/api/v1/connections/{cid}", {"mappings": MAPPINGS})
    assert saved.status_code == 200, saved.text
    theirs = node_c.get(f"/api/v1/connections/{cid}").json()["mappings"]
    assert [(m["side"], m["direction"]) for m in theirs] == [
        ("remote", "outgoing"),
        ("local", "incoming"),
        ("local", "outgoing"),
        ("remote", "incoming"),
    ]
    (change,) = node_c.get(f"/api/v1/connections/{cid}/rules/history").json()["mappings"]
    assert change["node"] and change["via"] == "node_api"

    tag = uuid.uuid4().hex[:6]
    internal = new_issue(alice_a, f"internal only {tag}", issue_type="Bug", labels=("internal",))
    story = new_issue(alice_a, f"a story {tag}", issue_type="Story", labels=("customer",))
    wanted = new_issue(
        alice_a, f"customer bug {tag}", issue_type="Bug", labels=("customer", "urgent")
    )
    for ref in (internal, story, wanted):
        sync(node_a, cid, ref.key)

    # a → c: mapped type and labels, through both filters
    twin = twin_on_c(node_a, cid, wanted.key, alice_c)
    assert twin.summary == f"customer bug {tag}" and twin.issue_type == "Problem"
    assert sorted(twin.labels) == ["customer", "p1"]
    assert "It smokes" in twin.description.value

    # out of a's outgoing scope (Story) or c's incoming scope (no customer label): nothing.
    # Seen through: a read the story twice (the sync route, then ingest, which leaves it
    # out); a sent the internal one; c took everything a sent and applied or skipped it
    bot_a = tracker_as(stack_info, "a", "integration_user").myself().id
    eventually(
        lambda: (
            [r["user"] for r in issue_requests(local_stack, "a", story, method="GET")].count(bot_a)
            >= 2
        )
    )
    eventually(lambda: "queued" in outcomes(node_a, cid, internal.key))
    eventually(lambda: waiting(node_a, cid)["outgoing"]["pending"] == 0)
    eventually(lambda: waiting(node_c, cid)["incoming"]["pending"] == 0)
    assert "queued" not in outcomes(node_a, cid, story.key)
    assert [i.key for i in alice_c.search(f'summary ~ "{tag}"').issues] == [twin.key]
    story_twin = node_a.get(f"/api/v1/connections/{cid}/twins/{story.key}").json()
    assert story_twin["remote"] is None

    # c → a: summary, comments, labels mapped back; c's issue type change is not synced
    alice_c.update_issue(
        twin.key,
        IssueFields(
            summary=f"customer bug, fixed {tag}", labels=("customer", "p1", "from-support")
        ),
    )
    alice_c.add_comment(twin.key, Body("wiki", "Replaced the *fuser*"))
    eventually(lambda: alice_a.get_issue(wanted.key).summary == f"customer bug, fixed {tag}")
    eventually(
        lambda: sorted(alice_a.get_issue(wanted.key).labels) == ["customer", "support", "urgent"]
    )
    eventually(lambda: len(alice_a.get_issue(wanted.key).comments) == 1)
    assert "fuser" in str(alice_a.get_issue(wanted.key).comments[0].body.value)
    assert alice_a.get_issue(wanted.key).issue_type == "Bug"
