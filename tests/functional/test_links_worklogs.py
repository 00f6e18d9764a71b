"""Issue 18, Script mode end to end: issue links and worklogs both ways, through the real
queues of one node with a local connection (projects OPS and SUP of one memory tracker,
as in ``tests/functional/ops``)."""

from __future__ import annotations

import pytest

from chalicelib.rules.script.defaults import DEFAULT_INCOMING, DEFAULT_OUTGOING
from chalicelib.rules.script.runner import ChildProcessRunner, ScriptLimits, use_runner
from chalicelib.trackers.base import Body, LinkType
from tests.functional.ops.conftest import ops  # noqa: F401 - the harness fixture

OUTGOING = DEFAULT_OUTGOING + "replica.links = issue.links\nreplica.worklogs = issue.worklogs\n"
INCOMING = DEFAULT_INCOMING + "issue.links = replica.links\nissue.worklogs = merge_worklogs()\n"
PERSON = "acc-alice"


@pytest.fixture(autouse=True)
def sandbox():
    runner = ChildProcessRunner(ScriptLimits(cpu_seconds=2, wall_seconds=5.0), warm=1)
    previous = use_runner(runner)
    yield runner
    use_runner(previous)
    runner.close()


def scripted(ops, incoming=INCOMING, outgoing=OUTGOING):  # noqa: F811
    for cid in (ops.connection_id, ops.other_id):
        path = f"/api/v1/connections/{cid}"
        status, body = ops.api("POST", f"{path}/upgrade", {"mode": "script"})
        assert status == 200, body
        scripts = {"outgoing_script": outgoing, "incoming_script": incoming}
        status, body = ops.api("PATCH", path, scripts)
        assert status == 200, body
    return ops


@pytest.fixture
def env(ops):  # noqa: F811
    return scripted(ops)


def links_of(env, key):
    return {(x.type, x.direction, x.issue_key) for x in env.tracker.issues[key].links}


def changed(env, *keys):
    """The webhooks a person's change of ``keys`` brings (a link names both issues)."""
    for key in keys:
        env.webhook(key)
    env.pump.drain()


def test_a_link_between_two_synced_issues_arrives_with_its_type_and_direction(env):
    a, a2 = env.sync_pair("Printer on fire")
    b, b2 = env.sync_pair("Toner empty")
    env.tracker.link_issues("Blocks", a, b)  # a blocks b
    changed(env, a, b)
    assert links_of(env, a2) == {("Blocks", "outward", b2)}
    assert links_of(env, b2) == {("Blocks", "inward", a2)}
    # the other direction: b2 (there) is blocked... by a new link made there
    c, c2 = env.sync_pair("Paper jam")
    env.tracker.link_issues("Relates", c2, a2)  # made on the SUP side, c2 the source
    changed(env, c2, a2)
    assert ("Relates", "outward", a) in links_of(env, c)
    assert ("Relates", "inward", c) in links_of(env, a)
    assert env.tracker.calls.count("add_issue_link") == 2  # never doubled, no ping-pong
    assert env.twin(a).status == "synced" and env.twin(c).status == "synced"


def test_removal_follows_and_stops(env):
    a, a2 = env.sync_pair("Printer on fire")
    b, b2 = env.sync_pair("Toner empty")
    link = env.tracker.link_issues("Blocks", a, b)
    changed(env, a, b)
    assert links_of(env, a2) == {("Blocks", "outward", b2)}
    env.tracker.delete_issue_link(link)
    changed(env, a, b)
    assert links_of(env, a2) == set() and links_of(env, b2) == set()
    assert links_of(env, a) == set()  # not brought back by an echo
    assert env.tracker.calls.count("delete_issue_link") == 2  # the person's, and ours


