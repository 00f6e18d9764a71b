"""Webhook verification and parsing against every real payload and the HMAC vectors."""

from __future__ import annotations

import json

import pytest

from chalicelib.trackers.base import ChangeEvent
from chalicelib.trackers.webhook import BadWebhook, parse_webhook, sign, verify_webhook
from tests.shared_data import JIRA_DATA, jira_data

SECRET = "It's a Secret to Everybody"


def _payloads(flavour: str) -> list[str]:
    folder = JIRA_DATA / "webhooks" / flavour
    return sorted(p.name for p in folder.glob("*.json")) if folder.exists() else []


CLOUD_FILES = _payloads("cloud")
SERVER_FILES = _payloads("server")


def raw(flavour: str, name: str) -> bytes:
    return jira_data("webhooks", flavour, name).read_bytes()


def vectors() -> list[dict]:
    return json.loads(jira_data("signatures", "jira-webhook-hmac-test-vectors.json").read_text())[
        "vectors"
    ]


def vector_body(vector: dict) -> bytes:
    if "body_file" in vector:
        return jira_data(*vector["body_file"].split("/")).read_bytes()
    return vector["body_utf8"].encode()


# --- verification ------------------------------------------------------------------------


def test_every_signature_vector_verifies_over_the_raw_body():
    checked = 0
    for vector in vectors():
        if "x_hub_signature" not in vector:
            continue
        body = vector_body(vector)
        headers = {"X-Hub-Signature": vector["x_hub_signature"]}
        assert sign(vector["secret"], body) == vector["x_hub_signature"]
        assert verify_webhook(headers, {}, body, vector["secret"])
        assert not verify_webhook(headers, {}, body, vector["secret"] + "x")
        assert not verify_webhook(headers, {}, body + b" ", vector["secret"])
        checked += 1
    assert checked >= 3


def test_reserialised_json_does_not_verify():
    (negative,) = [v for v in vectors() if "x_hub_signature_of_reserialized" in v]
    body = vector_body(negative)
    reserialised = json.dumps(json.loads(body), separators=(",", ":")).encode()
    assert sign(negative["secret"], reserialised) == negative["x_hub_signature_of_reserialized"]
    (original,) = [
        v
        for v in vectors()
        if v.get("body_file") == negative["body_file"] and "x_hub_signature" in v
    ]
    headers = {"X-Hub-Signature": original["x_hub_signature"]}
    assert verify_webhook(headers, None, body, negative["secret"])
    assert not verify_webhook(headers, None, reserialised, negative["secret"])


@pytest.mark.parametrize("name", ["x-hub-signature", "X-HUB-SIGNATURE", "X-Hub-Signature"])
def test_signature_header_is_case_insensitive(name):
    assert verify_webhook({name: sign(SECRET, b"{}")}, None, b"{}", SECRET)


@pytest.mark.parametrize(
    "header",
    ["", "sha256=", "sha1=" + "0" * 40, "0" * 64, "sha256=" + "0" * 64, "sha256=zz"],
)
def test_bad_signatures_fail(header):
    assert not verify_webhook({"X-Hub-Signature": header}, {"secret": SECRET}, b"{}", SECRET)


def test_signature_hex_case_does_not_matter():
    signature = sign(SECRET, b"{}")
    upper = "sha256=" + signature.split("=", 1)[1].upper()
    assert verify_webhook({"X-Hub-Signature": upper}, None, "{}", SECRET)


def test_server_secret_in_the_query():
    assert verify_webhook({}, {"secret": SECRET}, b"{}", SECRET)
    assert verify_webhook({}, {"secret": [SECRET]}, b"{}", SECRET)  # multi-value shape
    assert not verify_webhook({}, {"secret": "wrong"}, b"{}", SECRET)
    assert not verify_webhook({}, {"secret": [SECRET, "x"]}, b"{}", SECRET)
    assert not verify_webhook({}, {}, b"{}", SECRET)
    assert not verify_webhook({}, None, b"{}", SECRET)


def test_an_empty_secret_verifies_nothing():
    assert not verify_webhook({}, {"secret": ""}, b"{}", "")
    assert not verify_webhook({"X-Hub-Signature": sign("", b"{}")}, None, b"{}", "")


# --- parsing: every real payload ---------------------------------------------------------

