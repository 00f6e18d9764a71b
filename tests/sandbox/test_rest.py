"""The sandbox's REST API over real HTTP, in both flavours: shapes, status codes, errors."""

from __future__ import annotations

import time

import pytest
import requests

from devstack.sandbox_jira.timefmt import parse_jira_time

from .conftest import PROJECT, Env, adf

NOT_SETTABLE = "Field 'status' cannot be set. It is not on the appropriate screen, or unknown."
JIRA_TIME = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$"


# --- identity ---------------------------------------------------------------------------


def test_myself_identifies_the_user(env: Env) -> None:
    me = env.bot.get("myself").json()
    assert me["displayName"] == "Sync Bot"
    if env.bot.cloud:
        assert me["accountId"] == env.bot_user["accountId"]
        assert "name" not in me and "key" not in me
    else:
        assert me["name"] == "bot"
        assert me["key"] == env.bot_user["key"]
        assert "accountId" not in me


def test_server_info_needs_no_auth(env: Env) -> None:
    response = requests.get(env.bot.url("serverInfo"), timeout=5)
    assert response.status_code == 200
    info = response.json()
    assert info["deploymentType"] == ("Cloud" if env.bot.cloud else "Server")
    assert info["baseUrl"] == env.site.url


@pytest.mark.parametrize("path", ["myself", "project", "issue/ABC-1", "search?jql=project=ABC"])
def test_no_credentials_is_401(env: Env, path: str) -> None:
    response = requests.get(env.bot.url(path), timeout=5)
    assert response.status_code == 401
    assert response.json() == {
        "errorMessages": ["Client must be authenticated to access this resource."],
        "errors": {},
    }


def test_wrong_credentials_are_401(env: Env) -> None:
    login = env.bot_user["email"] if env.bot.cloud else env.bot_user["name"]
    for auth in [(login, "wrong"), ("nobody@example.com", env.bot_user["token"])]:
        response = requests.get(env.bot.url("myself"), auth=auth, timeout=5)
        assert response.status_code == 401
        assert response.headers["X-Seraph-LoginReason"] == "AUTHENTICATED_FAILED"
    bearer = {"Authorization": "Bearer not-a-token"}
    assert requests.get(env.bot.url("myself"), headers=bearer, timeout=5).status_code == 401


def test_cloud_refuses_bearer_tokens(cloud: Env) -> None:
    headers = {"Authorization": f"Bearer {cloud.bot_user['token']}"}
    assert requests.get(cloud.bot.url("myself"), headers=headers, timeout=5).status_code == 401


def test_server_takes_basic_auth_with_password(server: Env) -> None:
    auth = (server.bot_user["name"], server.bot_user["password"])
    response = requests.get(server.bot.url("myself"), auth=auth, timeout=5)
    assert response.status_code == 200


def test_server_serves_only_rest_v2(server: Env) -> None:
    response = server.bot.session.get(f"{server.site.url}/rest/api/3/myself", timeout=5)
    assert response.status_code == 404


def test_cloud_serves_v2_with_string_bodies(cloud: Env) -> None:
    issue = cloud.bot.create_issue(description=adf("Hello there"))
    v2 = cloud.bot.session.get(f"{cloud.site.url}/rest/api/2/issue/{issue['key']}", timeout=5)
    assert v2.json()["fields"]["description"] == "Hello there"
    assert v2.json()["self"].endswith(f"/rest/api/2/issue/{issue['id']}")


# --- projects ---------------------------------------------------------------------------


def test_projects(env: Env) -> None:
    projects = env.bot.get("project").json()
    assert [p["key"] for p in projects] == [PROJECT]
    assert "issueTypes" not in projects[0]
    detail = env.bot.get(f"project/{PROJECT}").json()
    assert [t["name"] for t in detail["issueTypes"]] == ["Task", "Bug", "Story", "Sub-task"]
    assert [t["subtask"] for t in detail["issueTypes"]] == [False, False, False, True]
    assert env.bot.get(f"project/{detail['id']}").json()["key"] == PROJECT
    missing = env.bot.get("project/NOPE")
    assert missing.status_code == 404
    assert missing.json()["errorMessages"] == ["No project could be found with key 'NOPE'."]