def test_our_copy_of_a_link_read_back_after_its_removal_there_does_not_bring_it_back(env):
    """The echo of an old value: SUP's replica still lists its copy of the link when OPS
    has removed the link meanwhile; OPS does not take the copy for a new link."""
    from chalicelib.trackers.base import IssueFields

    a, a2 = env.sync_pair("Printer on fire")
    b, b2 = env.sync_pair("Toner empty")
    link = env.tracker.link_issues("Blocks", a, b)
    changed(env, a, b)
    assert links_of(env, a2) == {("Blocks", "outward", b2)}
    # noted as our copy (pending until a read of a2 shows it: the anchor)
    assert [n[:3] for n in env.twin(a2, env.other_id).links_copied] == [["blocks", "outward", b2]]
    env.tracker.delete_issue_link(link)  # removed on OPS; its webhook comes later
    env.tracker.update_issue(a2, IssueFields(summary="Printer still on fire"))
    changed(env, a2)  # SUP's replica of a2, with its copy of the link, reaches OPS first
    assert env.tracker.issues[a].summary == "Printer still on fire"
    assert links_of(env, a) == set()  # not brought back
    changed(env, a, b)  # now the removal reaches SUP
    assert links_of(env, a2) == set() and links_of(env, b2) == set()
    assert links_of(env, a) == set() and links_of(env, b) == set()
    # a link a person makes again on SUP is theirs, not a copy: it reaches OPS
    env.tracker.link_issues("Blocks", a2, b2)
    changed(env, a2, b2)
    assert links_of(env, a) == {("Blocks", "outward", b)}


def read_now(env, key):
    """The ingest of ``key``'s webhook, run at this very moment (another worker), as the
    queue would: retried later when the twin is busy."""
    from chalicelib.queues import QueueMessage
    from chalicelib.root import root
    from chalicelib.sync.ingest import handle_ingest
    from chalicelib.sync.messages import IngestMessage
    from chalicelib.trackers.retry import RetryLater

    hint = IngestMessage(key, source="webhook", kind="issuelink_created")
    message = QueueMessage("m", "r", hint.to_body(), None, 1, "arn:aws:sqs:us-east-1:1:i.fifo")
    try:
        handle_ingest(message, deps=root().sync)
    except RetryLater:  # the twin held by the apply: the queue brings it again
        env.webhook(key, kind="issuelink_created", author=None)


def test_a_read_of_the_other_issue_while_we_copy_a_link_sends_it_as_our_copy(env):
    """An edit made during an apply. SUP's apply copies OPS's link; the link's webhook on
    the other issue is read by another worker before that apply has noted the copy, and
    the person removes the link on OPS before that replica gets there. The replica must
    carry the link as our copy, or OPS takes it for a new link and the removal is lost
    (seen once in the fidelity stack test, under load)."""
    a, a2 = env.sync_pair("Printer on fire")
    b, b2 = env.sync_pair("Toner empty")
    link = env.tracker.link_issues("Blocks", a, b)  # a person, on OPS
    real_add = env.tracker.add_issue_link

    def add_while_others_read(link_type, inward_key, outward_key):
        real_add(link_type, inward_key, outward_key)
        env.tracker.add_issue_link = real_add
        for key in (inward_key, outward_key):  # both issues' webhooks, read right away
            read_now(env, key)
        env.tracker.delete_issue_link(link)  # the person removes it on OPS meanwhile
        env.webhook(a)
        env.webhook(b)

    env.tracker.add_issue_link = add_while_others_read
    changed(env, a, b)
    env.pump.drain()
    assert links_of(env, a) == set() and links_of(env, b) == set()  # the removal stands
    assert links_of(env, a2) == set() and links_of(env, b2) == set()  # and reached SUP


def test_a_link_to_an_unsynced_issue_arrives_when_that_issue_syncs(env):
    a, a2 = env.sync_pair("Printer on fire")
    b = env.tracker.add_issue("OPS", "Toner empty").key
    env.tracker.link_issues("Blocks", b, a)  # b blocks a; b is not synced
    changed(env, a)
    assert links_of(env, a2) == set() and env.twin(a).status == "synced"  # no error
    assert env.api("POST", env.conn("/sync"), {"issue_key": b})[0] == 202
    env.pump.drain()
    b2 = env.twin_of(b).local_key
    assert links_of(env, b2) == {("Blocks", "outward", a2)}
    assert links_of(env, a2) == {("Blocks", "inward", b2)}


