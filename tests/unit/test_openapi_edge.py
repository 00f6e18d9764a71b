"""Request bodies against the OpenAPI document: the first failure as the contract's error.

Pure: the document is read from the package, nothing is called.
"""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.api import openapi
from chalicelib.errors import BadRequest

CONNECTIONS = "/api/v1/connections"
PATCH = "/api/v1/connections/{cid}"
REPLICAS = "/node/v1/connections/{cid}/replicas"
HANDSHAKE = "/node/v1/handshake"

INITIATE = {
    "destination_url": None,
    "mode": "basic",
    "local_short_name": "Acme",
    "remote_short_name": "Globex",
    "name": "Acme_to_Globex",
    "incoming_project": "ALPHA",
}


def refusal(path: str, method: str, body: Any) -> tuple[str, str | None]:
    with pytest.raises(BadRequest) as caught:
        openapi.check_body(path, method, body)
    assert caught.value.message
    return caught.value.code, caught.value.field


def test_a_body_that_fits_passes_and_is_left_as_it_was():
    body = dict(INITIATE)
    openapi.check_body(CONNECTIONS, "POST", body)
    assert body == INITIATE  # no defaults filled in


def test_requests_without_a_body_never_read_the_document(monkeypatch):
    monkeypatch.setattr(openapi, "_validator", lambda *a: pytest.fail("read the document"))
    openapi.check_body(CONNECTIONS, "GET", None)
    openapi.check_body(PATCH, "DELETE", None)


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({k: v for k, v in INITIATE.items() if k != "name"}, "missing_field", "name"),
        ({**INITIATE, "name": None}, "missing_field", "name"),
        ({**INITIATE, "incoming_project": "  "}, "missing_field", "incoming_project"),
        ({**INITIATE, "extra": 1}, "unknown_field", "extra"),
        ({"extra": 1}, "unknown_field", "extra"),  # unknown first, as the views answer
        ({**INITIATE, "mode": "manual"}, "invalid_field", "mode"),
        ({**INITIATE, "local_short_name": "has space"}, "invalid_field", "local_short_name"),
        ({**INITIATE, "admin_access": "yes"}, "invalid_field", "admin_access"),
        ({**INITIATE, "description": "x" * 1001}, "invalid_field", "description"),
        ("a string", "invalid_body", None),
    ],
)
def test_initiate_refusals_name_the_field(body, code, field):
    assert refusal(CONNECTIONS, "POST", body) == (code, field)


def test_an_empty_body_reads_as_an_empty_object():
    assert refusal(CONNECTIONS, "POST", None) == ("missing_field", "mode")


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (
            {"private_comment_visibility": {"type": "team", "value": "x"}},
            "invalid_field",
            "private_comment_visibility.type",
        ),
        (
            {"private_comment_visibility": {"type": "role"}},
            "missing_field",
            "private_comment_visibility.value",
        ),
        ({"mappings": "x"}, "invalid_field", "mappings"),
        ({"mappings": [{"direction": "outgoing"}, 7]}, "mappings_invalid", "mappings[1]"),
        (
            {
                "mappings": [
                    {"direction": "incoming", "fields": [{"field": "custom", "local": "C"}]}
                ]
            },
            "mappings_invalid",
            "mappings[0].fields[0].remote",
        ),
        (
            {"mappings": [{"direction": "outgoing", "fields": [{"field": "summary", "x": 1}]}]},
            "mappings_invalid",
            "mappings[0].fields[0].x",
        ),
        ({"conflict_rules": {"summary": "mine"}}, "invalid_field", "conflict_rules.summary"),
    ],
)
def test_nested_refusals_carry_the_json_path(body, code, field):
    assert refusal(PATCH, "PATCH", body) == (code, field)


def test_a_schema_may_name_its_own_code():
    replica = {
        "id": "r",
        "connection_id": "c",
        "key": "A-1",
        "version": 0,
        "comments": [],
        "attachments": [],
    }
    assert refusal(REPLICAS, "POST", {"items": [replica]}) == (
        "invalid_replica",
        "items[0].version",
    )
    assert refusal(REPLICAS, "POST", {"items": []}) == ("invalid_field", "items")
    handshake = {
        "protocol": 2,
        "invitation_id": "i",
        "connection_id": "c",
        "node_id": "node-b",
        "name": "Node B",
        "proof": "0" * 64,
        "short_name": "B",
    }
    assert refusal(HANDSHAKE, "POST", handshake) == ("unsupported_protocol", "protocol")
    assert refusal(HANDSHAKE, "POST", {})[0] == "unsupported_protocol"


def test_node_api_bodies_accept_fields_they_do_not_know():
    openapi.check_body("/node/v1/connections/{cid}/outbox/ack", "POST", {"upto": 3, "new": 1})
