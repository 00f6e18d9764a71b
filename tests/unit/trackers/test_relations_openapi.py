"""Every request body the Cloud adapter sends for issue 18's calls is valid for Atlassian's
OpenAPI document (strict: no field the schema does not list, no read-only field)."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from chalicelib.trackers.base import Body, IssueFields
from tests.factories.fake_http import Call
from tests.openapi import errors, request_validator
from tests.unit.trackers import jira_json as J

API = f"{J.CLOUD}/rest/api/3"
TEMPLATES = {
    "/rest/api/3/issue": "/rest/api/3/issue",
    "/rest/api/3/issue/ABC-12": "/rest/api/3/issue/{issueIdOrKey}",
    "/rest/api/3/issueLink": "/rest/api/3/issueLink",
    "/rest/api/3/issue/ABC-12/worklog": "/rest/api/3/issue/{issueIdOrKey}/worklog",
    "/rest/api/3/issue/ABC-12/worklog/9": "/rest/api/3/issue/{issueIdOrKey}/worklog/{id}",
    "/rest/api/3/component": "/rest/api/3/component",
    "/rest/api/3/version": "/rest/api/3/version",
    "/rest/api/3/issue/ABC-12/assignee": "/rest/api/3/issue/{issueIdOrKey}/assignee",
}
WORKLOG = {"id": "9", "started": "2026-12-01T09:30:00.000+0000", "timeSpentSeconds": 60}


def sent(calls: list[Call]) -> list[str]:
    """The problems of every body sent (empty: all valid)."""
    problems = []
    for call in calls:
        if call.request.body is None:
            continue
        template = TEMPLATES[urlsplit(call.request.url).path]
        body = json.loads(call.request.body)
        for problem in errors(request_validator(template, call.request.method), body):
            problems.append(f"{call.request.method} {template}: {problem}")
    return problems


def test_link_body(http, cloud):
    http.post(f"{API}/issueLink", status=201)
    cloud.add_issue_link("Blocks", "ABC-1", "ABC-2")
    assert sent(http.calls) == []


def test_create_with_parent_and_catalog_fields(http, cloud):
    http.post(f"{API}/issue", status=201, json={"id": "1", "key": "ABC-1", "self": "x"})
    fields = IssueFields(
        summary="x",
        issue_type="Story",
        parent="ABC-7",
        components=("Backend",),
        fix_versions=("2.0",),
        versions=(),
        due_date="2026-12-24",
        environment=Body("adf", J.adf("Linux")),
    )
    cloud.create_issue("ABC", fields)
    assert sent(http.calls) == []
    body = json.loads(http.calls[0].request.body)["fields"]
    assert body["parent"] == {"key": "ABC-7"} and body["components"] == [{"name": "Backend"}]


def test_parent_removal_and_reporter(http, cloud):
    http.put(f"{API}/issue/ABC-12", status=204)
    http.put(f"{API}/issue/ABC-12", status=204)
    cloud.set_parent("ABC-12", None)
    cloud.set_reporter("ABC-12", "acc-1")
    assert sent(http.calls) == []
    assert json.loads(http.calls[0].request.body) == {"fields": {"parent": None}}


def test_assignee_body(http, cloud):
    http.put(f"{API}/issue/ABC-12/assignee", status=204)
    cloud.set_assignee("ABC-12", "acc-1")
    assert sent(http.calls) == []


def test_unassign_sends_the_documented_null(http, cloud):
    """The operation's description says ``accountId: null`` unassigns, its schema forgot
    ``nullable``: the one problem allowed is that one."""
    http.put(f"{API}/issue/ABC-12/assignee", status=204)
    cloud.set_assignee("ABC-12", None)
    assert json.loads(http.calls[0].request.body) == {"accountId": None}
    assert sent(http.calls) == [
        "PUT /rest/api/3/issue/{issueIdOrKey}/assignee: accountId: None is not of type 'string'"
    ]


def test_worklog_bodies(http, cloud):
    http.post(f"{API}/issue/ABC-12/worklog", status=201, json=WORKLOG)
    http.put(f"{API}/issue/ABC-12/worklog/9", json=WORKLOG)
    cloud.add_worklog(
        "ABC-12", started="2026-12-01T09:30Z", seconds=60, comment=Body("adf", J.adf("x"))
    )
    cloud.update_worklog("ABC-12", "9", seconds=120)
    assert sent(http.calls) == []


def test_component_and_version_bodies(http, cloud):
    http.post(f"{API}/component", status=201, json={"id": "1", "name": "Backend"})
    http.get(f"{API}/project/ABC", json=J.project())
    http.post(f"{API}/version", status=201, json={"id": "2", "name": "1.0"})
    cloud.create_component("ABC", "Backend", "APIs")
    cloud.create_version("ABC", "1.0", release_date="2026-12-24")
    assert sent(http.calls) == []


def test_the_check_has_teeth():
    link = request_validator("/rest/api/3/issueLink", "post")
    assert errors(
        link, {"type": {"name": "Blocks"}, "inward": {"key": "A"}, "outward": {"key": "B"}}
    )
    worklog = request_validator("/rest/api/3/issue/{issueIdOrKey}/worklog", "post")
    assert errors(worklog, {"timeSpentSeconds": 60, "id": "9"})  # read-only
