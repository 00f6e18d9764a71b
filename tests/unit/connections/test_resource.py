"""The connection resource and its status (pure: models are built, never saved)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.connections.status import effective_status
from chalicelib.ops.connection_resource import to_resource
from chalicelib.ops.connection_setup import same_url
from chalicelib.ops.initiate import console_accept_url
from chalicelib.store.models import ConnectionModel


def end(**values):
    base = {
        "id": "c1",
        "name": "A_to_B",
        "mode": "basic",
        "status": "active",
        "role": "initiator",
        "local_short_name": "A",
        "remote_short_name": "B",
        "incoming_project": "SUP",
        "remote_node_id": "node-b",
        "remote_name": "Node B",
        "remote_url": "https://b.test",
        "remote_public": True,
        "key": "c2VjcmV0",
        "created_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "updated_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    }
    base.update(values)
    return ConnectionModel(**base)


def test_resource_has_the_contract_shape_and_no_secret():
    resource = to_resource(end())
    assert resource == {
        "id": "c1",
        "name": "A_to_B",
        "description": "",
        "mode": "basic",
        "status": "active",
        "status_reason": None,
        "role": "initiator",
        "local_short_name": "A",
        "remote_short_name": "B",
        "remote": {"node_id": "node-b", "url": "https://b.test", "public": True},
        "incoming_project": "SUP",
        "private_comment_visibility": {"type": "role", "value": "Administrators"},
        "user_map": [],  # issue 18
        "user_fallback": "unassigned",
        "hierarchy": "parent_first",
        "created_at": "2026-01-02T03:04:05.000Z",
        "updated_at": "2026-01-02T03:04:05.000Z",
    }
    assert "c2VjcmV0" not in str(resource)


def test_unknown_remote_is_null_and_mode_fields_appear():
    resource = to_resource(end(remote_node_id=None, remote_url=None, mode="script"))
    assert resource["remote"] is None
    assert resource["outgoing_script"] == "" and resource["incoming_script"] == ""
    assert to_resource(end(mode="visual"))["mappings"] == []


@pytest.mark.parametrize(
    ("values", "status", "reason_has"),
    [
        ({}, "active", None),
        ({"status": "pending"}, "pending", None),
        ({"local_state": "deactivated"}, "deactivated", "this node"),
        ({"remote_state": "deactivated", "remote_reason": "audit"}, "deactivated", "audit"),
        ({"remote_state": "deleted"}, "error", "deleted"),
        ({"remote_state": "deleted", "local_state": "deactivated"}, "error", "Node B"),
        ({"local_state": "deactivated", "remote_state": "deactivated"}, "deactivated", "this"),
    ],
)
def test_effective_status(values, status, reason_has):
    found, reason = effective_status(end(**values))
    assert found == status
    if reason_has is None:
        assert reason is None
    else:
        assert reason_has in reason


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("https://a.test", "https://A.test/", True),
        ("https://a.test:443", "https://a.test", True),
        ("http://127.0.0.1:8401", "http://127.0.0.1:8401/", True),
        ("https://a.test/x", "https://a.test", False),
        ("https://a.test", "http://a.test", False),
        ("https://a.test:8443", "https://a.test", False),
        (None, "https://a.test", False),
    ],
)
def test_same_url(a, b, same):
    assert same_url(a, b) is same


def test_console_url_keeps_the_code_in_the_fragment():
    url = console_accept_url("https://b.test/", "TS1.abc.12345678")
    assert url == "https://b.test/console/accept#code=TS1.abc.12345678"