def test_project_search_and_default_issue_type_on_cloud(cloud: Env) -> None:
    page = cloud.bot.get("project/search", params={"expand": "issueTypes"}).json()
    assert page["total"] == 1 and page["isLast"] is True
    project = page["values"][0]
    assert [t["name"] for t in project["issueTypes"]] == ["Task", "Bug", "Story", "Sub-task"]
    schemes = cloud.bot.get("issuetypescheme/project", params={"projectId": project["id"]}).json()
    default_id = schemes["values"][0]["issueTypeScheme"]["defaultIssueTypeId"]
    task = next(t for t in project["issueTypes"] if t["name"] == "Task")
    assert default_id == task["id"]


def test_createmeta_issue_types(env: Env) -> None:
    meta = env.bot.get(f"issue/createmeta/{PROJECT}/issuetypes").json()
    items = meta["issueTypes"] if env.bot.cloud else meta["values"]
    assert [t["name"] for t in items] == ["Task", "Bug", "Story", "Sub-task"]
    assert meta["total"] == 4


# --- issues -----------------------------------------------------------------------------


def test_create_and_read_issue(env: Env) -> None:
    env.admin.create_field("Customer", field_id="customfield_10050")
    created = env.bot.create_issue(
        "First",
        description=env.bot.body("The body"),
        labels=["one", "two"],
        priority={"name": "High"},
        customfield_10050="custom value",
    )
    assert created["key"] == f"{PROJECT}-1"
    assert created["id"].isdigit()
    assert created["self"] == env.bot.url(f"issue/{created['id']}")
    issue = env.bot.get(f"issue/{created['key']}").json()
    assert issue["id"] == created["id"]
    fields = issue["fields"]
    assert fields["summary"] == "First"
    assert fields["description"] == env.bot.body("The body")
    assert fields["labels"] == ["one", "two"]
    assert fields["priority"]["name"] == "High"
    assert fields["status"]["name"] == "To Do"
    assert fields["issuetype"]["name"] == "Task"
    assert fields["project"]["key"] == PROJECT
    assert fields["customfield_10050"] == "custom value"
    assert fields["comment"]["comments"] == [] and fields["attachment"] == []
    assert fields["created"] == fields["updated"]
    assert parse_jira_time(fields["created"]) > 0
    who = "accountId" if env.bot.cloud else "name"
    assert fields["reporter"][who] == env.bot_user[who] == fields["creator"][who]
    by_id = env.bot.get(f"issue/{created['id']}").json()
    assert by_id["key"] == created["key"]
    assert env.bot.get(f"issue/{created['key'].lower()}").status_code == 200


def test_issue_field_selection_and_expand(env: Env) -> None:
    key = env.bot.create_issue("Pick")["key"]
    issue = env.bot.get(f"issue/{key}", params={"fields": "summary,labels"}).json()
    assert set(issue["fields"]) == {"summary", "labels"}
    issue = env.bot.get(f"issue/{key}", params={"fields": "*all,-comment,-attachment"}).json()
    assert "comment" not in issue["fields"] and "summary" in issue["fields"]
    env.bot.put(f"issue/{key}", json={"fields": {"summary": "Picked"}})
    issue = env.bot.get(f"issue/{key}", params={"expand": "changelog,names"}).json()
    assert issue["changelog"]["total"] == 1
    item = issue["changelog"]["histories"][0]["items"][0]
    assert (item["field"], item["fromString"], item["toString"]) == ("summary", "Pick", "Picked")
    assert issue["names"]["summary"] == "Summary"


