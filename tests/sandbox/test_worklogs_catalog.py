"""Issue 18 in the sandbox: worklogs (REST, durations, changelog, webhooks), on both
flavours: ADF comments on Cloud's v3, strings on Server."""

from __future__ import annotations

import pytest

from devstack.sandbox_jira.admin import SandboxAdminError
from devstack.sandbox_jira.worklogs import format_duration, parse_duration

from .conftest import Env, Receiver

STARTED = "2026-12-01T09:30:00.000+0000"


@pytest.mark.parametrize(
    ("text", "seconds", "again"),
    [
        ("1h 30m", 5400, "1h 30m"),
        ("90", 5400, "1h 30m"),
        ("1d", 8 * 3600, "1d"),
        ("1w 2d", 7 * 8 * 3600, "1w 2d"),
        ("2.5h", 9000, "2h 30m"),
    ],
)
def test_durations_as_jira_reads_and_writes_them(text: str, seconds: int, again: str) -> None:
    assert parse_duration(text) == seconds
    assert format_duration(seconds) == again


@pytest.mark.parametrize("text", ["", "soon", "1x", "h1"])
def test_not_durations(text: str) -> None:
    assert parse_duration(text) is None


def test_worklog_lifecycle(env: Env) -> None:
    key = env.bot.create_issue()["key"]
    made = env.bot.post(
        f"issue/{key}/worklog",
        json={"timeSpent": "1h 30m", "started": STARTED, "comment": env.bot.body("Fixed it")},
    )
    assert made.status_code == 201, made.text
    log = made.json()
    assert (log["timeSpent"], log["timeSpentSeconds"], log["started"]) == ("1h 30m", 5400, STARTED)
    assert log["comment"] == env.bot.body("Fixed it")
    assert log["author"]["displayName"] == "Sync Bot"
    edited = env.alice.put(f"issue/{key}/worklog/{log['id']}", json={"timeSpentSeconds": 600})
    assert edited.status_code == 200, edited.text
    assert (edited.json()["timeSpent"], edited.json()["updateAuthor"]["displayName"]) == (
        "10m",
        "Alice",
    )
    assert edited.json()["comment"] == env.bot.body("Fixed it")
    page = env.bot.get(f"issue/{key}/worklog").json()
    assert (page["total"], [w["id"] for w in page["worklogs"]]) == (1, [log["id"]])
    fields = env.bot.get(f"issue/{key}").json()["fields"]
    assert fields["timespent"] == 600 and fields["worklog"]["total"] == 1
    assert env.bot.delete(f"issue/{key}/worklog/{log['id']}").status_code == 204
    assert env.bot.get(f"issue/{key}/worklog/{log['id']}").status_code == 404
    assert env.bot.get(f"issue/{key}").json()["fields"]["timespent"] is None


def test_worklog_on_v2_of_cloud_takes_a_string(cloud: Env) -> None:
    key = cloud.bot.create_issue()["key"]
    url = f"{cloud.site.url}/rest/api/2/issue/{key}/worklog"
    made = cloud.bot.session.post(url, json={"timeSpent": "5m", "comment": "plain"}, timeout=10)
    assert made.status_code == 201 and made.json()["comment"] == "plain"
    log = cloud.bot.get(f"issue/{key}/worklog/{made.json()['id']}").json()
    assert log["comment"]["type"] == "doc"


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"started": STARTED}, {"timeLogged": "You must indicate the time spent working."}),
        ({"timeSpent": "soon"}, {"timeLogged": "Invalid time duration entered."}),
        ({"timeSpentSeconds": 0}, {"timeLogged": "Invalid time duration entered."}),
        (
            {"timeSpent": "1h", "started": "yesterday"},
            {"started": "Could not parse the started date."},
        ),
    ],
)
def test_worklog_refusals(env: Env, body: dict, errors: dict) -> None:
    key = env.bot.create_issue()["key"]
    answer = env.bot.post(f"issue/{key}/worklog", json=body)
    assert answer.status_code == 400
    assert answer.json() == {"errorMessages": [], "errors": errors}


def test_worklog_comment_must_match_the_version(cloud: Env) -> None:
    key = cloud.bot.create_issue()["key"]
    answer = cloud.bot.post(f"issue/{key}/worklog", json={"timeSpent": "1h", "comment": "x"})
    assert answer.status_code == 400


def test_worklog_changelog_and_webhooks(env: Env, receiver: Receiver) -> None:
    env.admin.add_webhook(
        receiver.url,
        events=["worklog_created", "worklog_updated", "worklog_deleted", "jira:issue_updated"],
    )
    issue = env.bot.create_issue()
    key = issue["key"]
    log = env.bot.post(f"issue/{key}/worklog", json={"timeSpent": "1h"}).json()
    env.bot.put(f"issue/{key}/worklog/{log['id']}", json={"timeSpent": "2h"})
    env.bot.delete(f"issue/{key}/worklog/{log['id']}")
    assert env.site.publisher.wait_idle()
    for event in ("worklog_created", "worklog_updated", "worklog_deleted"):
        [body] = [r["json"] for r in receiver.events(event)]
        assert set(body) == {"timestamp", "webhookEvent", "worklog"}
        assert (body["worklog"]["id"], body["worklog"]["issueId"]) == (log["id"], issue["id"])
    updates = [r["json"] for r in receiver.events("jira:issue_updated")]
    assert [u["issue_event_type_name"] for u in updates] == [
        "issue_work_logged",
        "issue_worklog_updated",
        "issue_worklog_deleted",
    ]
    first = {i["field"]: i for i in updates[0]["changelog"]["items"]}
    assert (first["timespent"]["to"], first["WorklogId"]["to"]) == ("3600", log["id"])


