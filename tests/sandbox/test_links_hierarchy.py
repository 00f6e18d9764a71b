"""Issue 18 in the sandbox: issue links (types, create, read, delete, the ``issuelinks``
field, changelog and webhooks), as Jira has them on both flavours."""

from __future__ import annotations

from typing import Any

from .conftest import Env, Receiver


def link(env: Env, source: str, destination: str, kind: str = "Blocks") -> Any:
    return env.bot.post(
        "issueLink",
        json={
            "type": {"name": kind},
            "inwardIssue": {"key": source},
            "outwardIssue": {"key": destination},
        },
    )


def links_of(env: Env, key: str) -> list[dict[str, Any]]:
    return env.bot.get(f"issue/{key}", params={"fields": "issuelinks"}).json()["fields"][
        "issuelinks"
    ]


def test_link_types_are_jiras_defaults(env: Env) -> None:
    types = env.bot.get("issueLinkType").json()["issueLinkTypes"]
    blocks = next(t for t in types if t["name"] == "Blocks")
    assert (blocks["inward"], blocks["outward"]) == ("is blocked by", "blocks")
    assert {t["name"] for t in types} >= {"Blocks", "Duplicate", "Relates", "Cloners"}


def test_a_link_shows_on_both_issues_seen_from_each(env: Env) -> None:
    a, b = env.bot.create_issue("A")["key"], env.bot.create_issue("B")["key"]
    answer = link(env, a, b)
    assert (answer.status_code, answer.content) == (201, b"")
    [on_a] = links_of(env, a)
    [on_b] = links_of(env, b)
    assert on_a["outwardIssue"]["key"] == b and "inwardIssue" not in on_a
    assert on_b["inwardIssue"]["key"] == a and "outwardIssue" not in on_b
    assert on_a["id"] == on_b["id"] and on_a["type"]["name"] == "Blocks"
    assert on_a["outwardIssue"]["fields"]["summary"] == "B"
    whole = env.bot.get(f"issueLink/{on_a['id']}").json()
    assert (whole["inwardIssue"]["key"], whole["outwardIssue"]["key"]) == (a, b)
    assert link(env, a, b).status_code == 201  # the same link again: no second link
    assert len(links_of(env, a)) == 1


def test_link_changelog_on_both_issues(env: Env) -> None:
    a, b = env.bot.create_issue("A")["key"], env.bot.create_issue("B")["key"]
    link(env, a, b)

    def last_item(key: str) -> dict[str, Any]:
        return env.bot.get(f"issue/{key}", params={"expand": "changelog"}).json()["changelog"][
            "histories"
        ][0 if env.bot.cloud else -1]["items"][0]

    assert last_item(a)["toString"] == f"This issue blocks {b}"
    assert last_item(b)["toString"] == f"This issue is blocked by {a}"


def test_delete_link(env: Env) -> None:
    a, b = env.bot.create_issue("A")["key"], env.bot.create_issue("B")["key"]
    link(env, a, b, "Relates")
    [item] = links_of(env, a)
    assert env.bot.delete(f"issueLink/{item['id']}").status_code == 204
    assert links_of(env, a) == [] and links_of(env, b) == []
    gone = env.bot.delete(f"issueLink/{item['id']}")
    assert gone.status_code == 404
    assert gone.json()["errorMessages"] == [f"No issue link with id '{item['id']}' exists."]


def test_deleting_an_issue_drops_its_links(env: Env) -> None:
    a, b = env.bot.create_issue("A")["key"], env.bot.create_issue("B")["key"]
    link(env, a, b)
    assert env.bot.delete(f"issue/{b}").status_code == 204
    assert links_of(env, a) == []


def test_link_refusals(env: Env) -> None:
    a = env.bot.create_issue("A")["key"]
    unknown = link(env, a, a, "Frobnicates")
    assert unknown.status_code == 404
    assert unknown.json()["errorMessages"] == ["No issue link type with name 'Frobnicates' found."]
    assert link(env, a, "ABC-999").status_code == 404
    assert link(env, a, a).status_code == 400
    assert env.bot.post("issueLink", json={"type": {"name": "Blocks"}}).status_code == 400


def test_link_webhooks(env: Env, receiver: Receiver) -> None:
    env.admin.add_webhook(receiver.url, events=["issuelink_created", "issuelink_deleted"])
    a, b = env.bot.create_issue("A"), env.bot.create_issue("B")
    link(env, a["key"], b["key"])
    [item] = links_of(env, a["key"])
    env.bot.delete(f"issueLink/{item['id']}")
    assert env.site.publisher.wait_idle()
    created = receiver.events("issuelink_created")[0]["json"]
    assert set(created) == {"timestamp", "webhookEvent", "issueLink"}
    body = created["issueLink"]
    assert body["id"] == int(item["id"])
    assert (body["sourceIssueId"], body["destinationIssueId"]) == (int(a["id"]), int(b["id"]))
    assert body["issueLinkType"]["outwardName"] == "blocks"
    assert set(body) == {"id", "sourceIssueId", "destinationIssueId", "issueLinkType", "systemLink"}
    assert receiver.events("issuelink_deleted")[0]["json"]["issueLink"]["id"] == int(item["id"])