def test_create_with_missing_or_unknown_project_and_type(env: Env) -> None:
    response = env.bot.post("issue", json={"fields": {"summary": "x"}})
    assert response.status_code == 400
    assert response.json() == {
        "errorMessages": [],
        "errors": {"project": "valid project is required", "issuetype": "Specify an issue type"},
    }
    response = env.bot.post(
        "issue",
        json={
            "fields": {"project": {"key": "NOPE"}, "issuetype": {"name": "Task"}, "summary": "x"}
        },
    )
    assert response.json()["errors"] == {"project": "valid project is required"}
    response = env.bot.post(
        "issue",
        json={
            "fields": {"project": {"key": PROJECT}, "issuetype": {"name": "Epic"}, "summary": "x"}
        },
    )
    assert response.status_code == 400
    expected = (
        "The issue type selected is invalid." if env.bot.cloud else "valid issue type is required"
    )
    assert response.json()["errors"] == {"issuetype": expected}
    assert env.site.store.issues == {}


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({}, {"summary": "You must specify a summary of the issue."}),
        ({"summary": ""}, {"summary": "You must specify a summary of the issue."}),
        ({"summary": "x" * 256}, {"summary": "Summary must be less than 255 characters."}),
        (
            {"summary": "a", "labels": ["has space"]},
            {"labels": "The label 'has space' contains spaces which is invalid."},
        ),
        (
            {"summary": "a", "priority": {"name": "Urgent"}},
            {"priority": "Priority name 'Urgent' is not valid"},
        ),
        (
            {"summary": "a", "status": {"name": "Done"}},
            {"status": NOT_SETTABLE},
        ),
    ],
)
def test_create_field_errors(env: Env, fields: dict, errors: dict) -> None:
    body = {"project": {"key": PROJECT}, "issuetype": {"name": "Task"}, **fields}
    response = env.bot.post("issue", json={"fields": body})
    assert response.status_code == 400
    assert response.json() == {"errorMessages": [], "errors": errors}


def test_body_format_must_match_the_api_version(env: Env) -> None:
    wrong = "plain text" if env.bot.cloud else adf("adf")
    response = env.bot.post(
        "issue",
        json={
            "fields": {
                "project": {"key": PROJECT},
                "issuetype": {"name": "Task"},
                "summary": "x",
                "description": wrong,
            }
        },
    )
    assert response.status_code == 400
    assert "description" in response.json()["errors"]


def test_edit_issue(env: Env) -> None:
    key = env.bot.create_issue("Before", labels=["a"])["key"]
    before = env.bot.get(f"issue/{key}").json()["fields"]["updated"]
    time.sleep(0.002)
    response = env.bot.put(
        f"issue/{key}",
        json={
            "fields": {"summary": "After", "issuetype": {"name": "Bug"}},
            "update": {"labels": [{"add": "b"}, {"remove": "a"}]},
        },
    )
    assert response.status_code == 204 and response.content == b""
    fields = env.bot.get(f"issue/{key}").json()["fields"]
    assert (fields["summary"], fields["issuetype"]["name"], fields["labels"]) == (
        "After",
        "Bug",
        ["b"],
    )
    assert parse_jira_time(fields["updated"]) > parse_jira_time(before)


def test_edit_errors(env: Env) -> None:
    key = env.bot.create_issue()["key"]
    assert env.bot.put(f"issue/{key}", json={"fields": {"summary": ""}}).status_code == 400
    assert env.bot.put("issue/ABC-99", json={"fields": {"summary": "x"}}).status_code == 404
    response = env.bot.put(f"issue/{key}", json={"fields": {"project": {"key": "XYZ"}}})
    assert response.json()["errors"]["project"].startswith("Field 'project' cannot be set")


def test_edit_without_change_keeps_updated(env: Env) -> None:
    key = env.bot.create_issue("Same")["key"]
    before = env.bot.get(f"issue/{key}").json()["fields"]["updated"]
    env.bot.put(f"issue/{key}", json={"fields": {"summary": "Same"}})
    assert env.bot.get(f"issue/{key}").json()["fields"]["updated"] == before


def test_delete_issue(env: Env) -> None:
    key = env.bot.create_issue()["key"]
    assert env.bot.delete(f"issue/{key}").status_code == 204
    response = env.bot.get(f"issue/{key}")
    assert response.status_code == 404
    assert response.json() == {
        "errorMessages": ["Issue does not exist or you do not have permission to see it."],
        "errors": {},
    }
    assert env.bot.delete(f"issue/{key}").status_code == 404