def test_a_link_to_an_unsynced_issue_arrives_whichever_end_syncs_first(env):
    a = env.tracker.add_issue("OPS", "Printer on fire").key
    b = env.tracker.add_issue("OPS", "Toner empty").key
    env.tracker.link_issues("Duplicate", a, b)
    for key in (b, a):  # the link's destination first
        assert env.api("POST", env.conn("/sync"), {"issue_key": key})[0] == 202
        env.pump.drain()
    a2, b2 = env.twin_of(a).local_key, env.twin_of(b).local_key
    assert links_of(env, a2) == {("Duplicate", "outward", b2)}
    assert env.tracker.calls.count("add_issue_link") == 1


def test_a_mapped_link_type_and_one_this_tracker_lacks(ops):  # noqa: F811
    scripted(ops)
    mapping = "names = {%r: %r}\n" + (
        "issue.links = [dict(l, type=names.get(l.type, l.type)) for l in replica.links]\n"
    )
    for cid, types in (
        (ops.other_id, ("Blocks", "Relates")),
        (ops.connection_id, ("Relates", "Blocks")),
    ):
        status, body = ops.api(
            "PATCH",
            f"/api/v1/connections/{cid}",
            {"incoming_script": DEFAULT_INCOMING + mapping % types},
        )
        assert status == 200, body
    env = ops
    a, a2 = env.sync_pair("Printer on fire")
    b, b2 = env.sync_pair("Toner empty")
    c, _c2 = env.sync_pair("Paper jam")
    link = env.tracker.link_issues("Blocks", a, b)
    changed(env, a, b)
    assert links_of(env, a2) == {("Relates", "outward", b2)}
    assert links_of(env, a) == {("Blocks", "outward", b)}  # the echo maps back: no-op
    env.tracker.delete_issue_link(link)
    changed(env, a, b)
    assert links_of(env, a2) == set()  # removed under its mapped type
    causes = LinkType("9", "Causes", "is caused by", "causes")
    env.tracker.link_types.append(causes)
    env.tracker.link_issues("Causes", a, c)
    env.tracker.link_types.remove(causes)  # a type the SUP side lacks (one tracker here)
    changed(env, a, c)
    twin = env.twin_of(a)
    assert twin.status == "error" and "Link type 'Causes' does not exist" in twin.error
    assert links_of(env, a2) == set() and env.tracker.issues[a2].summary == "Printer on fire"


WHEN = "2026-12-01T09:30:00.000+0100"


def test_worklogs_follow_both_ways_with_the_attribution_line(env):
    a, a2 = env.sync_pair("Printer on fire")
    logged = env.tracker.log_work(a, started=WHEN, seconds=3600, comment=Body("wiki", "fixed"))
    changed(env, a)
    (copy,) = env.tracker.issues[a2].worklogs
    assert (copy.started, copy.seconds) == ("2026-12-01T08:30:00.000+0000", 3600)
    assert copy.comment.value == "_Logged by A Person on Ops_\n\nfixed"
    assert copy.author.id == env.tracker.user.id
    assert len(env.tracker.issues[a].worklogs) == 1  # our copy does not come back
    # edit, then delete
    env.tracker.update_worklog(a, logged.id, seconds=5400)
    changed(env, a)
    (copy,) = env.tracker.issues[a2].worklogs
    assert copy.seconds == 5400
    env.tracker.delete_worklog(a, logged.id)
    changed(env, a)
    assert env.tracker.issues[a2].worklogs == ()
    # the other way
    env.tracker.log_work(a2, started="2026-12-02T10:00:00.000+0000", seconds=60)
    changed(env, a2)
    (back,) = env.tracker.issues[a].worklogs
    assert back.seconds == 60 and back.comment.value == "_Logged by A Person on Support_"
    assert env.tracker.calls.count("add_worklog") == 2


