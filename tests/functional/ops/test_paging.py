"""Every admin-API list pages: ``limit`` and ``cursor`` in, ``Link: <…>; rel="next"`` out.

Each list is walked the way a client walks it (follow the Link until there is none) with
more items than one page; the pages together are the list read in one page, in the same
order. Items added between two page reads never make an item that was there be skipped
or read twice. A bad ``limit`` or a cursor that was altered, truncated or made for another
list is a 400 naming the parameter.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import admin_headers
from tests.factories.link_pages import client_fetch, items, next_link, path_of, walk


def fetch_of(ops):
    return client_fetch(ops.client, admin_headers())


def same(item: Any) -> str:
    return json.dumps(item, sort_keys=True)


# --- what each list holds and how a test adds to it -----------------------------------------


def add_connections(ops, n: int) -> None:
    for _ in range(n):
        status, body = ops.api(
            "POST",
            "/api/v1/connections",
            {
                "destination_url": None,
                "mode": "basic",
                "local_short_name": "Ops",
                "remote_short_name": "Far",
                "name": f"far-{uuid.uuid4().hex[:8]}",
                "incoming_project": "OPS",
            },
        )
        assert status == 201, body


def add_twins(ops, n: int) -> None:
    for i in range(n):
        issue = ops.tracker.add_issue("OPS", f"paged twin {i}")
        status, body = ops.api("POST", ops.conn("/sync"), {"issue_key": issue.key})
        assert status == 202, body


def add_errors(ops, n: int) -> None:
    from chalicelib.sync.events import record_error

    for i in range(n):
        record_error(
            stage="apply",
            connection_id=ops.connection_id,
            issue_key=f"OPS-{i}",
            exc=RuntimeError(f"failure {uuid.uuid4().hex}"),
        )


HISTORY_KEY = "OPS-H"


def history_twin(ops) -> None:
    from chalicelib.store.models import TwinModel

    TwinModel(connection_id=ops.connection_id, local_key=HISTORY_KEY, status="synced").save()


def add_history(ops, n: int) -> None:
    from chalicelib.sync.events import record_transaction

    for _ in range(n):
        record_transaction(
            ops.connection_id,
            HISTORY_KEY,
            direction="outgoing",
            changes=[f"summary-{uuid.uuid4().hex}"],
            outcome="sent",
        )


def add_audit(ops, n: int) -> None:
    from chalicelib.store import audit

    for i in range(n):
        audit.record("test.paged", connection_id=ops.connection_id, details={"n": i})


def add_jobs(ops, n: int) -> None:
    for _ in range(n):
        status, body = ops.api("POST", ops.conn("/bulk-sync"), {"jql": "project = OPS"})
        assert status == 202, body


def add_triggers(ops, n: int) -> None:
    for i in range(n):
        status, body = ops.api(
            "POST", ops.conn("/triggers"), {"jql": f'project = OPS AND summary ~ "t{i}"'}
        )
        assert status == 201, body


def add_webhooks(ops, n: int) -> None:
    from chalicelib.sync.notify import MAX_WEBHOOKS, webhooks

    for _ in range(min(n, MAX_WEBHOOKS - len(webhooks()))):
        url = f"http://127.0.0.1:9/hook-{uuid.uuid4().hex[:8]}"
        status, body = ops.api("POST", "/api/v1/notifications/webhooks", {"url": url})
        assert status == 201, body


@dataclass(frozen=True)
class Listed:
    name: str
    path: Callable[[Any], str]
    add: Callable[[Any, int], None]
    key: str | None = None  # the list inside an object body
    prepare: Callable[[Any], None] | None = None
    seed: int = 7
    limit: int = 3


LISTS = [
    Listed("connections", lambda ops: "/api/v1/connections", add_connections),
    Listed("twins", lambda ops: ops.conn("/twins"), add_twins),
    Listed("errors", lambda ops: "/api/v1/errors", add_errors),
    Listed(
        "history",
        lambda ops: ops.conn(f"/twins/{HISTORY_KEY}/history"),
        add_history,
        prepare=history_twin,
    ),
    Listed("audit", lambda ops: "/api/v1/audit", add_audit),
    Listed("jobs", lambda ops: "/api/v1/jobs", add_jobs),
    Listed(
        "connection jobs", lambda ops: f"/api/v1/jobs?connection_id={ops.connection_id}", add_jobs
    ),
    Listed("triggers", lambda ops: ops.conn("/triggers"), add_triggers),
    Listed(
        "webhooks",
        lambda ops: "/api/v1/notifications/webhooks",
        add_webhooks,
        key="webhooks",
        seed=3,
        limit=2,
    ),
]


def with_query(path: str, query: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}{query}"


def whole(ops, listed: Listed) -> list[Any]:
    """The list read in one page (every list here holds fewer than 500 items)."""
    status, body, headers = fetch_of(ops)(with_query(listed.path(ops), "limit=500"))
    assert status == 200, body
    assert next_link(headers) is None
    return body[listed.key] if listed.key else body


@pytest.mark.parametrize("listed", LISTS, ids=[item.name for item in LISTS])
def test_every_list_is_walked_page_by_page_following_the_link(ops, listed):
    if listed.prepare:
        listed.prepare(ops)
    listed.add(ops, listed.seed)
    expected = whole(ops, listed)
    assert len(expected) > listed.limit

    pages = walk(fetch_of(ops), with_query(listed.path(ops), f"limit={listed.limit}"))

    assert len(pages) >= 2
    assert all(len(p.body[listed.key] if listed.key else p.body) <= listed.limit for p in pages)
    assert pages[-1].link is None
    assert all(p.query["limit"] == [str(listed.limit)] for p in pages[:-1])
    assert [same(i) for i in items(pages, listed.key)] == [same(i) for i in expected]


@pytest.mark.parametrize("listed", LISTS, ids=[item.name for item in LISTS])
def test_items_added_between_page_reads_skip_or_repeat_nothing(ops, listed):
    if listed.prepare:
        listed.prepare(ops)
    listed.add(ops, listed.seed)
    identity = ident_of(listed.name)
    before = [identity(i) for i in whole(ops, listed)]

    pages = walk(
        fetch_of(ops),
        with_query(listed.path(ops), f"limit={listed.limit}"),
        between=lambda n: listed.add(ops, 2),
    )

    seen = [identity(i) for i in items(pages, listed.key)]
    assert len(seen) == len(set(seen)), "an item was read twice"
    assert all(seen.count(i) == 1 for i in before), "an item present from the start was missed"
    assert len(whole(ops, listed)) > len(before)  # items were indeed added meanwhile


def ident_of(name: str) -> Callable[[dict[str, Any]], str]:
    """What identifies an item of each list (jobs and twins change while a walk runs)."""
    if name == "twins":
        return lambda twin: twin["local"]["key"]
    if name == "history":
        return lambda entry: entry["changes"][0]
    return lambda item: item["id"]


# --- the new lists ------------------------------------------------------------------------


def test_the_twins_list_is_newest_first_in_the_twin_shape(ops):
    add_twins(ops, 4)
    status, twins = ops.api("GET", ops.conn("/twins"))
    assert status == 200
    assert len(twins) == 4
    keys = [t["local"]["key"] for t in twins]
    numbers = [int(k.split("-")[1]) for k in keys]
    assert numbers == sorted(numbers, reverse=True)  # made one after the other
    assert twins[0] == ops.api("GET", ops.conn(f"/twins/{keys[0]}"))[1]
    assert ops.api("GET", "/api/v1/connections/nope/twins")[0] == 404


def test_the_jobs_list_is_newest_first_each_as_the_job_route_shows_it(ops):
    add_jobs(ops, 3)
    ops.api("POST", f"/api/v1/jobs/{whole_jobs(ops)[1]['id']}/cancel")
    jobs = whole_jobs(ops)
    assert len(jobs) == 3
    assert [j["id"] for j in jobs] == sorted((j["id"] for j in jobs), reverse=True)
    for job in jobs:
        assert job == ops.api("GET", f"/api/v1/jobs/{job['id']}")[1]
    assert jobs[1]["state"] == "cancelling"


def whole_jobs(ops, connection_id: str | None = None):
    query = f"?connection_id={connection_id}" if connection_id else ""
    status, jobs = ops.api("GET", f"/api/v1/jobs{query}")
    assert status == 200, jobs
    return jobs


def test_the_jobs_list_of_one_connection_holds_its_jobs_only_and_refuses_other_cursors(ops):
    add_jobs(ops, 4)
    for _ in range(3):
        status, body = ops.api(
            "POST", f"/api/v1/connections/{ops.other_id}/bulk-sync", {"jql": "project = SUP"}
        )
        assert status == 202, body
    ours = [j["id"] for j in whole_jobs(ops, ops.connection_id)]
    theirs = [j["id"] for j in whole_jobs(ops, ops.other_id)]
    assert (len(ours), len(theirs)) == (4, 3)
    assert [j["id"] for j in whole_jobs(ops) if j["id"] in ours] == ours  # newest first
    pages = walk(fetch_of(ops), f"/api/v1/jobs?connection_id={ops.connection_id}&limit=3")
    assert len(pages) == 2
    assert pages[0].query["connection_id"] == [ops.connection_id]
    assert [j["id"] for j in items(pages)] == ours
    assert {j["connection_id"] for j in items(pages)} == {ops.connection_id}
    assert whole_jobs(ops, "nope") == []

    node_cursor = cursor_of(first_link(ops, "/api/v1/jobs?limit=2"))
    our_cursor = cursor_of(
        first_link(ops, f"/api/v1/jobs?connection_id={ops.connection_id}&limit=2")
    )
    refused = {
        "the node's on a connection's": (
            f"connection_id={ops.connection_id}&cursor={quote(node_cursor)}"
        ),
        "a connection's on the node's": f"cursor={quote(our_cursor)}",
        "a connection's on another's": f"connection_id={ops.other_id}&cursor={quote(our_cursor)}",
    }
    for why, query in refused.items():
        status, body = ops.api("GET", f"/api/v1/jobs?{query}")
        assert status == 400, (why, body)
        assert (body["error"]["code"], body["error"]["field"]) == ("invalid_field", "cursor"), why
    assert (
        ops.api(
            "GET", f"/api/v1/jobs?connection_id={ops.connection_id}&cursor={quote(our_cursor)}"
        )[0]
        == 200
    )


# --- limits and cursors -------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["0", "501", "x", "-1", "1.5", "", "1e2", "00000000001"])
def test_a_limit_outside_1_to_500_is_a_400_naming_it(ops, limit):
    for listed in LISTS:
        status, body = ops.api("GET", with_query(listed.path(ops), f"limit={limit}"))
        if listed.name == "history" and status == 404:
            continue  # no such twin here: the twin is looked up first
        assert status == 400, (listed.name, body)
        assert body["error"]["code"] == "invalid_field"
        assert body["error"]["field"] == "limit"


def test_limit_1_and_500_are_accepted_and_the_default_is_100(ops):
    add_audit(ops, 101)
    status, one, _ = fetch_of(ops)("/api/v1/audit?limit=1")
    assert status == 200 and len(one) == 1
    assert len(fetch_of(ops)("/api/v1/audit?limit=500")[1]) > 101
    _, default, headers = fetch_of(ops)("/api/v1/audit")
    assert len(default) == 100
    assert "limit=100" in next_link(headers)


def first_link(ops, path: str) -> str:
    status, body, headers = fetch_of(ops)(path)
    assert status == 200, body
    link = next_link(headers)
    assert link is not None
    return link


def cursor_of(link: str) -> str:
    from urllib.parse import parse_qs, urlsplit

    return parse_qs(urlsplit(link).query)["cursor"][0]


def test_cursors_that_were_altered_truncated_or_made_for_another_list_are_400(ops):
    add_errors(ops, 5)
    add_audit(ops, 5)
    add_twins(ops, 3)
    errors_cursor = cursor_of(first_link(ops, "/api/v1/errors?limit=2"))
    audit_cursor = cursor_of(first_link(ops, "/api/v1/audit?limit=2"))
    twins_cursor = cursor_of(first_link(ops, ops.conn("/twins?limit=1")))
    payload, tag = errors_cursor.split(".")
    flipped = payload[:-3] + ("A" if payload[-3] != "A" else "B") + payload[-2:]
    before = whole(ops, LISTS[2])

    bad = {
        "altered": f"{flipped}.{tag}",
        # the first character: the last one of unpadded base64url may only carry unused bits
        "altered tag": f"{payload}.{'A' if tag[0] != 'A' else 'B'}{tag[1:]}",
        "truncated": errors_cursor[:-5],
        "payload only": payload,
        "another list": audit_cursor,
        "not base64": "%%%",
        "empty": "",
        "huge": "A" * 5000,
    }
    for why, cursor in bad.items():
        status, body = ops.api("GET", "/api/v1/errors?limit=2&cursor=" + quote(cursor))
        assert status == 400, (why, body)
        assert body["error"] == {
            "code": "invalid_field",
            "field": "cursor",
            "message": body["error"]["message"],
        }, why

    # another connection's list of the same kind
    add_connections(ops, 1)
    other = next(
        c["id"] for c in whole(ops, LISTS[0]) if c["id"] not in (ops.connection_id, ops.other_id)
    )
    status, body = ops.api("GET", f"/api/v1/connections/{other}/twins?cursor={quote(twins_cursor)}")
    assert (status, body["error"]["field"]) == (400, "cursor")
    # the other direction of the audit log
    status, body = ops.api("GET", f"/api/v1/audit?format=jsonl&cursor={quote(audit_cursor)}")
    assert (status, body["error"]["field"]) == (400, "cursor")

    assert whole(ops, LISTS[2]) == before  # nothing changed
    assert ops.api("GET", "/api/v1/errors?limit=2&cursor=" + quote(errors_cursor))[0] == 200


def quote(text: str) -> str:
    from urllib.parse import quote as url_quote

    return url_quote(text, safe="")


# --- filters and the URL ------------------------------------------------------------------


def test_the_link_keeps_the_filters_and_is_absolute_on_the_public_url(ops):
    from chalicelib.sync.events import record_error

    add_errors(ops, 3)
    record_error(stage="apply", connection_id="elsewhere", issue_key="X-1", exc=RuntimeError("x"))
    first = f"/api/v1/errors?connection_id={ops.connection_id}&status=open&limit=2"
    pages = walk(fetch_of(ops), first)
    assert pages[0].link.startswith("https://a.twinsync.test/api/v1/errors?")
    assert pages[0].query["connection_id"] == [ops.connection_id]
    assert pages[0].query["status"] == ["open"]
    found = items(pages)
    assert len(found) == 3 and {e["connection_id"] for e in found} == {ops.connection_id}

    add_audit(ops, 3)
    audit_pages = walk(fetch_of(ops), f"/api/v1/audit?connection_id={ops.connection_id}&limit=2")
    assert audit_pages[0].query["connection_id"] == [ops.connection_id]
    assert {e["connection_id"] for e in items(audit_pages)} == {ops.connection_id}


def test_the_errors_list_filters_by_status(ops):
    from chalicelib.sync import control

    add_errors(ops, 3)
    (first, *_) = whole(ops, LISTS[2])
    control.resolve_error(first["id"])
    assert [e["id"] for e in ops.api("GET", "/api/v1/errors?status=resolved")[1]] == [first["id"]]
    assert len(ops.api("GET", "/api/v1/errors")[1]) == 2
    assert len(ops.api("GET", "/api/v1/errors?status=all")[1]) == 3
    status, body = ops.api("GET", "/api/v1/errors?status=closed")
    assert (status, body["error"]["field"]) == (400, "status")


def test_the_errors_list_reads_past_the_newest_500(ops):
    """It used to read the newest 500 records only: a filter now pages through them all."""
    from chalicelib.store.models import EventModel, new_id
    from chalicelib.store.namespaces import ERRORS_PK

    add_errors(ops, 2)
    with EventModel.batch_write() as batch:
        for i in range(600):
            eid = new_id()
            batch.save(
                EventModel(
                    pk=ERRORS_PK,
                    sk=eid,
                    data={"id": eid, "connection_id": "elsewhere", "status": "open", "n": i},
                )
            )
    pages = walk(fetch_of(ops), f"/api/v1/errors?connection_id={ops.connection_id}&limit=100")
    assert len(items(pages)) == 2


def test_the_rules_history_pages_both_lists(ops):
    from chalicelib.store.models import ConnectionModel

    conn = ConnectionModel.get(ops.connection_id)
    conn.script_history = [
        {"script": s, "version": v, "text": f"{s} {v}", "by": "admin", "at": "2026-01-01T00:00:00Z"}
        for s in ("outgoing_script", "incoming_script")
        for v in range(1, 4)
    ]
    conn.mappings_history = [  # as rule_edits records them
        {"version": v, "mappings": [], "by": "admin", "node": "Node A", "at": f"2026-12-0{v}"}
        for v in range(1, 6)
    ]
    conn.save()
    path = ops.conn("/rules/history")

    pages = walk(fetch_of(ops), path + "?limit=2")

    scripts = items(pages, "scripts")
    assert [(h["script"], h["version"]) for h in scripts] == [
        (s, v) for s in ("incoming_script", "outgoing_script") for v in range(1, 4)
    ]
    assert [h["version"] for h in items(pages, "mappings")] == [1, 2, 3, 4, 5]
    assert len(pages) == 3 and all(len(p.body["scripts"]) <= 2 for p in pages)


def test_a_private_node_links_with_a_path(aws, monkeypatch):
    from tests.factories.cluster import three_nodes

    with three_nodes(aws, monkeypatch) as cluster:
        node = cluster["node-p"]
        with cluster.active(node):
            from chalicelib.store import audit

            for i in range(3):
                audit.record("test.paged", details={"n": i})
        answer = cluster.raw(node, "GET", "/api/v1/audit?limit=2", headers=admin_headers())
        assert answer.status == 200
        assert next_link(answer.headers).startswith("/api/v1/audit?limit=2&cursor=")


# --- the audit export ---------------------------------------------------------------------


def test_the_json_lines_export_holds_everything_beyond_1000_oldest_first(ops):
    from chalicelib.store.models import EventModel, new_id
    from chalicelib.store.namespaces import AUDIT_PK

    with EventModel.batch_write() as batch:
        for i in range(1205):
            eid = new_id()
            entry = {  # an audit entry as store.audit records it
                "id": eid,
                "time": "2026-12-03T08:00:00.000Z",
                "actor": "system",
                "action": "test.bulk",
                "connection_id": None,
                "details": {"n": i},
            }
            batch.save(EventModel(pk=AUDIT_PK, sk=eid, data=entry))
    status, text, headers = fetch_of(ops)("/api/v1/audit?format=jsonl")
    assert status == 200
    assert headers["Content-Type"].startswith("application/x-ndjson")
    assert next_link(headers) is None
    lines = [json.loads(line) for line in text.splitlines()]
    ids = [entry["id"] for entry in lines]
    assert len(lines) == len(set(ids)) >= 1206  # and the connection's own entries
    assert ids == sorted(ids)
    bulk = [e["details"]["n"] for e in lines if e["action"] == "test.bulk"]
    assert sorted(bulk) == list(range(1205))

    pages = walk(fetch_of(ops), "/api/v1/audit?format=jsonl&limit=500")
    assert len(pages) == 3
    assert [json.loads(line)["id"] for p in pages for line in p.body.splitlines()] == ids
    assert path_of(pages[0].link).startswith("/api/v1/audit?format=jsonl&limit=500&cursor=")


@pytest.mark.parametrize("listed", LISTS, ids=[item.name for item in LISTS])
def test_every_list_refuses_a_cursor_made_for_another_list(ops, listed):
    if listed.prepare:
        listed.prepare(ops)
    add_audit(ops, 2)
    add_errors(ops, 2)
    foreign = "/api/v1/errors?limit=1" if listed.name == "audit" else "/api/v1/audit?limit=1"
    cursor = cursor_of(first_link(ops, foreign))
    before = whole(ops, listed)
    status, body = ops.api("GET", with_query(listed.path(ops), f"cursor={quote(cursor)}"))
    assert status == 400, body
    assert (body["error"]["code"], body["error"]["field"]) == ("invalid_field", "cursor")
    assert whole(ops, listed) == before


def test_an_export_larger_than_one_answer_continues_behind_the_link(ops, monkeypatch):
    from chalicelib.api import ops as ops_routes

    add_audit(ops, 30)
    everything = fetch_of(ops)("/api/v1/audit?format=jsonl")[1].splitlines()
    monkeypatch.setattr(ops_routes, "EXPORT_PAGE", 4)  # read 4 entries at a time
    monkeypatch.setattr(ops_routes, "EXPORT_MAX_BYTES", 1500)  # a few reads an answer

    pages = walk(fetch_of(ops), "/api/v1/audit?format=jsonl")

    assert len(pages) >= 3
    assert all("limit" not in p.query for p in pages[:-1])  # each answer as much as fits
    assert [line for p in pages for line in p.body.splitlines()] == everything