def test_issue_keys_count_per_project(env: Env) -> None:
    env.admin.create_project("XYZ", issue_types=["Task"])
    first = env.bot.create_issue()
    other = env.bot.post(
        "issue",
        json={"fields": {"project": {"key": "XYZ"}, "issuetype": {"name": "Task"}, "summary": "x"}},
    ).json()
    second = env.bot.create_issue()
    assert (first["key"], other["key"], second["key"]) == ("ABC-1", "XYZ-1", "ABC-2")
    assert int(first["id"]) < int(other["id"]) < int(second["id"])


# --- comments ---------------------------------------------------------------------------


def test_comment_lifecycle_and_attribution(env: Env) -> None:
    key = env.bot.create_issue()["key"]
    created = env.alice.comment(key, "Hello")
    who = "accountId" if env.bot.cloud else "name"
    assert created["author"][who] == env.alice_user[who]
    assert created["body"] == env.bot.body("Hello")
    assert created["created"] == created["updated"]
    fetched = env.bot.get(f"issue/{key}/comment/{created['id']}").json()
    assert fetched == created
    edited = env.bot.put(
        f"issue/{key}/comment/{created['id']}", json={"body": env.bot.body("Edited")}
    )
    assert edited.status_code == 200
    assert edited.json()["updateAuthor"][who] == env.bot_user[who]
    assert edited.json()["author"][who] == env.alice_user[who]
    page = env.bot.get(f"issue/{key}/comment").json()
    assert page["total"] == 1 and page["comments"][0]["body"] == env.bot.body("Edited")
    embedded = env.bot.get(f"issue/{key}").json()["fields"]["comment"]
    assert embedded["total"] == 1
    assert env.bot.delete(f"issue/{key}/comment/{created['id']}").status_code == 204
    assert env.bot.get(f"issue/{key}/comment/{created['id']}").status_code == 404
    assert env.bot.get(f"issue/{key}/comment").json()["total"] == 0


def test_comment_moves_issue_updated(env: Env) -> None:
    key = env.bot.create_issue()["key"]
    before = parse_jira_time(env.bot.get(f"issue/{key}").json()["fields"]["updated"])
    env.bot.comment(key, "x")
    after = parse_jira_time(env.bot.get(f"issue/{key}").json()["fields"]["updated"])
    assert after > before


def test_comment_errors(env: Env) -> None:
    key = env.bot.create_issue()["key"]
    response = env.bot.post(f"issue/{key}/comment", json={"body": ""})
    assert response.status_code == 400
    assert response.json()["errors"] == {"comment": "Comment body can not be empty!"}
    assert env.bot.post("issue/ABC-99/comment", json={"body": env.bot.body("x")}).status_code == 404
    other = env.bot.create_issue()["key"]
    comment = env.bot.comment(key, "on the first")
    assert env.bot.get(f"issue/{other}/comment/{comment['id']}").status_code == 404


def test_cloud_comment_visibility(cloud: Env) -> None:
    key = cloud.bot.create_issue()["key"]
    body = {"body": adf("internal"), "visibility": {"type": "role", "value": "Administrators"}}
    created = cloud.bot.post(f"issue/{key}/comment", json=body).json()
    assert created["visibility"] == {"type": "role", "value": "Administrators"}
    bad = cloud.bot.post(f"issue/{key}/comment", json={**body, "visibility": {"type": "x"}})
    assert bad.status_code == 400


def test_cloud_internal_comment_property(cloud: Env) -> None:
    key = cloud.bot.create_issue()["key"]
    internal = [{"key": "sd.public.comment", "value": {"internal": True}}]
    created = cloud.bot.post(
        f"issue/{key}/comment", json={"body": adf("staff only"), "properties": internal}
    ).json()
    assert created["jsdPublic"] is False
    assert cloud.bot.comment(key, "everyone")["jsdPublic"] is True
    fetched = cloud.bot.get(f"issue/{key}/comment/{created['id']}", params={"expand": "properties"})
    assert fetched.json()["properties"] == internal