def test_a_copy_deleted_here_comes_back_when_its_worklog_changes(env):
    a, a2 = env.sync_pair("Printer on fire")
    logged = env.tracker.log_work(a, started=WHEN, seconds=3600)
    changed(env, a)
    (copy,) = env.tracker.issues[a2].worklogs
    env.tracker.delete_worklog(a2, copy.id)
    env.tracker.update_worklog(a, logged.id, seconds=7200)
    changed(env, a)
    (again,) = env.tracker.issues[a2].worklogs
    assert again.seconds == 7200 and again.id != copy.id


def test_a_retry_after_a_crash_maps_the_worklog_instead_of_doubling_it(env):
    from chalicelib.root import root
    from chalicelib.rules.plan import Plan, WorklogOp
    from chalicelib.sync import relations_apply
    from chalicelib.sync.links import get_connection

    a, a2 = env.sync_pair("Printer on fire")
    logged = env.tracker.log_work(a, started=WHEN, seconds=3600)

    def crash(**_):
        raise RuntimeError("injected crash after the worklog was written")

    root().sync.hooks["after_worklog"] = crash
    try:
        changed(env, a)  # written, not recorded
    finally:
        root().sync.hooks.pop("after_worklog", None)
    assert len(env.tracker.issues[a2].worklogs) == 1 and not env.twin_of(a).worklog_map
    # the queue's retry (its message comes back later): the same operation again
    op = WorklogOp("create", logged.id, started=WHEN, seconds=3600, hash="h1")
    twin = env.twin_of(a)
    problems = relations_apply.apply(
        get_connection(env.other_id), twin, None, Plan(worklogs=(op,)), deps=root().sync, heal=True
    )
    (copy,) = env.tracker.issues[a2].worklogs
    assert problems == [] and env.twin_of(a).worklog_map == {
        logged.id: {"local_id": copy.id, "hash": "h1"}
    }


def test_our_own_link_and_worklog_writes_do_not_bounce_back(env):
    from chalicelib.store.models import EntryModel
    from chalicelib.store.namespaces import outbox_pk

    a, a2 = env.sync_pair("Printer on fire")
    b, b2 = env.sync_pair("Toner empty")
    env.tracker.link_issues("Blocks", a, b)
    env.tracker.log_work(a, started=WHEN, seconds=3600)
    changed(env, a, b)
    assert links_of(env, a2) == {("Blocks", "outward", b2)}
    written = {k: i.updated for k, i in env.tracker.issues.items()}
    calls = len(env.tracker.calls)
    # Jira's webhooks of our writes: issuelink_created names both issues and no user
    for key in (a2, b2):
        env.webhook(key, kind="issuelink_created", author=None)
    env.pump.drain()
    # the link read back goes out once (links are items), and is a no-op on the other end
    assert {k: i.updated for k, i in env.tracker.issues.items()} == written
    writes = {"add_issue_link", "delete_issue_link", "add_worklog", "update_worklog"}
    assert not writes & set(env.tracker.calls[calls:])
    assert "list_link_types" not in env.tracker.calls[calls:]  # only read to add a link
    # and it stops: the same hints again send nothing new
    sent = len(list(EntryModel.query(outbox_pk(env.other_id))))
    assert sent > 0
    for key in (a2, b2):
        env.webhook(key, kind="issuelink_created", author=None)
    env.pump.drain()
    assert len(list(EntryModel.query(outbox_pk(env.other_id)))) == sent


