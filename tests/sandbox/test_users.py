"""Issue 18 in the sandbox: user search (Cloud's ``query``/``accountId``, Server's
``username``), hidden e-mail addresses on Cloud, assigning through ``PUT assignee``."""

from __future__ import annotations

from .conftest import Env


def test_cloud_user_search(cloud: Env) -> None:
    cloud.admin.create_user(
        display_name="Carol Hidden", email="carol@example.com", email_visible=False
    )
    found = cloud.bot.get("user/search", params={"query": "ali"}).json()
    assert [u["accountId"] for u in found] == [cloud.alice_user["id"]]
    assert found[0]["emailAddress"] == "alice@example.com"
    by_email = cloud.bot.get("user/search", params={"query": "alice@example.com"}).json()
    assert [u["displayName"] for u in by_email] == ["Alice"]
    hidden = cloud.bot.get("user/search", params={"query": "carol@example.com"}).json()
    assert [u["displayName"] for u in hidden] == ["Carol Hidden"]
    assert "emailAddress" not in hidden[0]
    assert cloud.bot.get("user/search", params={"query": "carol@"}).json() == []
    one = cloud.bot.get("user/search", params={"accountId": cloud.alice_user["id"]}).json()
    assert [u["displayName"] for u in one] == ["Alice"]
    assert cloud.bot.get("user/search").status_code == 400


def test_server_user_search(server: Env) -> None:
    found = server.bot.get("user/search", params={"username": "ali"}).json()
    assert [(u["name"], u["key"]) for u in found] == [("alice", server.alice_user["id"])]
    assert found[0]["emailAddress"] == "alice@sandbox.invalid"
    assert "accountId" not in found[0]
    assert len(server.bot.get("user/search", params={"username": "."}).json()) == 2
    assert server.bot.get("user/search").status_code == 400


def test_assign_by_account_id_or_name(env: Env) -> None:
    key = env.bot.create_issue()["key"]
    who = {"accountId": env.alice_user["id"]} if env.bot.cloud else {"name": "alice"}
    assert env.bot.put(f"issue/{key}/assignee", json=who).status_code == 204
    assignee = env.bot.get(f"issue/{key}").json()["fields"]["assignee"]
    assert assignee["displayName"] == "Alice"
    nobody = {"accountId": None} if env.bot.cloud else {"name": None}
    assert env.bot.put(f"issue/{key}/assignee", json=nobody).status_code == 204
    assert env.bot.get(f"issue/{key}").json()["fields"]["assignee"] is None
    stranger = {"accountId": "nope"} if env.bot.cloud else {"name": "nope"}
    refused = env.bot.put(f"issue/{key}/assignee", json=stranger)
    assert refused.status_code == 400
    assert refused.json()["errors"] == {"assignee": "User 'nope' does not exist."}


def test_server_names_a_user_by_username_or_by_key_each_only_as_itself(server: Env) -> None:
    key = server.alice_user["id"]
    by_name = server.bot.get("user", params={"username": "alice"})
    assert by_name.status_code == 200 and by_name.json()["key"] == key
    assert server.bot.get("user", params={"key": key}).json()["name"] == "alice"
    if key != "alice":  # a user made since Jira 8: the key is not the username
        assert server.bot.get("user", params={"key": "alice"}).status_code == 404
    assert server.bot.get("user", params={"username": key}).status_code == 404