def test_user_self_links_resolve(env: Env) -> None:
    me = env.bot.get("myself").json()
    fetched = env.bot.session.get(me["self"], timeout=5)
    assert fetched.status_code == 200
    assert fetched.json()["displayName"] == "Sync Bot"
    param = "accountId" if env.bot.cloud else "username"
    assert env.bot.get("user", params={param: "nobody"}).status_code == 404


# --- attachments ------------------------------------------------------------------------


def test_attachment_lifecycle(env: Env) -> None:
    key = env.bot.create_issue()["key"]
    data = bytes(range(256)) * 4
    response = env.bot.attach(key, "bin.dat", data)
    assert response.status_code == 200
    [att] = response.json()
    assert (att["filename"], att["size"]) == ("bin.dat", len(data))
    meta = env.bot.get(f"attachment/{att['id']}").json()
    assert meta["id"] == int(att["id"]) and meta["filename"] == "bin.dat"
    content = env.bot.session.get(att["content"], timeout=5)
    assert content.status_code == 200 and content.content == data
    listed = env.bot.get(f"issue/{key}").json()["fields"]["attachment"]
    assert [a["id"] for a in listed] == [att["id"]]
    assert env.bot.delete(f"attachment/{att['id']}").status_code == 204
    assert env.bot.get(f"attachment/{att['id']}").status_code == 404
    assert env.bot.get(f"issue/{key}").json()["fields"]["attachment"] == []


def test_attachment_settings(env: Env) -> None:
    env.admin.faults(attachment_limit=12345)
    assert env.bot.get("attachment/meta").json() == {"enabled": True, "uploadLimit": 12345}


def test_cloud_content_redirects_to_a_media_url(cloud: Env) -> None:
    key = cloud.bot.create_issue()["key"]
    [att] = cloud.bot.attach(key, "résumé 履歴.txt", "ü".encode()).json()
    response = cloud.bot.get(f"attachment/content/{att['id']}", allow_redirects=False)
    assert response.status_code == 303
    media = response.headers["Location"]
    # the media URL carries its own credential, like Atlassian's media service
    downloaded = requests.get(media, timeout=5)
    assert downloaded.status_code == 200 and downloaded.content == "ü".encode()
    assert "filename*=UTF-8''r%C3%A9sum%C3%A9" in downloaded.headers["Content-Disposition"]
    assert requests.get(media.split("?")[0] + "?token=forged", timeout=5).status_code == 403
    direct = cloud.bot.get(f"attachment/content/{att['id']}", params={"redirect": "false"})
    assert direct.status_code == 200 and direct.content == "ü".encode()


def test_server_content_is_served_directly(server: Env) -> None:
    key = server.bot.create_issue()["key"]
    [att] = server.bot.attach(key, "a b.txt", b"ab").json()
    response = server.bot.session.get(att["content"], allow_redirects=False, timeout=5)
    assert response.status_code == 200 and response.content == b"ab"
    assert requests.get(att["content"], timeout=5).status_code == 401


def test_attachment_content_urls_per_flavour(env: Env) -> None:
    key = env.bot.create_issue()["key"]
    [att] = env.bot.attach(key, "notes.txt", b"hi").json()
    if env.bot.cloud:
        assert att["content"] == f"{env.site.url}/rest/api/3/attachment/content/{att['id']}"
    else:
        assert att["content"] == f"{env.site.url}/secure/attachment/{att['id']}/notes.txt"
    assert att["mimeType"] == "text/plain"


def test_several_files_in_one_upload(env: Env) -> None:
    key = env.bot.create_issue()["key"]
    response = env.bot.post(
        f"issue/{key}/attachments",
        files=[("file", ("a.txt", b"a")), ("file", ("b.png", b"\x89PNG"))],
        headers={"X-Atlassian-Token": "no-check"},
    )
    assert [a["filename"] for a in response.json()] == ["a.txt", "b.png"]


