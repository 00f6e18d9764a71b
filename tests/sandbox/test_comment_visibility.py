"""Comment visibility as Jira enforces it (issue 14 item 9), in both flavours.

Jira's REST reference: a comment restricted to a group or project role is returned only to
users who belong to it (GET comments lists it not, GET comment answers 404, the issue's
``comment`` field leaves it out); an author may restrict a comment only to a group or role
they belong to (400 ``commentLevel``). Admin webhooks are not sent as a user: their bodies
carry restricted comments with their ``visibility``, and the receiver must honour it.

Sandbox users are in the groups ``jira-administrators``, ``jira-developers`` and
``jira-users`` unless created with ``groups``; the project roles Administrators, Developers
and Users hold those groups.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.sandbox.conftest import Env, JiraClient, Receiver

ADMINS = {"type": "role", "value": "Administrators"}


def outsider(env: Env, groups: list[str]) -> JiraClient:
    """A user of the site who is in ``groups`` only."""
    if env.site.flavour == "cloud":
        user = env.admin.create_user(
            display_name="Olive", email="olive@example.com", token="o-tok", groups=groups
        )
    else:
        user = env.admin.create_user(
            display_name="Olive", name="olive", token="olive-pat", groups=groups
        )
    assert user["groups"] == groups
    return JiraClient(env.site, user)


def restricted(env: Env, key: str, text: str, visibility: dict[str, str]) -> dict[str, Any]:
    response = env.bot.post(
        f"issue/{key}/comment", json={"body": env.bot.body(text), "visibility": visibility}
    )
    assert response.status_code == 201, response.text
    return response.json()


def listed(client: JiraClient, key: str) -> list[str]:
    page = client.get(f"issue/{key}/comment").json()
    assert page["total"] == len(page["comments"])
    return [c["id"] for c in page["comments"]]


def embedded(client: JiraClient, key: str) -> list[str]:
    issue = client.get(f"issue/{key}", params={"fields": "comment"}).json()
    page = issue["fields"]["comment"]
    assert page["total"] == len(page["comments"])
    return [c["id"] for c in page["comments"]]


@pytest.mark.parametrize("visibility", [ADMINS, {"type": "group", "value": "jira-administrators"}])
def test_a_restricted_comment_is_hidden_from_users_outside_it(env: Env, visibility) -> None:
    key = env.bot.create_issue()["key"]
    olive = outsider(env, ["jira-users"])
    everyone = env.bot.comment(key, "for everyone")
    secret = restricted(env, key, "admins only", visibility)

    # a member (the bot, by default in every group) sees both
    assert listed(env.bot, key) == [everyone["id"], secret["id"]]
    assert embedded(env.bot, key) == [everyone["id"], secret["id"]]
    assert env.bot.get(f"issue/{key}/comment/{secret['id']}").status_code == 200
    # a user outside the role or group does not: not listed, not embedded, not found
    assert listed(olive, key) == [everyone["id"]]
    assert embedded(olive, key) == [everyone["id"]]
    hidden = olive.get(f"issue/{key}/comment/{secret['id']}")
    assert hidden.status_code == 404
    assert secret["id"] in hidden.json()["errorMessages"][0]
    # nor can they edit or delete what they cannot see
    edit = olive.put(f"issue/{key}/comment/{secret['id']}", json={"body": olive.body("x")})
    assert edit.status_code == 404
    assert olive.delete(f"issue/{key}/comment/{secret['id']}").status_code == 404
    # search results embed the same page as the issue
    search = "search/jql" if env.site.flavour == "cloud" else "search"  # Cloud's old search is gone
    found = olive.post(search, json={"jql": f"key = {key}", "fields": ["comment"]}).json()
    comments = found["issues"][0]["fields"]["comment"]["comments"]
    assert [c["id"] for c in comments] == [everyone["id"]]


def test_a_role_holds_its_group(env: Env) -> None:
    key = env.bot.create_issue()["key"]
    developer = outsider(env, ["jira-developers"])
    for_devs = restricted(env, key, "devs", {"type": "role", "value": "Developers"})
    for_admins = restricted(env, key, "admins", ADMINS)
    assert listed(developer, key) == [for_devs["id"]]
    assert for_admins["id"] not in embedded(developer, key)


def test_an_author_can_restrict_only_to_a_role_or_group_they_are_in(env: Env) -> None:
    key = env.bot.create_issue()["key"]
    olive = outsider(env, ["jira-users"])

    def refusal(visibility: dict[str, str]) -> str:
        response = olive.post(
            f"issue/{key}/comment", json={"body": olive.body("x"), "visibility": visibility}
        )
        assert response.status_code == 400, response.text
        return str(response.json()["errors"]["commentLevel"])

    assert refusal(ADMINS) == "You are currently not a member of the project role: Administrators."
    assert refusal({"type": "group", "value": "jira-administrators"}) == (
        "You are currently not a member of the group: jira-administrators."
    )
    assert (
        refusal({"type": "group", "value": "nobody-here"}) == "Group: nobody-here does not exist."
    )
    assert refusal({"type": "role", "value": "Wizards"}) == "Invalid role level specified."
    users_only = olive.post(
        f"issue/{key}/comment",
        json={"body": olive.body("ok"), "visibility": {"type": "role", "value": "Users"}},
    )
    assert users_only.status_code == 201, users_only.text


def test_admin_webhooks_carry_restricted_comments_with_their_visibility(
    env: Env, receiver: Receiver
) -> None:
    env.admin.add_webhook(receiver.url, events=["comment_created"])
    key = env.bot.create_issue()["key"]
    secret = restricted(env, key, "admins only", ADMINS)
    env.site.publisher.wait_idle()
    (sent,) = [r["json"] for r in receiver.requests]
    assert sent["comment"]["id"] == secret["id"]
    assert sent["comment"]["visibility"] == ADMINS


def test_groups_are_given_at_creation_and_checked(env: Env) -> None:
    assert env.bot_user["groups"] == ["jira-administrators", "jira-developers", "jira-users"]
    bad = env.site.url + "/_sandbox/users"
    answer = env.bot.session.post(
        bad, json={"display_name": "X", "email": "x@e.com", "name": "x", "groups": "jira-users"}
    )
    assert answer.status_code == 400
