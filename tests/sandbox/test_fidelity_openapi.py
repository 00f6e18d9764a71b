"""Every sandbox response an adapter reads, checked against Atlassian's Cloud OpenAPI document.

Server responses are checked against the same document (Atlassian publishes none for
Jira Server 9; most shapes are shared, bodies are strings and users carry name/key,
both of which the Cloud schemas allow). A deliberate drift must fail: see the last tests.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from .conftest import PROJECT, Env, adf
from .oas import errors, request_validator, response_validator, schema_validator

ISSUE = "/rest/api/3/issue/{issueIdOrKey}"
COMMENTS = "/rest/api/3/issue/{issueIdOrKey}/comment"
COMMENT = "/rest/api/3/issue/{issueIdOrKey}/comment/{id}"

# keys the adapters read, insisted on where Atlassian's schema leaves an object open
REQUIRED = {
    "Comment": ("id", "author", "body", "created", "updated", "self"),
    "Attachment": ("id", "filename", "size", "mimeType", "content", "created", "author"),
}


def check(validator: Any, body: Any) -> None:
    problems = errors(validator, body)
    assert not problems, "\n".join(problems)


def populated_issue(env: Env) -> str:
    """An issue with every field the adapters read: body, labels, comment, attachment."""
    key = env.bot.create_issue(
        "Full issue",
        description=env.bot.body("Described"),
        labels=["x", "y"],
        priority={"name": "Low"},
    )["key"]
    env.alice.comment(key, "A comment")
    assert env.bot.attach(key, "a.txt", b"data").status_code == 200
    env.bot.put(f"issue/{key}/properties/twin", json={"remote": "XYZ-1"})
    env.bot.put(f"issue/{key}", json={"fields": {"summary": "Full issue, edited"}})
    return key


def test_myself(env: Env) -> None:
    check(response_validator("/rest/api/3/myself", "get"), env.bot.get("myself").json())


def test_user(env: Env) -> None:
    param = "accountId" if env.bot.cloud else "username"
    login = env.bot_user["id"] if env.bot.cloud else env.bot_user["name"]
    user = env.bot.get("user", params={param: login}).json()
    check(response_validator("/rest/api/3/user", "get"), user)


def test_server_info(env: Env) -> None:
    check(response_validator("/rest/api/3/serverInfo", "get"), env.bot.get("serverInfo").json())


def test_projects(env: Env) -> None:
    check(response_validator("/rest/api/3/project", "get"), env.bot.get("project").json())
    with_types = env.bot.get("project", params={"expand": "issueTypes"}).json()
    check(response_validator("/rest/api/3/project", "get"), with_types)
    detail = env.bot.get(f"project/{PROJECT}").json()
    check(response_validator("/rest/api/3/project/{projectIdOrKey}", "get"), detail)


def test_project_search_and_type_scheme(cloud: Env) -> None:
    page = cloud.bot.get("project/search", params={"expand": "issueTypes"}).json()
    check(response_validator("/rest/api/3/project/search", "get"), page)
    schemes = cloud.bot.get("issuetypescheme/project", params={"projectId": "10000"}).json()
    check(response_validator("/rest/api/3/issuetypescheme/project", "get"), schemes)


def test_createmeta_issue_types(cloud: Env) -> None:
    meta = cloud.bot.get(f"issue/createmeta/{PROJECT}/issuetypes").json()
    check(
        response_validator("/rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes", "get"), meta
    )


def test_created_issue(env: Env) -> None:
    created = env.bot.create_issue()
    check(response_validator("/rest/api/3/issue", "post", 201), created)


def test_issue(env: Env) -> None:
    key = populated_issue(env)
    issue = env.bot.get(f"issue/{key}", params={"expand": "changelog,names", "properties": "twin"})
    body = issue.json()
    check(response_validator(ISSUE, "get"), body)
    fields = body["fields"]
    check(schema_validator("IssueTypeDetails"), fields["issuetype"])
    check(schema_validator("ProjectDetails"), fields["project"])
    check(schema_validator("StatusDetails"), fields["status"])
    check(schema_validator("Priority"), fields["priority"])
    for user in ("reporter", "creator"):
        check(schema_validator("UserDetails"), fields[user])
    check(response_validator(COMMENTS, "get"), fields["comment"])
    for comment in fields["comment"]["comments"]:
        check(schema_validator("Comment", required=REQUIRED["Comment"]), comment)
    for attachment in fields["attachment"]:
        check(schema_validator("Attachment", required=REQUIRED["Attachment"]), attachment)


def test_changelog_page(cloud: Env) -> None:
    key = populated_issue(cloud)
    page = cloud.bot.get(f"issue/{key}/changelog").json()
    check(response_validator("/rest/api/3/issue/{issueIdOrKey}/changelog", "get"), page)


def test_comments(env: Env) -> None:
    key = env.bot.create_issue()["key"]
    created = env.bot.post(f"issue/{key}/comment", json={"body": env.bot.body("Hi")})
    check(response_validator(COMMENTS, "post", 201), created.json())
    cid = created.json()["id"]
    check(response_validator(COMMENT, "get"), env.bot.get(f"issue/{key}/comment/{cid}").json())
    edited = env.bot.put(f"issue/{key}/comment/{cid}", json={"body": env.bot.body("Ho")})
    check(response_validator(COMMENT, "put"), edited.json())
    check(response_validator(COMMENTS, "get"), env.bot.get(f"issue/{key}/comment").json())
    env.bot.post(
        f"issue/{key}/comment",
        json={"body": env.bot.body("x"), "properties": [{"key": "k", "value": {"a": 1}}]},
    )
    expanded = env.bot.get(f"issue/{key}/comment", params={"expand": "properties"}).json()
    assert expanded["comments"][-1]["properties"] == [{"key": "k", "value": {"a": 1}}]
    check(response_validator(COMMENTS, "get"), expanded)


def test_attachments(env: Env) -> None:
    key = env.bot.create_issue()["key"]
    uploaded = env.bot.attach(key, "pic.png", b"\x89PNG")
    check(
        response_validator("/rest/api/3/issue/{issueIdOrKey}/attachments", "post"), uploaded.json()
    )
    for item in uploaded.json():
        check(schema_validator("Attachment", required=REQUIRED["Attachment"]), item)
    meta = env.bot.get(f"attachment/{uploaded.json()[0]['id']}").json()
    check(response_validator("/rest/api/3/attachment/{id}", "get"), meta)
    settings = env.bot.get("attachment/meta").json()
    check(response_validator("/rest/api/3/attachment/meta", "get"), settings)


def test_properties(env: Env) -> None:
    key = env.bot.create_issue()["key"]
    env.bot.put(f"issue/{key}/properties/twin", json={"a": 1})
    keys = env.bot.get(f"issue/{key}/properties").json()
    check(response_validator("/rest/api/3/issue/{issueIdOrKey}/properties", "get"), keys)
    value = env.bot.get(f"issue/{key}/properties/twin").json()
    path = "/rest/api/3/issue/{issueIdOrKey}/properties/{propertyKey}"
    check(response_validator(path, "get"), value)


def test_search_results(server: Env) -> None:
    """The offset-paged search (Server/DC; Cloud removed it) has the documented shape."""
    env = server
    populated_issue(env)
    page = env.bot.get("search", params={"jql": "project = ABC", "expand": "changelog"}).json()
    check(response_validator("/rest/api/3/search", "get"), page)


@pytest.mark.parametrize("fields", [None, "key,updated", "*all"])
def test_search_jql_results(cloud: Env, fields: str | None) -> None:
    populated_issue(cloud)
    cloud.bot.create_issue()
    params = {"jql": "project = ABC", "maxResults": 1}
    if fields:
        params["fields"] = fields
    page = cloud.bot.get("search/jql", params=params).json()
    assert "nextPageToken" in page
    check(response_validator("/rest/api/3/search/jql", "get"), page)


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("get", "issue/ABC-404", {}, 404),
        ("post", "issue", {"json": {"fields": {"summary": "x"}}}, 400),
        ("get", "search?jql=foo%20%3D%201", {}, 400),
        ("get", "project/NOPE", {}, 404),
    ],
)
def test_error_bodies(env: Env, method: str, path: str, kwargs: dict, status: int) -> None:
    if env.bot.cloud and path.startswith("search?"):
        path = "search/jql?" + path.removeprefix("search?")  # Cloud's only search now
    response = getattr(env.bot, method)(path, **kwargs)
    assert response.status_code == status
    check(schema_validator("ErrorCollection"), response.json())


# --- request bodies the tests send (the shapes the Cloud adapter must send) ---------------


def test_request_bodies_match_the_document(cloud: Env) -> None:
    create = {
        "fields": {
            "project": {"key": PROJECT},
            "issuetype": {"name": "Task"},
            "summary": "x",
            "description": adf("y"),
            "labels": ["a"],
        },
        "properties": [{"key": "twin", "value": {"remote": "R-1"}}],
    }
    check(request_validator("/rest/api/3/issue", "post"), create)
    check(request_validator(COMMENTS, "post"), {"body": adf("hello")})
    search = {"jql": "project = ABC", "fields": ["key"], "maxResults": 50, "nextPageToken": "t"}
    check(request_validator("/rest/api/3/search/jql", "post"), search)
    assert cloud.bot.post("issue", json=create).status_code == 201


# --- drift: a renamed field must fail --------------------------------------------------


def renamed(body: dict[str, Any], path: list[str], new_name: str) -> dict[str, Any]:
    broken = copy.deepcopy(body)
    node = broken
    for part in path[:-1]:
        node = node[part]
    node[new_name] = node.pop(path[-1])
    return broken


@pytest.mark.parametrize(
    ("path", "new_name"),
    [
        (["key"], "issueKey"),
        (["fields", "issuetype", "name"], "typeName"),
        (["fields", "project", "key"], "projectKey"),
        (["fields", "reporter", "accountId"], "accountID"),
    ],
)
def test_renamed_issue_field_fails(cloud: Env, path: list[str], new_name: str) -> None:
    key = populated_issue(cloud)
    body = cloud.bot.get(f"issue/{key}").json()
    validators = {
        "key": response_validator(ISSUE, "get"),
        "issuetype": schema_validator("IssueTypeDetails"),
        "project": schema_validator("ProjectDetails"),
        "reporter": schema_validator("UserDetails"),
    }
    broken = renamed(body, path, new_name)
    target = path[1] if len(path) > 2 else path[0]
    instance = broken if target == "key" else broken["fields"][target]
    original = body if target == "key" else body["fields"][target]
    assert not errors(validators[target], original)
    assert errors(validators[target], instance)


def test_renamed_comment_and_attachment_fields_fail(cloud: Env) -> None:
    key = populated_issue(cloud)
    fields = cloud.bot.get(f"issue/{key}").json()["fields"]
    comment = fields["comment"]["comments"][0]
    attachment = fields["attachment"][0]
    comment_validator = schema_validator("Comment", required=REQUIRED["Comment"])
    attachment_validator = schema_validator("Attachment", required=REQUIRED["Attachment"])
    assert errors(comment_validator, renamed(comment, ["body"], "text"))
    assert errors(attachment_validator, renamed(attachment, ["filename"], "fileName"))
    assert errors(
        response_validator("/rest/api/3/myself", "get"),
        renamed(cloud.bot.get("myself").json(), ["displayName"], "display_name"),
    )


def test_renamed_search_token_fails(cloud: Env) -> None:
    cloud.bot.create_issue()
    cloud.bot.create_issue()
    page = cloud.bot.get("search/jql", params={"jql": "project = ABC", "maxResults": 1}).json()
    validator = response_validator("/rest/api/3/search/jql", "get")
    assert not errors(validator, page)
    assert errors(validator, renamed(page, ["nextPageToken"], "nextToken"))


# --- issue 18: links, hierarchy, worklogs, components, versions, users -----------------


def linked_pair(env: Env) -> tuple[str, str, str]:
    a, b = env.bot.create_issue("A")["key"], env.bot.create_issue("B")["key"]
    body = {"type": {"name": "Blocks"}, "inwardIssue": {"key": a}, "outwardIssue": {"key": b}}
    check(request_validator("/rest/api/3/issueLink", "post"), body)
    assert env.bot.post("issueLink", json=body).status_code == 201
    fields = env.bot.get(f"issue/{a}", params={"fields": "issuelinks"}).json()["fields"]
    return a, b, fields["issuelinks"][0]["id"]


def test_issue_links(env: Env) -> None:
    types = env.bot.get("issueLinkType").json()
    check(response_validator("/rest/api/3/issueLinkType", "get"), types)
    a, b, link_id = linked_pair(env)
    for key in (a, b):
        issue = env.bot.get(f"issue/{key}").json()
        check(response_validator(ISSUE, "get"), issue)
        for item in issue["fields"]["issuelinks"]:
            ends = ("inwardIssue", "outwardIssue")
            check(schema_validator("IssueLink", required=("id",), optional=ends), item)
            assert len([end for end in ends if end in item]) == 1
    link = env.bot.get(f"issueLink/{link_id}").json()
    check(response_validator("/rest/api/3/issueLink/{linkId}", "get"), link)


def test_renamed_link_field_fails(cloud: Env) -> None:
    _, _, link_id = linked_pair(cloud)
    link = cloud.bot.get(f"issueLink/{link_id}").json()
    validator = response_validator("/rest/api/3/issueLink/{linkId}", "get")
    assert not errors(validator, link)
    assert errors(validator, renamed(link, ["outwardIssue"], "outwardIssues"))
    assert errors(validator, renamed(link, ["type", "inward"], "inwardName"))


def test_hierarchy(env: Env) -> None:
    parent = env.bot.create_issue("Parent")["key"]
    child = env.bot.create_issue("Child", issuetype={"name": "Sub-task"}, parent={"key": parent})
    for key in (parent, child["key"]):
        issue = env.bot.get(f"issue/{key}").json()
        check(response_validator(ISSUE, "get"), issue)
        for item in issue["fields"]["subtasks"]:
            check(schema_validator("LinkedIssue", required=("id", "key", "fields")), item)
        if "parent" in issue["fields"]:
            check(
                schema_validator("LinkedIssue", required=("id", "key", "fields")),
                issue["fields"]["parent"],
            )
    project = env.bot.get(f"project/{PROJECT}").json()
    check(response_validator("/rest/api/3/project/{projectIdOrKey}", "get"), project)
    for item in project["issueTypes"]:
        check(schema_validator("IssueTypeDetails", required=("subtask",)), item)


WORKLOGS = "/rest/api/3/issue/{issueIdOrKey}/worklog"
WORKLOG = "/rest/api/3/issue/{issueIdOrKey}/worklog/{id}"
REQUIRED["Worklog"] = ("id", "issueId", "author", "started", "timeSpent", "timeSpentSeconds")


def test_worklogs(env: Env) -> None:
    key = env.bot.create_issue()["key"]
    body = {"timeSpent": "1h", "started": "2026-12-01T09:30:00.000+0000"}
    body["comment"] = env.bot.body("done")
    if env.bot.cloud:
        check(request_validator(WORKLOGS, "post"), body)
    made = env.bot.post(f"issue/{key}/worklog", json=body).json()
    worklog = schema_validator("Worklog", required=REQUIRED["Worklog"])
    check(response_validator(WORKLOGS, "post", 201), made)
    check(worklog, made)
    check(schema_validator("UserDetails"), made["author"])
    one = env.bot.get(f"issue/{key}/worklog/{made['id']}").json()
    check(response_validator(WORKLOG, "get"), one)
    edited = env.bot.put(f"issue/{key}/worklog/{made['id']}", json={"timeSpentSeconds": 60})
    check(response_validator(WORKLOG, "put"), edited.json())
    page = env.bot.get(f"issue/{key}/worklog").json()
    check(response_validator(WORKLOGS, "get"), page)
    check(schema_validator("PageOfWorklogs", required=("total", "worklogs")), page)
    for item in page["worklogs"]:
        check(worklog, item)
    assert errors(worklog, renamed(made, ["timeSpentSeconds"], "timeSpentSecs"))


def test_components_and_versions(env: Env) -> None:
    component_body = {"project": PROJECT, "name": "Backend", "description": "APIs"}
    version_body = {"projectId": int(env.bot.get(f"project/{PROJECT}").json()["id"]), "name": "1.0"}
    if env.bot.cloud:
        check(request_validator("/rest/api/3/component", "post"), component_body)
        check(request_validator("/rest/api/3/version", "post"), version_body)
    component = env.bot.post("component", json=component_body).json()
    check(response_validator("/rest/api/3/component", "post", 201), component)
    version = env.bot.post("version", json=version_body).json()
    check(response_validator("/rest/api/3/version", "post", 201), version)
    components = env.bot.get(f"project/{PROJECT}/components").json()
    check(response_validator("/rest/api/3/project/{projectIdOrKey}/components", "get"), components)
    versions = env.bot.get(f"project/{PROJECT}/versions").json()
    check(response_validator("/rest/api/3/project/{projectIdOrKey}/versions", "get"), versions)
    check(
        response_validator("/rest/api/3/component/{id}", "get"),
        env.bot.get(f"component/{component['id']}").json(),
    )
    check(
        response_validator("/rest/api/3/version/{id}", "get"),
        env.bot.get(f"version/{version['id']}").json(),
    )
    key = env.bot.create_issue(
        components=[{"name": "Backend"}], fixVersions=[{"name": "1.0"}], duedate="2026-12-24"
    )["key"]
    fields = env.bot.get(f"issue/{key}").json()["fields"]
    for item in fields["components"]:
        check(schema_validator("ProjectComponent", required=("id", "name")), item)
    for item in fields["fixVersions"]:
        check(schema_validator("Version", required=("id", "name")), item)
    assert errors(schema_validator("Version"), renamed(version, ["name"], "versionName"))


def test_user_search(env: Env) -> None:
    params = {"query": "a"} if env.bot.cloud else {"username": "a"}
    found = env.bot.get("user/search", params=params).json()
    assert found
    check(response_validator("/rest/api/3/user/search", "get"), found)
    validator = schema_validator("User", required=("displayName", "active"))
    for user in found:
        check(validator, user)
    assert errors(validator, renamed(found[0], ["displayName"], "name_shown"))


def test_assignee_request_matches_the_document(cloud: Env) -> None:
    key = cloud.bot.create_issue()["key"]
    body = {"accountId": cloud.alice_user["id"]}
    check(request_validator("/rest/api/3/issue/{issueIdOrKey}/assignee", "put"), body)
    assert cloud.bot.put(f"issue/{key}/assignee", json=body).status_code == 204