def test_link_and_worklog_webhooks_bring_their_issues_by_id(env):
    import json
    import time

    from chalicelib.root import root
    from chalicelib.sync.intake import take_webhook
    from chalicelib.trackers.webhook import sign
    from tests.conftest import WEBHOOK_SECRET

    a, a2 = env.sync_pair("Printer on fire")
    b, b2 = env.sync_pair("Toner empty")

    def deliver(payload):
        raw = json.dumps({"timestamp": int(time.time() * 1000), **payload}).encode()
        headers = {"X-Hub-Signature": sign(WEBHOOK_SECRET, raw)}
        answer = take_webhook(headers, {}, raw, deps=root().sync)
        env.pump.drain()
        return answer["status"]

    link = env.tracker.link_issues("Blocks", a, b)
    ids = {k: env.tracker.issues[k].id for k in (a, b)}
    hint = {
        "webhookEvent": "issuelink_created",
        "issueLink": {"id": int(link), "sourceIssueId": ids[a], "destinationIssueId": ids[b]},
    }
    assert deliver(hint) == "queued"
    assert links_of(env, a2) == {("Blocks", "outward", b2)}
    assert links_of(env, b2) == {("Blocks", "inward", a2)}
    # Jira also says so with an issue update (a "Link" changelog item): harmless
    update = {
        "webhookEvent": "jira:issue_updated",
        "user": {"accountId": "acc-alice"},
        "issue": {"id": ids[b], "key": b},
        "changelog": {"items": [{"field": "Link", "toString": f"This issue is blocked by {a}"}]},
    }
    assert deliver(update) == "queued"
    assert env.tracker.calls.count("add_issue_link") == 1
    logged = env.tracker.log_work(b, started=WHEN, seconds=120)
    hint = {"webhookEvent": "worklog_created", "worklog": {"id": logged.id, "issueId": ids[b]}}
    assert deliver(hint) == "queued"
    assert [w.seconds for w in env.tracker.issues[b2].worklogs] == [120]


def test_a_link_webhook_queues_an_ingest_for_each_of_its_issues_once(node):
    import json
    import time

    from chalicelib.root import build_sync, root
    from chalicelib.sync.intake import take_webhook
    from chalicelib.trackers.webhook import sign
    from tests.conftest import WEBHOOK_SECRET

    sent = []
    deps = build_sync(
        root().settings,
        send=lambda url, body, *, group_id, dedup_id, region: sent.append((body, dedup_id)),
        fetch=lambda *a, **k: None,
    )
    raw = json.dumps(
        {
            "timestamp": int(time.time() * 1000),
            "webhookEvent": "issuelink_deleted",
            "issueLink": {"id": 7, "sourceIssueId": 10002, "destinationIssueId": 10003},
        }
    ).encode()
    headers = {"X-Hub-Signature": sign(WEBHOOK_SECRET, raw)}
    assert take_webhook(headers, {}, raw, deps=deps)["status"] == "queued"
    bodies = [json.loads(b) if isinstance(b, str) else b for b, _ in sent]
    assert [(b["issue_id"], b["kind"]) for b in bodies] == [
        ("10002", "issuelink_deleted"),
        ("10003", "issuelink_deleted"),
    ]
    assert len({dedup for _, dedup in sent}) == 2
    assert len({b["replay_claim"] for b in bodies}) == 2  # ingest claims each (ADR 0012)
    # sent again: the same deduplication ids, so the FIFO queue drops the copies
    assert take_webhook(headers, {}, raw, deps=deps)["status"] == "queued"
    assert {dedup for _, dedup in sent[2:]} == {dedup for _, dedup in sent[:2]}


def test_a_copy_noted_on_a_twin_another_worker_is_sending_is_not_written_over(env):
    """The notes are one attribute that an apply writes on the other issue's twin without
    holding it, while that twin's own send may be writing them: neither write is lost."""
    from chalicelib.store.models import TwinModel
    from chalicelib.sync.relations_apply import _set_copy, mark_copied

    _, a2 = env.sync_pair("Printer on fire")
    old = ["relates", "inward", "SUP-9", "2026-12-04T10:00:00.000Z"]  # a copy made earlier
    env.twin(a2, env.other_id).update(actions=[TwinModel.links_copied.set([old])])
    sending = env.twin(a2, env.other_id)  # the send read the twin (and its notes) here
    applying = env.twin(a2, env.other_id)
    _set_copy(applying, ("blocks", "outward", "SUP-7"), keep=True)  # an apply notes a copy
    # the send's newer read no longer shows the earlier copy: it forgets that one only
    mark_copied(sending, {"updated": "2026-12-04T11:00:00.000Z", "links": []})
    assert env.twin(a2, env.other_id).links_copied == [["blocks", "outward", "SUP-7", None]]