# (kind, issue key, issue id, author id, changed fields) expected for each real payload.
CLOUD_EXPECTED = {
    "cloud-comment-created.json": (
        "comment_created",
        "TES-41",
        "10040",
        "5c5f880629be9642ba529340",
        (),
    ),
    "cloud-comment-deleted.json": ("comment_deleted", "KT-7", "10357", None, ()),
    "cloud-comment-updated.json": (
        "comment_updated",
        "TES-41",
        "10040",
        "5c5f880629be9642ba529340",
        (),
    ),
    "cloud-issue-created-many-fields.json": (
        "issue_created",
        "KT-22",
        "10509",
        "5cedcb4355a88a0fc86388ba",
        (
            "assignee",
            "customfield_10073",
            "customfield_10076",
            "description",
            "fixVersions",
            "priority",
            "reporter",
            "status",
            "summary",
        ),
    ),
    "cloud-issue-updated-custom-field.json": (
        "issue_updated",
        "TES-14",
        "10368",
        "5cedcb4355a88a0fc86388ba",
        ("customfield_10072",),
    ),
    "hibernate-minimal-issue-updated-2024.json": (
        "issue_updated",
        "JIRATEST1-14",
        "77256",
        "557058:18cf44bb-bc9b-4e8d-b1b7-882969ddc8e5",
        (),
    ),
    "issue-assigned-empty-changelog.json": ("issue_updated", "TEST-123", "10001", "123456", ()),
    "issue-created.json": (
        "issue_created",
        "TES-41",
        "10040",
        "5c5f880629be9642ba529340",
        ("description", "priority", "reporter", "status", "summary"),
    ),
    "issue-deleted.json": ("issue_deleted", "IDT-19", "10303", "5c5f880629be9642ba529340", ()),
    "issue-updated-assigned-nobody.json": (
        "issue_updated",
        "TES-41",
        "10040",
        "5c5f880629be9642ba529340",
        ("assignee",),
    ),
    "issue-updated-assigned.json": (
        "issue_updated",
        "TES-41",
        "10040",
        "5c5f880629be9642ba529340",
        ("assignee",),
    ),
    "issue-updated-attachments.json": (
        "issue_updated",
        "TES-41",
        "10040",
        "5c5f880629be9642ba529340",
        ("Attachment",),
    ),
    "issue-updated-edited.json": (
        "issue_updated",
        "TES-41",
        "10040",
        "5c5f880629be9642ba529340",
        ("description",),
    ),
    "issue-updated-issue-type.json": (
        "issue_updated",
        "TES-41",
        "10040",
        "5c5f880629be9642ba529340",
        ("issuetype",),
    ),
    "issue-updated-labels.json": (
        "issue_updated",
        "TES-41",
        "10040",
        "5c5f880629be9642ba529340",
        ("labels",),
    ),
    "issue-updated-lowered-priority.json": (
        "issue_updated",
        "TES-41",
        "10040",
        "5c5f880629be9642ba529340",
        ("priority",),
    ),
    "issue-updated-multiple-values.json": (
        "issue_updated",
        "TES-41",
        "10040",
        "5c5f880629be9642ba529340",
        ("fixVersions", "assignee", "customfield_10072"),
    ),
    "issue-updated-renamed.json": (
        "issue_updated",
        "TES-41",
        "10040",
        "5c5f880629be9642ba529340",
        ("summary",),
    ),
    "issue-updated-resolved.json": (
        "issue_updated",
        "TES-41",
        "10040",
        "5c5f880629be9642ba529340",
        ("resolution", "status"),
    ),
    "issue-updated-started-working.json": (
        "issue_updated",
        "TES-41",
        "10040",
        "5c5f880629be9642ba529340",
        ("status",),
    ),
}