def test_attachment_needs_xsrf_header(env: Env) -> None:
    key = env.bot.create_issue()["key"]
    response = env.bot.post(f"issue/{key}/attachments", files={"file": ("a.txt", b"a")})
    assert response.status_code == 403
    assert response.text == "XSRF check failed"


def test_attachment_over_the_limit_is_413(env: Env) -> None:
    key = env.bot.create_issue()["key"]
    env.admin.faults(attachment_limit=1000)
    response = env.bot.attach(key, "big.bin", b"x" * 1001)
    assert response.status_code == 413
    assert "1000" in response.json()["errorMessages"][0]
    assert env.bot.attach(key, "ok.bin", b"x" * 1000).status_code == 200


def test_default_attachment_limits(env: Env) -> None:
    limit = env.admin.call("GET", "faults")["attachment_limit"]
    assert limit == (2 * 1024**3 if env.bot.cloud else 10 * 1024**2)


# --- properties -------------------------------------------------------------------------


def test_issue_properties(env: Env) -> None:
    key = env.bot.create_issue()["key"]
    before = env.bot.get(f"issue/{key}").json()["fields"]["updated"]
    value = {"remote": "XYZ-1", "n": [1, 2]}
    assert env.bot.put(f"issue/{key}/properties/twin", json=value).status_code == 201
    assert env.bot.put(f"issue/{key}/properties/twin", json=value).status_code == 200
    assert env.bot.get(f"issue/{key}/properties/twin").json() == {"key": "twin", "value": value}
    keys = env.bot.get(f"issue/{key}/properties").json()["keys"]
    assert [k["key"] for k in keys] == ["twin"]
    assert keys[0]["self"].endswith(f"/issue/{key}/properties/twin")
    issue = env.bot.get(f"issue/{key}", params={"properties": "twin"}).json()
    assert issue["properties"] == {"twin": value}
    assert env.bot.get(f"issue/{key}").json()["fields"]["updated"] == before
    assert env.bot.delete(f"issue/{key}/properties/twin").status_code == 204
    assert env.bot.get(f"issue/{key}/properties/twin").status_code == 404
    assert env.bot.delete(f"issue/{key}/properties/twin").status_code == 404


def test_properties_on_create(env: Env) -> None:
    response = env.bot.post(
        "issue",
        json={
            "fields": {"project": {"key": PROJECT}, "issuetype": {"name": "Task"}, "summary": "p"},
            "properties": [{"key": "twin", "value": {"remote": "R-1"}}],
        },
    )
    key = response.json()["key"]
    assert env.bot.get(f"issue/{key}/properties/twin").json()["value"] == {"remote": "R-1"}


# --- search -----------------------------------------------------------------------------


def test_search_with_start_at(server: Env) -> None:
    env = server  # offset paging: Server/DC only (Cloud answers 410, see below)
    keys = [env.bot.create_issue(f"S{i}")["key"] for i in range(5)]
    path = "search"
    seen = []
    start = 0
    while True:
        page = env.bot.get(
            path, params={"jql": "project = ABC ORDER BY key", "startAt": start, "maxResults": 2}
        ).json()
        assert page["total"] == 5
        seen += [i["key"] for i in page["issues"]]
        start += len(page["issues"])
        if start >= page["total"]:
            break
    assert seen == keys
    first = env.bot.get(path, params={"jql": f"key = {keys[0]}"}).json()["issues"][0]
    assert "summary" in first["fields"] and "comment" not in first["fields"]


