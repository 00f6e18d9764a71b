"""The answer check itself (tests/contract_check.py): it must catch what does not fit."""

from __future__ import annotations

import json

from tests.contract_check import problems_of, template_of

JSON = {"Content-Type": "application/json; charset=utf-8"}
NODE = {
    "node_id": "node-a",
    "name": "Node A",
    "public_url": None,
    "tracker": {"kind": "jira_cloud", "url": "https://a.example"},
    "modes": ["basic"],
    "version": "0.1.0",
}


def test_literal_segments_win_over_parameters():
    assert template_of("/api/v1/connections/c1/triggers/preview") == (
        "/api/v1/connections/{cid}/triggers/preview"
    )
    assert template_of("/api/v1/connections/c1/triggers/t1") == (
        "/api/v1/connections/{cid}/triggers/{tid}"
    )
    assert template_of("/no/such/thing") is None


def test_a_conforming_answer_has_no_problem():
    assert problems_of("GET", "/api/v1/node?x=1", 200, JSON, json.dumps(NODE).encode()) == []


def test_a_missing_or_undocumented_field_is_a_problem():
    body = {**NODE, "secret": "x"}
    del body["name"]
    found = problems_of("GET", "/api/v1/node", 200, JSON, json.dumps(body))
    assert any("'name' is a required property" in p.what for p in found)
    assert any("'secret' was unexpected" in p.what for p in found)


def test_an_undocumented_status_or_shape_is_a_problem():
    assert problems_of("GET", "/api/v1/node", 418, JSON, b"{}")[0].what.startswith("status 418")
    error = {"error": {"code": "Not-Snake", "message": "m"}}
    assert problems_of("GET", "/api/v1/node", 401, JSON, json.dumps(error))
    assert problems_of("GET", "/api/v1/node", 200, {"Content-Type": "text/html"}, b"<p>")
    assert problems_of("DELETE", "/api/v1/connections/c1", 204, {}, b"{}")


def test_answers_any_route_may_give_are_held_to_the_error_shape():
    error = json.dumps({"error": {"code": "method_not_allowed", "message": "m"}})
    assert problems_of("PUT", "/api/v1/node", 405, JSON, error) == []
    assert problems_of("PUT", "/api/v1/node", 405, JSON, b'{"Code": "x"}')


def test_json_lines_are_checked_line_by_line():
    entry = {
        "id": "1",
        "time": "2026-12-03T08:00:00.000Z",
        "actor": "system",
        "action": "connection.created",
        "connection_id": None,
        "details": {},
    }
    lines = json.dumps(entry) + "\n" + json.dumps({**entry, "extra": 1}) + "\n"
    found = problems_of(
        "GET", "/api/v1/audit", 200, {"Content-Type": "application/x-ndjson"}, lines
    )
    assert len(found) == 1 and found[0].what.startswith("line 2")
