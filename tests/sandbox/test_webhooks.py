"""Webhooks: which events fire, who they name, how they are signed, retried and switched off."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from devstack.sandbox_jira import SandboxAdmin, SandboxJira
from devstack.sandbox_jira.webhooks import sign, with_secret

from .conftest import Env, Receiver

SECRET = "It's a Secret to Everybody"


def hook(env: Env, receiver: Receiver, **kw: Any) -> dict[str, Any]:
    return env.admin.add_webhook(receiver.url, secret=SECRET, **kw)


def settle(env: Env) -> None:
    assert env.admin.deliveries(wait=10)["idle"]


def user_id(env: Env, user: dict[str, Any]) -> tuple[str, str]:
    field = "accountId" if env.bot.cloud else "key"
    return field, user["id"]


def test_issue_lifecycle_events(env: Env, receiver: Receiver) -> None:
    hook(env, receiver)
    key = env.bot.create_issue("Hooked", labels=["a"])["key"]
    env.alice.put(f"issue/{key}", json={"fields": {"summary": "Renamed"}})
    env.bot.delete(f"issue/{key}")
    settle(env)
    names = [r["json"]["webhookEvent"] for r in receiver.events()]
    assert names == ["jira:issue_created", "jira:issue_updated", "jira:issue_deleted"]
    created, updated, deleted = (r["json"] for r in receiver.events())
    field, bot_id = user_id(env, env.bot_user)
    _, alice_id = user_id(env, env.alice_user)
    assert created["issue_event_type_name"] == "issue_created"
    assert created["user"][field] == bot_id
    assert created["issue"]["key"] == key
    assert created["issue"]["self"].endswith(f"/rest/api/2/issue/{created['issue']['id']}")
    assert updated["user"][field] == alice_id
    assert updated["issue_event_type_name"] == "issue_updated"
    [item] = updated["changelog"]["items"]
    assert (item["field"], item["fromString"], item["toString"]) == ("summary", "Hooked", "Renamed")
    assert updated["issue"]["fields"]["summary"] == "Renamed"
    assert deleted["issue"]["key"] == key and deleted["user"][field] == bot_id


def test_bodies_use_rest_v2_strings_in_both_flavours(env: Env, receiver: Receiver) -> None:
    hook(env, receiver)
    key = env.bot.create_issue("Body", description=env.bot.body("Plain words"))["key"]
    env.bot.comment(key, "A comment")
    settle(env)
    created = receiver.events("jira:issue_created")[0]["json"]
    assert created["issue"]["fields"]["description"] == "Plain words"
    comment = receiver.events("comment_created")[0]["json"]["comment"]
    assert comment["body"] == "A comment"
    assert "/rest/api/2/" in comment["self"]


def test_comment_events(env: Env, receiver: Receiver) -> None:
    key = env.bot.create_issue()["key"]
    hook(env, receiver)
    comment = env.alice.comment(key, "First")
    env.bot.put(f"issue/{key}/comment/{comment['id']}", json={"body": env.bot.body("Second")})
    env.bot.delete(f"issue/{key}/comment/{comment['id']}")
    settle(env)
    events = [
        (r["json"]["webhookEvent"], r["json"].get("issue_event_type_name"))
        for r in receiver.events()
    ]
    assert events == [
        ("comment_created", None),
        ("jira:issue_updated", "issue_commented"),
        ("comment_updated", None),
        ("jira:issue_updated", "issue_comment_edited"),
        ("comment_deleted", None),
        ("jira:issue_updated", "issue_comment_deleted"),
    ]
    field, alice_id = user_id(env, env.alice_user)
    _, bot_id = user_id(env, env.bot_user)
    created = receiver.events("comment_created")[0]["json"]
    assert created["comment"]["author"][field] == alice_id
    updated = receiver.events("comment_updated")[0]["json"]
    assert updated["comment"]["updateAuthor"][field] == bot_id
    commented = receiver.events("jira:issue_updated")[0]["json"]
    assert commented["user"][field] == alice_id
    assert commented["comment"]["id"] == comment["id"]


def test_attachment_changes_are_changelog_items(env: Env, receiver: Receiver) -> None:
    key = env.bot.create_issue()["key"]
    hook(env, receiver, events=["jira:issue_updated"])
    [att] = env.bot.attach(key, "report.pdf", b"%PDF").json()
    env.bot.delete(f"attachment/{att['id']}")
    settle(env)
    added, removed = (r["json"]["changelog"]["items"][0] for r in receiver.events())
    assert added["field"] == "Attachment"
    assert (added["from"], added["to"], added["toString"]) == (None, att["id"], "report.pdf")
    assert (removed["from"], removed["fromString"], removed["to"]) == (
        att["id"],
        "report.pdf",
        None,
    )


def test_cloud_also_fires_attachment_events(cloud: Env, receiver: Receiver) -> None:
    key = cloud.bot.create_issue()["key"]
    hook(cloud, receiver, events=["attachment_created", "attachment_deleted"])
    [att] = cloud.bot.attach(key, "a.txt", b"a").json()
    cloud.bot.delete(f"attachment/{att['id']}")
    settle(cloud)
    bodies = [r["json"] for r in receiver.events()]
    assert [b["webhookEvent"] for b in bodies] == ["attachment_created", "attachment_deleted"]
    assert "issue" not in bodies[0]  # as real Cloud: the attachment only
    assert bodies[0]["attachment"]["filename"] == "a.txt"


def test_cloud_signs_the_raw_body(cloud: Env, receiver: Receiver) -> None:
    hook(cloud, receiver)
    cloud.bot.create_issue()
    settle(cloud)
    [request] = receiver.events()
    expected = "sha256=" + hmac.new(SECRET.encode(), request["raw"], hashlib.sha256).hexdigest()
    assert request["headers"]["x-hub-signature"] == expected
    assert request["path"] == "/hook"


def test_server_sends_the_secret_as_query_parameter(server: Env, receiver: Receiver) -> None:
    hook(server, receiver)
    server.bot.create_issue()
    settle(server)
    [request] = receiver.events()
    assert "x-hub-signature" not in request["headers"]
    assert parse_qs(urlsplit(request["path"]).query) == {"secret": [SECRET]}


def test_no_signature_without_secret(env: Env, receiver: Receiver) -> None:
    env.admin.add_webhook(receiver.url)
    env.bot.create_issue()
    settle(env)
    [request] = receiver.events()
    assert "x-hub-signature" not in request["headers"]
    assert "secret=" not in request["path"]


def test_each_delivery_has_its_own_identifier(env: Env, receiver: Receiver) -> None:
    hook(env, receiver)
    env.bot.create_issue()
    env.bot.create_issue()
    settle(env)
    ids = [r["headers"]["x-atlassian-webhook-identifier"] for r in receiver.events()]
    assert len(set(ids)) == 2
    assert all("x-atlassian-webhook-retry" not in r["headers"] for r in receiver.events())


def test_failed_deliveries_are_retried_with_the_same_identifier(
    env: Env, receiver: Receiver
) -> None:
    hook(env, receiver)
    receiver.statuses = [500, 503]
    env.bot.create_issue()
    settle(env)
    attempts = receiver.events()
    assert [r["status"] for r in attempts] == [500, 503, 200]
    assert len({r["headers"]["x-atlassian-webhook-identifier"] for r in attempts}) == 1
    assert [r["headers"].get("x-atlassian-webhook-retry") for r in attempts] == [None, "1", "2"]
    assert attempts[0]["raw"] == attempts[2]["raw"]
    log = env.admin.deliveries()["deliveries"]
    assert [d["retry"] for d in log] == [0, 1, 2] and log[-1]["ok"] is True


def test_retries_give_up_after_the_budget(env: Env, receiver: Receiver) -> None:
    hook(env, receiver)
    receiver.statuses = [500] * 10
    env.bot.create_issue()
    settle(env)
    assert len(receiver.events()) == 4  # the first attempt and three retries


def test_unreachable_receiver_is_retried_and_never_fails_the_call(env: Env) -> None:
    env.admin.add_webhook("http://127.0.0.1:9/unreachable", secret="s")
    created = env.bot.post(
        "issue",
        json={"fields": {"project": {"key": "ABC"}, "issuetype": {"name": "Task"}, "summary": "x"}},
    )
    assert created.status_code == 201
    settle(env)
    log = env.admin.deliveries()["deliveries"]
    assert [d["retry"] for d in log] == [0, 1, 2, 3]
    assert all(d["error"] and not d["ok"] for d in log)


def test_disabled_and_deleted_webhooks_stay_quiet(env: Env, receiver: Receiver) -> None:
    created = hook(env, receiver)
    env.admin.set_webhook(created["id"], enabled=False)
    env.bot.create_issue()
    env.admin.set_webhook(created["id"], enabled=True)
    env.bot.create_issue()
    env.admin.delete_webhook(created["id"])
    env.bot.create_issue()
    settle(env)
    assert len(receiver.events()) == 1


def test_a_deleted_webhook_gets_no_more_retries(env: Env, receiver: Receiver) -> None:
    created = hook(env, receiver)
    receiver.statuses = [500] * 10
    env.bot.create_issue()
    env.admin.delete_webhook(created["id"])
    settle(env)
    assert len(receiver.events()) <= 1  # never the three retries


def test_a_webhook_registered_over_old_state_hears_only_what_happens_next(
    tmp_path: Path, receiver: Receiver
) -> None:
    """A site restarted over its state (a tracker with history) sends a new webhook the
    changes made after it was registered, never the earlier ones (nothing is replayed)."""
    state = tmp_path / "jira.json"
    with SandboxJira("cloud", persist_path=state, webhook_backoff=(0.01,)) as site:
        alice = site.store.add_user(display_name="Alice", email="alice@example.test")
        project = site.store.add_project(key="OLD", name="Old")
        SandboxAdmin(site.url).add_webhook("http://127.0.0.1:9/gone", secret="s")
        for n in range(30):
            site.store.create_issue(alice, project, {"issuetype": "Task", "summary": f"old {n}"})
    with SandboxJira("cloud", persist_path=state) as site:
        admin = SandboxAdmin(site.url)
        admin.add_webhook(receiver.url, secret=SECRET)
        [alice] = [u for u in site.store.users.values() if u.display_name == "Alice"]
        project = site.store.project("OLD")
        assert project is not None
        site.store.create_issue(alice, project, {"issuetype": "Task", "summary": "new"})
        assert admin.deliveries(wait=10)["idle"]
    assert [r["json"]["issue"]["fields"]["summary"] for r in receiver.events()] == ["new"]


def test_event_and_jql_filters(env: Env, receiver: Receiver) -> None:
    env.admin.create_project("XYZ", issue_types=["Task"])
    hook(env, receiver, events=["jira:issue_created"], jql="project = ABC")
    key = env.bot.create_issue()["key"]
    env.bot.post(
        "issue",
        json={"fields": {"project": {"key": "XYZ"}, "issuetype": {"name": "Task"}, "summary": "x"}},
    )
    env.bot.comment(key, "not subscribed")
    settle(env)
    assert [r["json"]["issue"]["key"] for r in receiver.events()] == [key]


def test_bad_webhook_settings_are_refused(env: Env) -> None:
    from devstack.sandbox_jira.admin import SandboxAdminError

    for bad in [
        {"url": "file:///etc/passwd"},
        {"url": "http://x/", "events": ["nope"]},
        {"url": "http://x/", "jql": "project ="},
    ]:
        with pytest.raises(SandboxAdminError) as info:
            env.admin.call("POST", "webhooks", bad)
        assert info.value.status == 400


def test_status_changes_fire_updates(env: Env, receiver: Receiver) -> None:
    key = env.bot.create_issue()["key"]
    hook(env, receiver)
    env.admin.set_status(key, "Done", user=env.alice_user["id"])
    settle(env)
    body = receiver.events()[0]["json"]
    # as in the captured issue-updated-resolved.json: the resolution Done sets, then
    # "status" (a create's item says "Status")
    resolution, item = body["changelog"]["items"]
    assert (resolution["field"], resolution["toString"]) == ("resolution", "Done")
    assert (item["field"], item["fromString"], item["toString"]) == ("status", "To Do", "Done")
    assert body["issue"]["fields"]["status"]["name"] == "Done"


def test_signature_helpers() -> None:
    assert sign("wrong-secret", b"smth") == (
        "sha256=beb656dd03b5a81bee94aab4966943bf694929fcd359c45a1947277df2541a5d"
    )
    assert with_secret("http://h/p?a=1", "s&t") == "http://h/p?a=1&secret=s%26t"


def test_webhooks_from_config(receiver: Receiver) -> None:
    config = {
        "users": [{"display_name": "Bot", "email": "bot@example.com", "token": "t"}],
        "projects": [{"key": "ABC", "issue_types": ["Task"]}],
        "webhooks": [{"url": receiver.url, "secret": "s", "events": ["jira:issue_created"]}],
    }
    with SandboxJira("cloud", config=config) as site:
        import requests

        requests.post(
            f"{site.url}/rest/api/3/issue",
            auth=("bot@example.com", "t"),
            json={
                "fields": {"project": {"key": "ABC"}, "issuetype": {"name": "Task"}, "summary": "x"}
            },
            timeout=5,
        )
        assert SandboxAdmin(site.url).deliveries(wait=5)["idle"]
    assert len(receiver.events("jira:issue_created")) == 1