# --- components, versions, due date ------------------------------------------------------


def catalog(env: Env) -> tuple[dict, dict]:
    component = env.bot.post(
        "component", json={"project": "ABC", "name": "Backend", "description": "APIs"}
    )
    assert component.status_code == 201, component.text
    project_id = env.bot.get("project/ABC").json()["id"]
    version = env.bot.post("version", json={"projectId": int(project_id), "name": "1.0"})
    assert version.status_code == 201, version.text
    return component.json(), version.json()


def test_components_and_versions_of_a_project(env: Env) -> None:
    component, version = catalog(env)
    assert (component["name"], component["project"]) == ("Backend", "ABC")
    listed = env.bot.get("project/ABC/components").json()
    assert [c["id"] for c in listed] == [component["id"]]
    versions = env.bot.get("project/ABC/versions").json()
    assert [(x["id"], x["name"], x["released"]) for x in versions] == [
        (version["id"], "1.0", False)
    ]
    assert env.bot.get(f"component/{component['id']}").json()["name"] == "Backend"
    assert env.bot.get(f"version/{version['id']}").json()["name"] == "1.0"
    again = env.bot.post("component", json={"project": "ABC", "name": "backend"})
    assert again.status_code == 400 and "already exists" in again.json()["errors"]["name"]
    twice = env.bot.post("version", json={"project": "ABC", "name": "1.0"})
    assert twice.json()["errors"] == {
        "name": "A version with this name already exists in this project."
    }
    assert env.bot.get("project/NOPE/versions").status_code == 404


def test_issue_fields_by_name_or_id(env: Env) -> None:
    _, version = catalog(env)
    key = env.bot.create_issue(
        components=[{"name": "backend"}],
        fixVersions=[{"id": version["id"]}],
        versions=[{"name": "1.0"}],
        duedate="2026-12-24",
        environment=env.bot.body("Linux"),
    )["key"]
    fields = env.bot.get(f"issue/{key}").json()["fields"]
    assert [c["name"] for c in fields["components"]] == ["Backend"]
    assert (
        [x["name"] for x in fields["fixVersions"]]
        == ["1.0"]
        == [x["name"] for x in fields["versions"]]
    )
    assert set(fields["components"][0]) == {"self", "id", "name", "description"}
    assert (fields["duedate"], fields["environment"]) == ("2026-12-24", env.bot.body("Linux"))
    cleared = env.bot.put(f"issue/{key}", json={"fields": {"components": [], "duedate": None}})
    assert cleared.status_code == 204
    fields = env.bot.get(f"issue/{key}").json()["fields"]
    assert (fields["components"], fields["duedate"]) == ([], None)


def test_unknown_names_are_refused_like_jira(env: Env) -> None:
    catalog(env)
    for field, value, message in [
        ("components", [{"name": "Frontend"}], "Component name 'Frontend' is not valid"),
        ("fixVersions", [{"name": "9.9"}], "Version name '9.9' is not valid"),
        ("versions", [{"id": "99999"}], "Version id '99999' is not valid"),
        ("duedate", "24/12/2026", "Error parsing date string: 24/12/2026"),
    ]:
        answer = env.bot.post(
            "issue",
            json={
                "fields": {
                    "project": {"key": "ABC"},
                    "issuetype": {"name": "Task"},
                    "summary": "x",
                    field: value,
                }
            },
        )
        assert answer.status_code == 400
        assert answer.json() == {"errorMessages": [], "errors": {field: message}}


def test_version_changes_are_logged_per_version(env: Env) -> None:
    _, first = catalog(env)
    second = env.bot.post("version", json={"project": "ABC", "name": "2.0"}).json()
    key = env.bot.create_issue(fixVersions=[{"name": "1.0"}])["key"]
    env.bot.put(f"issue/{key}", json={"fields": {"fixVersions": [{"name": "2.0"}]}})
    histories = env.bot.get(f"issue/{key}", params={"expand": "changelog"}).json()["changelog"][
        "histories"
    ]
    [item] = histories[0 if env.bot.cloud else -1]["items"]
    assert (item["field"], item["from"], item["fromString"], item["to"], item["toString"]) == (
        "Fix Version",
        first["id"],
        "1.0",
        second["id"],
        "2.0",
    )


def test_a_project_may_start_with_components_and_versions(env: Env) -> None:
    env.admin.create_project("CAT", "Catalogue", components=["Web", "API"], versions=["1.0"])
    assert [c["name"] for c in env.bot.get("project/CAT/components").json()] == ["Web", "API"]
    assert [v["name"] for v in env.bot.get("project/CAT/versions").json()] == ["1.0"]
    with pytest.raises(SandboxAdminError) as refused:
        env.admin.create_project("BAD", "Bad", components=[""])
    assert refused.value.status == 400
    assert env.bot.get("project/BAD").status_code == 404  # refused whole


def test_worklog_webhooks_follow_the_hooks_jql(env: Env, receiver: Receiver) -> None:
    env.admin.add_webhook(receiver.url, events=["worklog_created"], jql="labels = hot")
    hot = env.bot.create_issue(labels=["hot"])
    cold = env.bot.create_issue()
    for issue in (hot, cold):
        env.bot.post(f"issue/{issue['key']}/worklog", json={"timeSpent": "1h"})
    assert env.site.publisher.wait_idle()
    assert [r["json"]["worklog"]["issueId"] for r in receiver.events()] == [hot["id"]]