def test_chunked_request_bodies(env: Env) -> None:
    import json as jsonlib

    body = {"fields": {"project": {"key": PROJECT}, "issuetype": {"name": "Task"}, "summary": "c"}}
    chunks = iter([jsonlib.dumps(body).encode()[:10], jsonlib.dumps(body).encode()[10:]])
    response = env.bot.post("issue", data=chunks, headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("version", [2, 3])
def test_cloud_removed_the_offset_search(cloud: Env, version: int) -> None:
    """Atlassian shut ``/rest/api/{2,3}/search`` off in 2025 (CHANGE-2046): 410 Gone, with
    the body real Cloud sends; ``search/jql`` is served on both versions."""
    cloud.bot.create_issue("Findable")
    base = f"{cloud.site.url}/rest/api/{version}"
    for method in ("get", "post"):
        gone = getattr(cloud.bot.session, method)(
            f"{base}/search", params={"jql": "project = ABC"}, timeout=10
        )
        assert gone.status_code == 410
        assert gone.json() == {
            "errorMessages": [
                "The requested API has been removed. Please migrate to the /rest/api/3/search/jql"
                " API. A full migration guideline is available at "
                "https://developer.atlassian.com/changelog/#CHANGE-2046"
            ],
            "errors": {},
        }
    found = cloud.bot.session.get(
        f"{base}/search/jql", params={"jql": "project = ABC", "fields": "summary"}, timeout=10
    )
    assert found.status_code == 200
    assert [i["fields"]["summary"] for i in found.json()["issues"]] == ["Findable"]


def test_search_post(env: Env) -> None:
    env.bot.create_issue("Posted")
    body = {"jql": "summary ~ posted", "fields": ["summary"], "maxResults": 10}
    page = env.bot.post("search/jql" if env.bot.cloud else "search", json=body).json()
    assert [i["fields"] for i in page["issues"]] == [{"summary": "Posted"}]


def test_search_jql_with_next_page_token(cloud: Env) -> None:
    keys = [cloud.bot.create_issue(f"S{i}")["key"] for i in range(5)]
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        params = {"jql": "project = ABC ORDER BY key", "maxResults": 2, "fields": "key"}
        if token:
            params["nextPageToken"] = token
        page = cloud.bot.get("search/jql", params=params).json()
        pages += 1
        seen += [i["key"] for i in page["issues"]]
        token = page.get("nextPageToken")
        assert page["isLast"] is (token is None)
        if token is None:
            break
    assert seen == keys and pages == 3


def test_search_jql_default_returns_ids_only(cloud: Env) -> None:
    created = cloud.bot.create_issue()
    page = cloud.bot.get("search/jql", params={"jql": "project = ABC"}).json()
    assert page["issues"] == [{"id": created["id"]}]


def test_search_jql_pages_stay_stable_when_issues_change(cloud: Env) -> None:
    keys = [cloud.bot.create_issue(f"S{i}")["key"] for i in range(4)]
    params = {"jql": "project = ABC ORDER BY updated ASC", "maxResults": 2, "fields": "key"}
    first = cloud.bot.get("search/jql", params=params).json()
    assert [i["key"] for i in first["issues"]] == keys[:2]
    cloud.bot.put(f"issue/{keys[0]}", json={"fields": {"summary": "moved to the end"}})
    rest = cloud.bot.get(
        "search/jql", params={**params, "nextPageToken": first["nextPageToken"]}
    ).json()
    # nothing skipped: the changed issue shows up again after the untouched ones
    assert [i["key"] for i in rest["issues"]] == keys[2:4]
    last = cloud.bot.get("search/jql", params={**params, "nextPageToken": rest["nextPageToken"]})
    assert [i["key"] for i in last.json()["issues"]] == [keys[0]]


def test_search_jql_post_and_bad_token(cloud: Env) -> None:
    cloud.bot.create_issue()
    page = cloud.bot.post("search/jql", json={"jql": "project = ABC", "fields": ["summary"]}).json()
    assert page["issues"][0]["fields"] == {"summary": "A summary"}
    bad = cloud.bot.get("search/jql", params={"jql": "project = ABC", "nextPageToken": "junk"})
    assert bad.status_code == 400


def test_unbounded_search_jql_is_refused(cloud: Env) -> None:
    response = cloud.bot.get("search/jql", params={"jql": "ORDER BY key"})
    assert response.status_code == 400
    assert "Unbounded JQL queries are not allowed here" in response.json()["errorMessages"][0]


@pytest.mark.parametrize(
    ("jql", "message"),
    [
        ("project = ", "Error in the JQL Query: Expecting either a value, list or function"),
        ("nosuchfield = 1", "Field 'nosuchfield' does not exist"),
        ("project = NOPE", "The value 'NOPE' does not exist for the field 'project'."),
        ("reporter = nobody()", "Unable to find JQL function 'nobody()'."),
        ("status was Done", "The operator 'WAS' is not supported"),
    ],
)
def test_bad_jql_is_400(env: Env, jql: str, message: str) -> None:
    path = "search/jql" if env.bot.cloud else "search"
    response = env.bot.get(path, params={"jql": jql})
    assert response.status_code == 400
    body = response.json()
    assert body["errors"] == {}
    assert message in body["errorMessages"][0]


def test_search_by_current_user_and_property(env: Env) -> None:
    mine = env.bot.create_issue("Mine")["key"]
    env.alice.create_issue("Hers")
    env.bot.put(f"issue/{mine}/properties/twin", json={"remote": {"key": "XYZ-5"}})
    path = "search/jql" if env.bot.cloud else "search"
    for jql in ["reporter = currentUser()", 'issue.property[twin].remote.key = "XYZ-5"']:
        page = env.bot.get(path, params={"jql": f"project = ABC AND {jql}", "fields": "key"})
        assert [i["key"] for i in page.json()["issues"]] == [mine]


# --- faults -----------------------------------------------------------------------------


def test_rate_limit_for_the_next_requests(env: Env) -> None:
    env.admin.faults(rate_limit_next=2, retry_after=7)
    for _ in range(2):
        response = env.bot.get("myself")
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "7"
        assert response.json()["errorMessages"]
    assert env.bot.get("myself").status_code == 200


def test_fail_next_requests_with_503(env: Env) -> None:
    env.admin.faults(fail_next=1)
    assert env.bot.get("myself").status_code == 503
    assert env.bot.get("myself").status_code == 200


def test_fault_limited_to_matching_paths(env: Env) -> None:
    key = env.bot.create_issue()["key"]
    env.admin.faults(fail_next=1, match="/comment", error_status=502)
    assert env.bot.get("myself").status_code == 200
    assert env.bot.get(f"issue/{key}/comment").status_code == 502
    assert env.bot.get(f"issue/{key}/comment").status_code == 200


def test_error_rate(env: Env) -> None:
    env.admin.faults(error_rate=1.0)
    assert env.bot.get("myself").status_code == 503
    env.admin.clear_faults()
    assert env.bot.get("myself").status_code == 200


def test_faults_never_touch_the_admin_api(env: Env) -> None:
    env.admin.faults(error_rate=1.0)
    assert env.admin.health()["ok"] is True


def test_latency_is_added(env: Env) -> None:
    env.admin.faults(latency_ms=1)
    assert env.bot.get("myself").status_code == 200  # timings are not asserted


# --- misc -------------------------------------------------------------------------------


def test_unknown_path_is_404_and_wrong_method_405(env: Env) -> None:
    assert env.bot.get("nothing/here").status_code == 404
    assert env.bot.session.patch(env.bot.url("myself"), timeout=5).status_code == 405


def test_request_counts_per_user(env: Env) -> None:
    env.admin.clear_requests()
    key = env.bot.create_issue()["key"]
    env.bot.get(f"issue/{key}")
    env.bot.get(f"issue/{key}")
    env.alice.get("myself")
    counts = env.admin.request_counts()
    bot = counts[env.bot_user["id"]]
    assert bot["GET /rest/api/{v}/issue/{ref}"] == 2
    assert bot["POST /rest/api/{v}/issue"] == 1
    assert bot["total"] == 3
    assert counts[env.alice_user["id"]]["total"] == 1


def test_times_use_jira_format(env: Env) -> None:
    key = env.bot.create_issue()["key"]
    fields = env.bot.get(f"issue/{key}").json()["fields"]
    assert fields["created"].endswith("+0000")
    import re

    assert re.match(JIRA_TIME, fields["updated"])
