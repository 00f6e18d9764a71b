"""Issue 18 in the sandbox: issue links (types, create, read, delete, the ``issuelinks``
field, changelog and webhooks) and the hierarchy (sub-tasks, Cloud's ``parent`` on any
child, Server's ``Epic Link``), as Jira has them on both flavours."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.sandbox_jira import SandboxJira

from .conftest import Env, JiraClient, Receiver, setup_site

HIERARCHY = "HIE"


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


# --- hierarchy ---------------------------------------------------------------------------


@pytest.fixture
def hie(env: Env) -> Env:
    env.admin.create_project(HIERARCHY, "Hierarchy", issue_types=["Epic", "Story", "Sub-task"])
    return env


def make(env: Env, kind: str, summary: str = "x", **fields: Any) -> requests.Response:
    values = {"project": {"key": HIERARCHY}, "issuetype": {"name": kind}, "summary": summary}
    return env.bot.post("issue", json={"fields": {**values, **fields}})


def epic_fields(env: Env) -> dict[str, str]:
    return {f["name"]: f["id"] for f in env.bot.get("field").json() if f["custom"]}


def new_epic(env: Env) -> str:
    extra = {} if env.bot.cloud else {epic_fields(env)["Epic Name"]: "The epic"}
    answer = make(env, "Epic", "Epic", **extra)
    assert answer.status_code == 201, answer.text
    return answer.json()["key"]


def test_issue_types_say_subtask_and_level(hie: Env) -> None:
    meta = hie.bot.get(f"issue/createmeta/{HIERARCHY}/issuetypes").json()
    types = {t["name"]: t for t in meta["issueTypes" if hie.bot.cloud else "values"]}
    assert [types[n]["subtask"] for n in ("Epic", "Story", "Sub-task")] == [False, False, True]
    if hie.bot.cloud:
        assert [types[n]["hierarchyLevel"] for n in ("Epic", "Story", "Sub-task")] == [1, 0, -1]
    else:
        assert "hierarchyLevel" not in types["Epic"]


def test_sub_task_needs_a_parent(hie: Env) -> None:
    answer = make(hie, "Sub-task")
    assert answer.status_code == 400
    assert answer.json() == {
        "errorMessages": [],
        "errors": {
            "issuetype": "Issue type is a sub-task but parent issue key or id not specified."
        },
    }
    missing = make(hie, "Sub-task", parent={"key": "HIE-99"})
    assert missing.json()["errors"] == {"parent": "Could not find issue by id or key."}


def test_sub_task_under_its_parent(hie: Env) -> None:
    story = make(hie, "Story", "Story").json()["key"]
    child = make(hie, "Sub-task", "Child", parent={"key": story})
    assert child.status_code == 201, child.text
    fields = hie.bot.get(f"issue/{child.json()['key']}").json()["fields"]
    assert fields["parent"]["key"] == story
    assert fields["parent"]["fields"]["issuetype"]["name"] == "Story"
    subtasks = hie.bot.get(f"issue/{story}").json()["fields"]["subtasks"]
    assert [s["key"] for s in subtasks] == [child.json()["key"]]
    assert "parent" not in hie.bot.get(f"issue/{story}").json()["fields"]


def test_cloud_parent_is_one_level_up(cloud: Env) -> None:
    cloud.admin.create_project(HIERARCHY, "Hierarchy", issue_types=["Epic", "Story", "Sub-task"])
    epic = new_epic(cloud)
    story = make(cloud, "Story", parent={"key": epic})
    assert story.status_code == 201, story.text
    assert cloud.bot.get(f"issue/{story.json()['key']}").json()["fields"]["parent"]["key"] == epic
    assert (
        cloud.bot.get(f"issue/{epic}").json()["fields"]["subtasks"] == []
    )  # children, not subtasks
    wrong = {"parentId": "Given parent work item does not belong to appropriate hierarchy."}
    assert make(cloud, "Sub-task", parent={"key": epic}).json()["errors"] == wrong
    other = make(cloud, "Story").json()["key"]
    assert make(cloud, "Story", parent={"key": other}).json()["errors"] == wrong
    moved = cloud.bot.put(f"issue/{other}", json={"fields": {"parent": {"key": epic}}})
    assert moved.status_code == 204
    assert cloud.bot.get(f"issue/{other}").json()["fields"]["parent"]["key"] == epic


def test_server_epic_link_and_epic_name(server: Env) -> None:
    server.admin.create_project(HIERARCHY, "Hierarchy", issue_types=["Epic", "Story", "Sub-task"])
    ids = epic_fields(server)
    assert set(ids) >= {"Epic Link", "Epic Name"}
    schema = next(f for f in server.bot.get("field").json() if f["name"] == "Epic Link")["schema"]
    assert schema["custom"] == "com.pyxis.greenhopper.jira:gh-epic-link"
    unnamed = make(server, "Epic")
    assert unnamed.json()["errors"] == {ids["Epic Name"]: "Epic Name is required."}
    epic = new_epic(server)
    story = make(server, "Story", **{ids["Epic Link"]: epic})
    assert story.status_code == 201, story.text
    fields = server.bot.get(f"issue/{story.json()['key']}").json()["fields"]
    assert fields[ids["Epic Link"]] == epic and "parent" not in fields
    no_parent = make(server, "Story", parent={"key": epic})
    assert list(no_parent.json()["errors"]) == ["parent"]
    bad = make(server, "Story", **{ids["Epic Link"]: story.json()["key"]})
    assert bad.json()["errors"] == {
        ids["Epic Link"]: f"The issue key '{story.json()['key']}' for field 'Epic Link' is invalid."
    }
    found = server.bot.get("search", params={"jql": f'"Epic Link" = {epic}', "fields": "key"})
    assert [i["key"] for i in found.json()["issues"]] == [story.json()["key"]]


# --- persistence -------------------------------------------------------------------------


def test_relations_survive_a_restart(tmp_path: Path, flavour: str) -> None:
    state = tmp_path / "jira.json"
    with SandboxJira(flavour, persist_path=state) as site:
        _, bot_user, _ = setup_site(site)
        bot = JiraClient(site, bot_user)
        a, b = bot.create_issue("A")["key"], bot.create_issue("B")["key"]
        body = {"type": {"name": "Blocks"}, "inwardIssue": {"key": a}, "outwardIssue": {"key": b}}
        assert bot.post("issueLink", json=body).status_code == 201
        assert bot.post(f"issue/{a}/worklog", json={"timeSpent": "1h"}).status_code == 201
        assert bot.post("component", json={"project": "ABC", "name": "Backend"}).status_code == 201
        assert bot.post("version", json={"project": "ABC", "name": "1.0"}).status_code == 201
        bot.put(f"issue/{a}", json={"fields": {"components": [{"name": "Backend"}]}})
        before = bot.get(f"issue/{a}").json()["fields"]
    with SandboxJira(flavour, persist_path=state) as site:
        bot = JiraClient(site, bot_user)
        after = bot.get(f"issue/{a}").json()["fields"]
        for name in ("issuelinks", "worklog", "timespent", "components"):
            assert after[name] == _rebased(before[name], after), name
        assert [v["name"] for v in bot.get("project/ABC/versions").json()] == ["1.0"]
        assert (
            bot.post("component", json={"project": "ABC", "name": "Other"}).json()["id"]
            != (after["components"][0]["id"])
        )


def _rebased(value: Any, after: dict[str, Any]) -> Any:
    """``value`` with the first site's base URL as the second's (ports differ)."""
    text = json.dumps(value)
    old = re.search(r"http://127\.0\.0\.1:\d+", text)
    new = re.search(r"http://127\.0\.0\.1:\d+", json.dumps(after))
    return json.loads(text.replace(old.group(0), new.group(0))) if old and new else value


def test_deleting_a_parent_needs_delete_subtasks(hie: Env) -> None:
    story = make(hie, "Story", "Story").json()["key"]
    child = make(hie, "Sub-task", "Child", parent={"key": story}).json()["key"]
    refused = hie.bot.delete(f"issue/{story}")
    assert refused.status_code == 400
    assert refused.json()["errorMessages"] == [
        f"The issue '{story}' has subtasks.  You must specify the 'deleteSubtasks' parameter "
        "to delete this issue and all its subtasks."
    ]
    assert hie.bot.delete(f"issue/{story}", params={"deleteSubtasks": "true"}).status_code == 204
    assert hie.bot.get(f"issue/{child}").status_code == 404


def test_deleting_an_epic_leaves_its_children_without_parent(cloud: Env) -> None:
    cloud.admin.create_project(HIERARCHY, "Hierarchy", issue_types=["Epic", "Story", "Sub-task"])
    epic = new_epic(cloud)
    story = make(cloud, "Story", parent={"key": epic}).json()["key"]
    assert cloud.bot.delete(f"issue/{epic}").status_code == 204
    assert "parent" not in cloud.bot.get(f"issue/{story}").json()["fields"]
    found = cloud.bot.get(
        "search/jql", params={"jql": f"project = {HIERARCHY} AND parent IS EMPTY"}
    )
    assert [i["id"] for i in found.json()["issues"]] == [
        cloud.bot.get(f"issue/{story}").json()["id"]
    ]