SERVER_EXPECTED = {
    "issue-comment-created-indentation.json": ("comment_created", "TEST-4", "10101", "test", ()),
    "issue-updated-assigned-on-server.json": (
        "issue_updated",
        "PRJA-37",
        "10226",
        "admin",
        ("assignee",),
    ),
    "server-comment-created.json": ("comment_created", None, "10013", "levbrouk", ()),
    "server-comment-deleted.json": ("comment_deleted", None, "10013", "levbrouk", ()),
    "server-comment-updated.json": ("comment_updated", None, "10013", "levbrouk", ()),
    "server-issue-updated-comment-edited.json": (
        "comment_updated",
        "PRJX-14",
        "10013",
        "levbrouk",
        (),
    ),
    "server-issue-updated-commented-2.json": (
        "comment_created",
        "PRJA-42",
        "10231",
        "testUser",
        (),
    ),
    "server-issue-updated-in-progress.json": (
        "issue_updated",
        "TES-4",
        "10300",
        "admin",
        ("status",),
    ),
    "server-issue-updated-many-fields.json": (
        "issue_updated",
        "HEY-15",
        "10400",
        "mickmister",
        ("labels",),
    ),
    "server-issue-updated-resolved.json": (
        "issue_updated",
        "TES-4",
        "10300",
        "admin",
        ("status", "resolution"),
    ),
    "server-updated-custom-field.json": (
        "issue_updated",
        "TES-8",
        "10106",
        "test",
        ("numfield",),
    ),
}


def test_every_real_payload_has_an_expectation():
    """A payload added to the shared data must be added here too (nothing untested)."""
    if not CLOUD_FILES and not SERVER_FILES:
        pytest.skip("shared Jira webhook payloads not found")
    assert sorted(CLOUD_EXPECTED) == CLOUD_FILES
    assert sorted(SERVER_EXPECTED) == SERVER_FILES


@pytest.mark.parametrize(
    ("flavour", "name"),
    [("cloud", n) for n in sorted(CLOUD_EXPECTED)]
    + [("server", n) for n in sorted(SERVER_EXPECTED)],
)
def test_real_payloads_parse(flavour, name):
    body = raw(flavour, name)
    expected = (CLOUD_EXPECTED if flavour == "cloud" else SERVER_EXPECTED)[name]
    event = parse_webhook({}, body)
    kind, key, issue_id, author, fields = expected
    assert event.kind == kind
    assert event.issue_key == key
    assert event.issue_id == issue_id
    assert event.author_id == author
    assert event.changed_fields == fields
    assert event.timestamp == json.loads(body)["timestamp"]
    assert event.delivery_id is None and event.retry is False


def test_delivery_id_and_retry_come_from_headers():
    body = raw("cloud", "issue-updated-renamed.json")
    event = parse_webhook(
        {"X-Atlassian-Webhook-Identifier": "abc-123", "X-Atlassian-Webhook-Retry": "2"}, body
    )
    assert (event.delivery_id, event.retry) == ("abc-123", True)
    first = parse_webhook(
        {"x-atlassian-webhook-identifier": "abc-123", "x-atlassian-webhook-retry": "0"}, body
    )
    assert (first.delivery_id, first.retry) == ("abc-123", False)


def test_attachment_events_carry_no_issue():
    body = json.dumps(
        {
            "timestamp": 1,
            "webhookEvent": "attachment_created",
            "attachment": {
                "id": 10010,
                "filename": "a.png",
                "author": {"accountId": "acc-9"},
                "size": 3,
            },
            "issue": {"id": "5", "key": "SHOULD-NOT-BE-TRUSTED"},
        }
    )
    event = parse_webhook({}, body)
    assert event == ChangeEvent(
        kind="attachment_created",
        issue_key=None,
        issue_id=None,
        author_id="acc-9",
        delivery_id=None,
        timestamp=1,
    )


def test_unknown_events_are_other():
    event = parse_webhook({}, b'{"webhookEvent": "sprint_started", "timestamp": 5}')
    assert event.kind == "other" and event.issue_key is None


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b'{"timestamp": 1}', b"\xff"])
def test_non_webhooks_are_refused(body):
    with pytest.raises(BadWebhook):
        parse_webhook({}, body)


def test_a_deletion_without_user_is_credited_to_nobody():
    """The comment's author did not necessarily delete it: never guess the actor."""
    body = json.dumps(
        {
            "timestamp": 1,
            "webhookEvent": "attachment_deleted",
            "attachment": {"id": 1, "author": {"accountId": "integration-user"}},
        }
    )
    assert parse_webhook({}, body).author_id is None


@pytest.mark.parametrize("event", [{"x": 1}, ["jira:issue_updated"], 5, True])
def test_a_webhook_event_name_that_is_not_text_is_refused(event):
    body = {"webhookEvent": event, "timestamp": 5, "issue": {"key": "PROJ-1"}}
    with pytest.raises(BadWebhook) as caught:
        parse_webhook({}, json.dumps(body).encode())
    assert caught.value.field == "webhookEvent"
