"""Admin API of connections on one node: initiate, validation, management, refusals.

Every refusal test also checks that nothing was stored.
"""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from chalicelib.trackers.base import Unavailable
from tests.factories.cluster import A_URL, B_URL, three_nodes

CONTRACT_FIELDS = {
    "id",
    "name",
    "description",
    "mode",
    "status",
    "status_reason",
    "role",
    "local_short_name",
    "remote_short_name",
    "remote",
    "incoming_project",
    "private_comment_visibility",  # issue 14
    "user_map",  # issue 18
    "user_fallback",
    "hierarchy",
    "created_at",
    "updated_at",
}


@pytest.fixture
def cluster(aws, monkeypatch):
    with three_nodes(aws, monkeypatch) as nodes:
        yield nodes


def initiate_body(**overrides):
    body = {
        "destination_url": None,
        "mode": "basic",
        "local_short_name": "A",
        "remote_short_name": "B",
        "name": "A_to_B",
        "description": "Support to development",
        "incoming_project": "SUP",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


def stored(cluster, node="node-a"):
    """What a node holds: its connection ends and invitations (by id and status)."""
    from chalicelib.store.models import ConnectionModel, InvitationModel

    with cluster.active(cluster[node]):
        return (
            sorted((c.id, c.status) for c in ConnectionModel.scan()),
            sorted((i.id, i.status) for i in InvitationModel.scan()),
        )


def secret_of(code):
    payload = code.split(".")[1]
    doc = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return base64.urlsafe_b64decode(doc["secret"] + "==")


def test_projects_list_the_select_project_choices(cluster):
    answer = cluster.admin("node-a", "GET", "/api/v1/projects")
    assert answer.status == 200
    assert answer.body[0] == {
        "key": "SUP",
        "name": "Project SUP",
        "issue_types": ["Task", "Bug", "Story"],
        "default_issue_type": "Task",
    }
    assert [p["key"] for p in answer.body] == ["SUP", "DEV", "OPS"]


def test_projects_need_the_admin_token(cluster):
    assert cluster.raw("node-a", "GET", "/api/v1/projects").status == 401


def test_tracker_outage_is_reported_with_a_code(cluster):
    cluster["node-a"].tracker.fail_with = Unavailable("down", status=503)
    answer = cluster.admin("node-a", "GET", "/api/v1/projects")
    assert answer.status == 502
    assert answer.error == "tracker_unavailable"


def test_initiate_without_url_returns_a_code_and_a_pending_end(cluster):
    answer = cluster.admin("node-a", "POST", "/api/v1/connections", initiate_body())
    assert answer.status == 201
    assert set(answer.body) == {"connection", "invitation_code", "redirect_url"}
    assert answer.body["redirect_url"] is None
    assert answer.body["invitation_code"].startswith("TS1.")
    conn = answer.body["connection"]
    assert set(conn) == CONTRACT_FIELDS
    assert conn["status"] == "pending"
    assert conn["role"] == "initiator"
    assert conn["remote"] is None
    assert conn["mode"] == "basic"
    assert (conn["local_short_name"], conn["remote_short_name"]) == ("A", "B")
    assert conn["incoming_project"] == "SUP"
    assert conn["created_at"].endswith("Z")


def test_only_a_hash_of_the_secret_is_stored_and_no_secret_is_returned(cluster):
    from chalicelib.store.models import ConnectionModel, InvitationModel

    answer = cluster.admin("node-a", "POST", "/api/v1/connections", initiate_body())
    secret = secret_of(answer.body["invitation_code"])
    with cluster.active(cluster["node-a"]):
        [invitation] = list(InvitationModel.scan())
        [end] = list(ConnectionModel.scan())
    assert invitation.secret_sha256 == hashlib.sha256(secret).hexdigest()
    dumped = json.dumps(invitation.attribute_values, default=str)
    assert base64.urlsafe_b64encode(secret).decode().rstrip("=") not in dumped
    assert end.key  # the derived key is kept, never shown
    listing = cluster.admin("node-a", "GET", "/api/v1/connections")
    shown = cluster.admin("node-a", "GET", f"/api/v1/connections/{end.id}")
    for text in (
        json.dumps(answer.body["connection"]),
        json.dumps(listing.body),
        json.dumps(shown.body),
    ):
        assert end.key not in text
        assert "key" not in json.loads(text) if text.startswith("{") else True


def test_expiry_defaults_to_72_hours(cluster):
    import time

    answer = cluster.admin("node-a", "POST", "/api/v1/connections", initiate_body())
    payload = answer.body["invitation_code"].split(".")[1]
    doc = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert abs(doc["expires_at"] - (time.time() + 72 * 3600)) < 60
    assert doc["initiator"] == {"node_id": "node-a", "name": "Node A", "url": A_URL}


INVALID_INFORMATION = [
    ({"name": ...}, "name", "missing_field"),
    ({"name": "  "}, "name", "missing_field"),
    ({"name": "x" * 81}, "name", "invalid_field"),
    ({"local_short_name": ...}, "local_short_name", "missing_field"),
    ({"local_short_name": "a" * 21}, "local_short_name", "invalid_field"),
    ({"local_short_name": "has space"}, "local_short_name", "invalid_field"),
    ({"remote_short_name": "dot.ted"}, "remote_short_name", "invalid_field"),
    ({"remote_short_name": "é"}, "remote_short_name", "invalid_field"),
    ({"mode": "groovy"}, "mode", "invalid_field"),
    ({"mode": ...}, "mode", "missing_field"),
    ({"incoming_project": ...}, "incoming_project", "missing_field"),
    ({"incoming_project": 7}, "incoming_project", "invalid_field"),
    ({"description": "d" * 1001}, "description", "invalid_field"),
    ({"admin_access": "yes"}, "admin_access", "invalid_field"),
    ({"admin_access": True}, "admin_access", "invalid_field"),
    ({"destination_url": 42}, "destination_url", "invalid_field"),
    ({"destination_incoming_project": "DEV"}, "destination_incoming_project", "invalid_field"),
    ({"colour": "red"}, "colour", "unknown_field"),
]


def test_invalid_connection_information_is_refused_and_nothing_stored(cluster):
    for change, field, code in INVALID_INFORMATION:
        answer = cluster.admin("node-a", "POST", "/api/v1/connections", initiate_body(**change))
        assert answer.status == 400, (change, answer.body)
        assert answer.error == code, change
        assert answer.body["error"]["field"] == field, change
    assert stored(cluster) == ([], [])


def test_short_names_accept_the_allowed_alphabet(cluster):
    body = initiate_body(local_short_name="a" * 20, remote_short_name="B-2_x")
    assert cluster.admin("node-a", "POST", "/api/v1/connections", body).status == 201


def test_unknown_incoming_project_is_named(cluster):
    answer = cluster.admin(
        "node-a", "POST", "/api/v1/connections", initiate_body(incoming_project="NOPE")
    )
    assert answer.status == 422
    assert answer.error == "unknown_project"
    assert answer.body["error"]["field"] == "incoming_project"
    assert "NOPE" in answer.body["error"]["message"]
    assert stored(cluster) == ([], [])


def test_connection_name_is_unique_on_the_node(cluster):
    assert cluster.admin("node-a", "POST", "/api/v1/connections", initiate_body()).status == 201
    before = stored(cluster)
    answer = cluster.admin("node-a", "POST", "/api/v1/connections", initiate_body(name="a_TO_b"))
    assert answer.status == 409
    assert answer.error == "connection_name_taken"
    assert answer.body["error"]["field"] == "name"
    assert stored(cluster) == before


def test_a_private_node_cannot_initiate(cluster):
    answer = cluster.admin(
        "node-p", "POST", "/api/v1/connections", initiate_body(incoming_project="PRIV")
    )
    assert answer.status == 409
    assert answer.error == "private_node_cannot_initiate"
    assert "accept" in answer.body["error"]["message"].lower()
    assert stored(cluster, "node-p") == ([], [])


def test_script_mode_ends_carry_their_scripts_and_basic_ones_do_not(cluster):
    script = cluster.admin(
        "node-a", "POST", "/api/v1/connections", initiate_body(mode="script", name="s")
    ).body["connection"]
    assert script["outgoing_script"] and script["incoming_script"]
    basic = cluster.admin("node-a", "POST", "/api/v1/connections", initiate_body()).body[
        "connection"
    ]
    assert "outgoing_script" not in basic
    visual = cluster.admin(
        "node-a",
        "POST",
        "/api/v1/connections",
        initiate_body(mode="visual", name="v", destination_url=B_URL),
    ).body["connection"]
    assert visual["mappings"] == []


def test_visual_without_the_destination_url_is_refused_at_initiate_and_nothing_is_stored(cluster):
    """ "I don't have a URL" is a partner in a private network: Visual mode needs both nodes
    reachable, so it is refused at once rather than when the partner accepts."""
    refused = cluster.admin(
        "node-a", "POST", "/api/v1/connections", initiate_body(mode="visual", name="v")
    )
    assert (refused.status, refused.error) == (409, "visual_needs_public_nodes")
    assert refused.body["error"]["field"] == "mode"
    assert stored(cluster) == ([], [])


def test_list_and_show(cluster):
    first = cluster.admin("node-a", "POST", "/api/v1/connections", initiate_body()).body
    second = cluster.admin(
        "node-a", "POST", "/api/v1/connections", initiate_body(name="second")
    ).body
    listing = cluster.admin("node-a", "GET", "/api/v1/connections")
    assert listing.status == 200
    # in the table's own order (a Scan resumed page after page), not by age
    assert sorted(c["id"] for c in listing.body) == sorted(
        [first["connection"]["id"], second["connection"]["id"]]
    )
    shown = cluster.admin("node-a", "GET", f"/api/v1/connections/{first['connection']['id']}")
    assert shown.body == first["connection"]


def test_unknown_connection_is_404(cluster):
    for method, suffix in [
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("POST", "/activate"),
        ("POST", "/deactivate"),
        ("POST", "/upgrade"),
    ]:
        body = {"mode": "script"} if suffix == "/upgrade" else None
        answer = cluster.admin("node-a", method, f"/api/v1/connections/nope{suffix}", body)
        assert (answer.status, answer.error) == (404, "connection_not_found"), (method, suffix)


def test_patch_name_and_description(cluster):
    conn = cluster.admin("node-a", "POST", "/api/v1/connections", initiate_body()).body[
        "connection"
    ]
    answer = cluster.admin(
        "node-a",
        "PATCH",
        f"/api/v1/connections/{conn['id']}",
        {"name": "renamed", "description": "new words"},
    )
    assert answer.status == 200
    assert (answer.body["name"], answer.body["description"]) == ("renamed", "new words")
    assert answer.body["updated_at"] >= conn["updated_at"]
    # the old name is free again, the new one is taken
    assert cluster.admin("node-a", "POST", "/api/v1/connections", initiate_body()).status == 201
    taken = cluster.admin("node-a", "POST", "/api/v1/connections", initiate_body(name="RENAMED"))
    assert taken.error == "connection_name_taken"


def test_patch_to_a_taken_name_is_refused(cluster):
    first = cluster.admin("node-a", "POST", "/api/v1/connections", initiate_body()).body
    cluster.admin("node-a", "POST", "/api/v1/connections", initiate_body(name="other"))
    answer = cluster.admin(
        "node-a", "PATCH", f"/api/v1/connections/{first['connection']['id']}", {"name": "OTHER"}
    )
    assert (answer.status, answer.error) == (409, "connection_name_taken")
    shown = cluster.admin("node-a", "GET", f"/api/v1/connections/{first['connection']['id']}")
    assert shown.body["name"] == "A_to_B"


@pytest.mark.parametrize(
    "change",
    [
        {"outgoing_script": "replica = {}"},
        {"incoming_script": "x = 1"},
        {"mappings": []},
        {"incoming_guard_jql": "project = SUP"},
    ],
)
def test_rules_are_not_editable_in_basic_mode(cluster, change):
    conn = cluster.admin("node-a", "POST", "/api/v1/connections", initiate_body()).body[
        "connection"
    ]
    answer = cluster.admin("node-a", "PATCH", f"/api/v1/connections/{conn['id']}", change)
    assert answer.status == 409
    assert answer.error == "rules_not_editable_in_basic_mode"
    assert "/upgrade" in answer.body["error"]["message"]


def test_patch_refuses_unknown_fields(cluster):
    conn = cluster.admin("node-a", "POST", "/api/v1/connections", initiate_body()).body[
        "connection"
    ]
    answer = cluster.admin("node-a", "PATCH", f"/api/v1/connections/{conn['id']}", {"mode": "x"})
    assert (answer.status, answer.error) == (400, "unknown_field")


def test_private_comment_visibility_defaults_to_the_administrators_role_and_can_be_set(cluster):
    conn = cluster.admin("node-a", "POST", "/api/v1/connections", initiate_body()).body[
        "connection"
    ]
    path = f"/api/v1/connections/{conn['id']}"
    assert conn["private_comment_visibility"] == {"type": "role", "value": "Administrators"}
    group = {"type": "group", "value": " support-staff "}
    answer = cluster.admin("node-a", "PATCH", path, {"private_comment_visibility": group})
    assert answer.status == 200, answer.body  # in Basic mode too: it is not a sync rule
    wanted = {"type": "group", "value": "support-staff"}
    assert answer.body["private_comment_visibility"] == wanted
    assert cluster.admin("node-a", "GET", path).body["private_comment_visibility"] == wanted
    reset = cluster.admin("node-a", "PATCH", path, {"private_comment_visibility": None})
    assert reset.body["private_comment_visibility"]["value"] == "Administrators"


@pytest.mark.parametrize(
    ("value", "code", "field"),
    [
        ("Administrators", "invalid_field", "private_comment_visibility"),
        ({"type": "role"}, "missing_field", "private_comment_visibility.value"),
        (
            {"type": "role", "value": "x", "extra": 1},
            "unknown_field",
            "private_comment_visibility.extra",
        ),
        ({"type": "team", "value": "x"}, "invalid_field", "private_comment_visibility.type"),
        ({"type": "role", "value": " "}, "invalid_field", "private_comment_visibility.value"),
        ({"type": "group", "value": 7}, "invalid_field", "private_comment_visibility.value"),
        (
            {"type": "group", "value": "g" * 256},
            "invalid_field",
            "private_comment_visibility.value",
        ),
    ],
)
def test_a_bad_private_comment_visibility_is_refused_and_nothing_changes(
    cluster, value, code, field
):
    conn = cluster.admin("node-a", "POST", "/api/v1/connections", initiate_body()).body[
        "connection"
    ]
    path = f"/api/v1/connections/{conn['id']}"
    answer = cluster.admin("node-a", "PATCH", path, {"private_comment_visibility": value})
    assert (answer.status, answer.error) == (400, code)
    assert answer.body["error"]["field"] == field
    shown = cluster.admin("node-a", "GET", path).body
    assert shown["private_comment_visibility"] == {"type": "role", "value": "Administrators"}


def test_upgrade_basic_to_script_then_edit_rules(cluster):
    conn = cluster.admin("node-a", "POST", "/api/v1/connections", initiate_body()).body[
        "connection"
    ]
    path = f"/api/v1/connections/{conn['id']}"
    upgraded = cluster.admin("node-a", "POST", path + "/upgrade", {"mode": "script"})
    assert upgraded.status == 200
    assert upgraded.body["mode"] == "script"
    assert upgraded.body["outgoing_script"] and upgraded.body["incoming_script"]
    edited = cluster.admin(
        "node-a",
        "PATCH",
        path,
        {
            "outgoing_script": "replica['summary'] = issue['summary']",
            "incoming_guard_jql": "project = SUP",
        },
    )
    assert edited.status == 200
    assert edited.body["outgoing_script"] == "replica['summary'] = issue['summary']"
    bad_jql = cluster.admin("node-a", "PATCH", path, {"incoming_guard_jql": "project = (SUP"})
    assert (bad_jql.status, bad_jql.error) == (422, "invalid_jql")
    mappings = cluster.admin("node-a", "PATCH", path, {"mappings": []})
    assert mappings.error == "rules_not_in_this_mode"


@pytest.mark.parametrize(
    ("start", "target"),
    [
        ("script", "basic"),
        ("script", "script"),
        ("basic", "visual"),
        ("visual", "script"),
        ("basic", "basic"),
    ],
)
def test_any_other_mode_change_is_refused(cluster, start, target):
    url = B_URL if start == "visual" else None  # Visual needs the destination's URL
    conn = cluster.admin(
        "node-a", "POST", "/api/v1/connections", initiate_body(mode=start, destination_url=url)
    ).body["connection"]
    answer = cluster.admin(
        "node-a", "POST", f"/api/v1/connections/{conn['id']}/upgrade", {"mode": target}
    )
    assert (answer.status, answer.error) == (409, "mode_change_not_allowed")
    shown = cluster.admin("node-a", "GET", f"/api/v1/connections/{conn['id']}")
    assert shown.body["mode"] == start


def test_a_pending_connection_cannot_be_deactivated(cluster):
    conn = cluster.admin("node-a", "POST", "/api/v1/connections", initiate_body()).body[
        "connection"
    ]
    answer = cluster.admin("node-a", "POST", f"/api/v1/connections/{conn['id']}/deactivate")
    assert (answer.status, answer.error) == (409, "connection_pending")


def test_deleting_a_pending_connection_revokes_its_code_and_frees_its_name(cluster):
    created = cluster.admin("node-a", "POST", "/api/v1/connections", initiate_body()).body
    cid = created["connection"]["id"]
    answer = cluster.admin("node-a", "DELETE", f"/api/v1/connections/{cid}")
    assert answer.status == 204
    assert answer.body is None
    connections, invitations = stored(cluster)
    assert connections == []
    assert [status for _, status in invitations] == ["revoked"]
    assert cluster.admin("node-a", "GET", f"/api/v1/connections/{cid}").status == 404
    assert cluster.admin("node-a", "POST", "/api/v1/connections", initiate_body()).status == 201
