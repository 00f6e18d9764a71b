"""Sandbox webhook bodies compared key by key with real Jira payloads (shared data).

Same top-level keys, same ``issue`` keys, the same keys inside every field we set, and the
same changelog item keys. The real payloads were captured in 2019: where Jira has changed
since (Cloud dropped ``name``/``key``/``emailAddress`` from users for GDPR, issue types
gained ``hierarchyLevel``), the difference is listed here and nowhere else.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from devstack.sandbox_jira.webhooks import sign
from tests.shared_data import jira_data

from .conftest import Env, Receiver

# keys a 2019 payload has that the sandbox (like today's Jira) may leave out, and back
MAY_LACK = {"name", "key", "emailAddress", "accountType", "jsdPublic", "projectTypeKey"}
MAY_ADD = {"hierarchyLevel", "simplified", "accountType", "emailAddress", "projectTypeKey"}
SET_FIELDS = (
    "summary",
    "description",
    "labels",
    "issuetype",
    "priority",
    "status",
    "project",
    "reporter",
    "creator",
    "created",
    "updated",
    "attachment",
)


def real(*parts: str) -> dict[str, Any]:
    return json.loads(jira_data("webhooks", *parts).read_text(encoding="utf-8"))


# compared across flavours (a Server body with a Cloud capture or back), these keys differ
# by design: users are accountId on Cloud and name/key on Server; Cloud projects say
# whether they are team-managed ("simplified"); Cloud's embedded comment page links "self"
CROSS_FLAVOUR = {"accountId", "name", "key", "simplified", "self"}


def compare_dicts(
    ours: dict[str, Any], theirs: dict[str, Any], where: str, *, cross: bool = False
) -> None:
    ignore = CROSS_FLAVOUR if cross else set()
    if cross and "id" in theirs and "key" in theirs and "name" in theirs:
        ignore = ignore - {"key", "name"}  # a project: its key and name are not identities
    missing = set(theirs) - set(ours) - MAY_LACK - ignore
    extra = set(ours) - set(theirs) - MAY_ADD - ignore
    assert not missing, f"{where}: the sandbox lacks {sorted(missing)}"
    assert not extra, f"{where}: the sandbox adds {sorted(extra)}"


def compare_user(
    ours: dict[str, Any], theirs: dict[str, Any], cloud: bool, where: str, *, cross: bool = False
) -> None:
    compare_dicts(ours, theirs, where, cross=cross)
    for key in ("accountId",) if cloud else ("name", "key"):
        assert key in ours, f"{where}: {key}"
        assert cross or key in theirs, f"{where}: {key}"


def compare_fields(
    ours: dict[str, Any], theirs: dict[str, Any], where: str, *, cross: bool = False
) -> None:
    for name in SET_FIELDS:
        assert name in ours, f"{where}: the sandbox lacks fields.{name}"
        if name not in theirs or theirs[name] is None or ours[name] is None:
            continue
        assert type(ours[name]) is type(theirs[name]), f"{where}: fields.{name} type"
        if isinstance(theirs[name], dict):
            compare_dicts(ours[name], theirs[name], f"{where}: fields.{name}", cross=cross)


def compare_items(ours: list[dict[str, Any]], theirs: list[dict[str, Any]], where: str) -> None:
    assert ours and theirs
    expected = set(theirs[0]) - {"tmpFromAccountId", "tmpToAccountId"}
    for item in ours:
        assert set(item) == expected, f"{where}: changelog item keys {sorted(item)}"


@pytest.fixture
def recorded(env: Env, receiver: Receiver) -> dict[str, list[dict[str, Any]]]:
    """One of every event, made by the bot and by Alice, grouped by (event, type name)."""
    env.admin.add_webhook(receiver.url, secret="s")
    key = env.bot.create_issue(
        "Webhook issue",
        description=env.bot.body("Described"),
        labels=["a"],
        priority={"name": "High"},
    )["key"]
    env.alice.put(f"issue/{key}", json={"fields": {"summary": "Renamed"}})
    env.alice.put(f"issue/{key}", json={"fields": {"labels": ["a", "b"]}})
    env.alice.put(f"issue/{key}", json={"fields": {"issuetype": {"name": "Bug"}}})
    env.alice.put(f"issue/{key}", json={"fields": {"priority": {"name": "Low"}}})
    env.alice.put(f"issue/{key}", json={"fields": {"description": env.bot.body("Changed")}})
    env.bot.attach(key, "file.txt", b"x")
    comment = env.alice.comment(key, "Hello")
    env.alice.put(f"issue/{key}/comment/{comment['id']}", json={"body": env.bot.body("Bye")})
    env.alice.delete(f"issue/{key}/comment/{comment['id']}")
    env.bot.delete(f"issue/{key}")
    assert env.admin.deliveries(wait=10)["idle"]
    grouped: dict[str, list[dict[str, Any]]] = {}
    for request in receiver.events():
        body = request["json"]
        name = body["webhookEvent"]
        if name == "jira:issue_updated":
            name += ":" + body["issue_event_type_name"]
        grouped.setdefault(name, []).append(body)
    return grouped


def test_issue_created(env: Env, recorded: dict[str, list[dict[str, Any]]]) -> None:
    [ours] = recorded["jira:issue_created"]
    theirs = real("cloud", "issue-created.json")
    assert set(ours) == set(theirs)
    assert ours["issue_event_type_name"] == theirs["issue_event_type_name"]
    assert isinstance(ours["timestamp"], int)
    assert set(ours["issue"]) == set(theirs["issue"])
    cross = not env.bot.cloud
    compare_fields(ours["issue"]["fields"], theirs["issue"]["fields"], "created", cross=cross)
    compare_user(ours["user"], theirs["user"], env.bot.cloud, "user", cross=cross)
    compare_items(ours["changelog"]["items"], server_or_cloud_items(env), "issue_created")
    assert {i["field"] for i in ours["changelog"]["items"]} >= {"summary", "Status", "priority"}


def server_or_cloud_items(env: Env) -> list[dict[str, Any]]:
    if env.bot.cloud:
        return real("cloud", "issue-created.json")["changelog"]["items"]
    return real("server", "server-issue-updated-many-fields.json")["changelog"]["items"]


@pytest.mark.parametrize(
    ("fixture", "field"),
    [
        ("issue-updated-renamed.json", "summary"),
        ("issue-updated-labels.json", "labels"),
        ("issue-updated-issue-type.json", "issuetype"),
        ("issue-updated-lowered-priority.json", "priority"),
        ("issue-updated-edited.json", "description"),
        ("issue-updated-attachments.json", "Attachment"),
    ],
)
def test_issue_updated(
    env: Env, recorded: dict[str, list[dict[str, Any]]], fixture: str, field: str
) -> None:
    theirs = real("cloud", fixture)
    ours = next(
        b
        for b in recorded["jira:issue_updated:issue_updated"]
        if b["changelog"]["items"][0]["field"] == field
    )
    assert set(ours) == set(theirs)
    assert set(ours["issue"]) == set(theirs["issue"])
    cross = not env.bot.cloud
    compare_fields(ours["issue"]["fields"], theirs["issue"]["fields"], fixture, cross=cross)
    compare_user(ours["user"], theirs["user"], env.bot.cloud, fixture, cross=cross)
    [item] = ours["changelog"]["items"]
    [their_item] = theirs["changelog"]["items"]
    compare_items([item], server_or_cloud_items(env), fixture)
    assert item["field"] == their_item["field"] and item["fieldtype"] == their_item["fieldtype"]
    # ids where Jira puts ids, strings where it puts strings
    for key in ("from", "to"):
        assert (item[key] is None) == (their_item[key] is None) or field == "Attachment"
    if field == "labels":
        assert item["fromString"] == "a" and item["toString"] == "a b"


def test_issue_commented(env: Env, recorded: dict[str, list[dict[str, Any]]]) -> None:
    [ours] = recorded["jira:issue_updated:issue_commented"]
    theirs = real("server", "server-issue-updated-commented-2.json")
    assert set(ours) == set(theirs)
    assert set(ours["comment"]) - {"jsdPublic"} == set(theirs["comment"])
    cross = env.bot.cloud
    compare_fields(ours["issue"]["fields"], theirs["issue"]["fields"], "commented", cross=cross)
    compare_user(ours["user"], theirs["user"], env.bot.cloud, "user", cross=cross)
    [edited] = recorded["jira:issue_updated:issue_comment_edited"]
    assert set(edited) == set(real("server", "server-issue-updated-comment-edited.json"))


@pytest.mark.parametrize("event", ["comment_created", "comment_updated", "comment_deleted"])
def test_comment_events(env: Env, recorded: dict[str, list[dict[str, Any]]], event: str) -> None:
    [ours] = recorded[event]
    suffix = event.split("_")[1]
    if env.bot.cloud:
        theirs = real("cloud", f"cloud-comment-{suffix}.json")
        assert set(ours["issue"]) == set(theirs["issue"])
        assert set(ours["issue"]["fields"]) == set(theirs["issue"]["fields"])
    else:
        theirs = real("server", f"server-comment-{suffix}.json")
    assert set(ours) == set(theirs)
    assert set(ours["comment"]) == set(theirs["comment"])
    for who in ("author", "updateAuthor"):
        compare_user(ours["comment"][who], theirs["comment"][who], env.bot.cloud, who)
    assert isinstance(ours["comment"]["body"], str)


def test_issue_deleted(env: Env, recorded: dict[str, list[dict[str, Any]]]) -> None:
    [ours] = recorded["jira:issue_deleted"]
    theirs = real("cloud", "issue-deleted.json")
    assert set(ours) == set(theirs)
    assert set(ours["issue"]) == set(theirs["issue"])
    cross = not env.bot.cloud
    compare_fields(ours["issue"]["fields"], theirs["issue"]["fields"], "deleted", cross=cross)


def test_a_drifted_body_fails_the_comparison(recorded: dict[str, list[dict[str, Any]]]) -> None:
    [ours] = recorded["jira:issue_created"]
    theirs = real("cloud", "issue-created.json")
    ours["issue"]["fields"]["issuetype"]["typeName"] = ours["issue"]["fields"]["issuetype"].pop(
        "name"
    )
    with pytest.raises(AssertionError, match=r"fields\.issuetype"):
        compare_fields(ours["issue"]["fields"], theirs["issue"]["fields"], "drift")
    ours["changelog"]["items"][0]["field_id"] = "x"
    with pytest.raises(AssertionError, match="changelog item keys"):
        compare_items(ours["changelog"]["items"], theirs["changelog"]["items"], "drift")


# --- HMAC vectors -------------------------------------------------------------------------


def vectors() -> list[dict[str, Any]]:
    data = json.loads(jira_data("signatures", "jira-webhook-hmac-test-vectors.json").read_text())
    return data["vectors"]


def test_hmac_vectors() -> None:
    checked = 0
    for vector in vectors():
        if "body_utf8" in vector:
            body = vector["body_utf8"].encode()
        else:
            body = jira_data(*vector["body_file"].split("/")).read_bytes()
        if "x_hub_signature" in vector:
            assert sign(vector["secret"], body) == vector["x_hub_signature"]
            checked += 1
        else:  # re-serialised JSON signs differently: the raw body is what counts
            reserialised = json.dumps(json.loads(body), separators=(",", ":")).encode()
            assert sign(vector["secret"], reserialised) == vector["x_hub_signature_of_reserialized"]
            assert sign(vector["secret"], body) != vector["x_hub_signature_of_reserialized"]
            checked += 1
    assert checked == 4


def test_sandbox_signature_verifies_like_a_receiver_would(cloud: Env, receiver: Receiver) -> None:
    secret = vectors()[2]["secret"]
    cloud.admin.add_webhook(receiver.url, secret=secret)
    cloud.bot.create_issue()
    assert cloud.admin.deliveries(wait=10)["idle"]
    [request] = receiver.events()
    assert request["headers"]["x-hub-signature"] == sign(secret, request["raw"])
    reserialised = json.dumps(request["json"]).encode()
    assert request["headers"]["x-hub-signature"] != sign(secret, reserialised)
