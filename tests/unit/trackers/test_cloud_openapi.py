"""Every request body the Cloud adapter sends is valid for Atlassian's OpenAPI document.

Validation is strict (see ``tests/openapi.py``): no field the schema does not list, no
read-only field in a request. A renamed or invented field in the adapter fails here.
The canned responses the adapter reads in these tests are checked too, so the fakes of
``jira_json`` stay real shapes.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from chalicelib.trackers.base import Body, IssueFields
from tests.factories.fake_http import Call
from tests.openapi import errors, request_validator, response_validator, schema_validator
from tests.unit.trackers import jira_json as J

API = f"{J.CLOUD}/rest/api/3"

# URL path of a recorded call -> the document's path template.
TEMPLATES = [
    ("/rest/api/3/issue", "/rest/api/3/issue"),
    ("/rest/api/3/issue/ABC-12", "/rest/api/3/issue/{issueIdOrKey}"),
    ("/rest/api/3/issue/ABC-12/comment", "/rest/api/3/issue/{issueIdOrKey}/comment"),
    ("/rest/api/3/issue/ABC-12/comment/10001", "/rest/api/3/issue/{issueIdOrKey}/comment/{id}"),
    (
        "/rest/api/3/issue/ABC-12/properties/twinsync.twin",
        "/rest/api/3/issue/{issueIdOrKey}/properties/{propertyKey}",
    ),
]


def validate_sent(call: Call) -> None:
    path = urlsplit(call.request.url).path
    template = dict(TEMPLATES)[path]
    body = json.loads(call.request.body)
    problems = errors(request_validator(template, call.request.method), body)
    assert problems == [], f"{call.request.method} {template}: {problems}"


FULL = IssueFields(
    summary="Printer on fire",
    description=Body("adf", J.adf("It burns.")),
    issue_type="Bug",
    labels=("hardware",),
    priority="High",
    custom={"customfield_10072": 3},
    properties={"twinsync.twin": {"connection": "c1", "remote": "XYZ-1"}},
)


def test_create_issue_body(http, cloud):
    http.post(f"{API}/issue", status=201, json={"id": "1", "key": "ABC-1", "self": "x"})
    cloud.create_issue("ABC", FULL)
    validate_sent(http.calls[0])


def test_edit_issue_body(http, cloud):
    http.put(f"{API}/issue/ABC-12", status=204)
    cloud.update_issue("ABC-12", IssueFields(summary="x", description=Body("adf", None)))
    validate_sent(http.calls[0])


@pytest.mark.parametrize("public", [True, False])
def test_add_comment_body(http, cloud, public):
    http.post(f"{API}/issue/ABC-12/comment", status=201, json=J.comment())
    cloud.add_comment("ABC-12", Body("adf", J.adf("hi")), public=public)
    validate_sent(http.calls[0])


def test_edit_comment_body(http, cloud):
    http.put(f"{API}/issue/ABC-12/comment/10001", json=J.comment())
    cloud.update_comment("ABC-12", "10001", Body("adf", J.adf("hi")))
    validate_sent(http.calls[0])


@pytest.mark.parametrize("value", [{"remote": "XYZ-1"}, "XYZ-1", 7, [1, 2]])
def test_set_property_body(http, cloud, value):
    http.put(f"{API}/issue/ABC-12/properties/twinsync.twin", status=200)
    cloud.set_issue_property("ABC-12", "twinsync.twin", value)
    validate_sent(http.calls[0])


def test_a_drifted_body_fails_the_check():
    """The check has teeth: a renamed top-level field or a read-only one is refused."""
    create = request_validator("/rest/api/3/issue", "post")
    assert errors(create, {"field": {"summary": "x"}})
    assert errors(create, {"fields": {}, "properties": [{"name": "k", "value": 1}]})
    comment = request_validator("/rest/api/3/issue/{issueIdOrKey}/comment", "post")
    assert errors(comment, {"body": J.adf("x"), "id": "10001"})
    assert errors(comment, {"body": J.adf("x"), "visibility": {"type": "team", "value": "x"}})


@pytest.mark.parametrize(
    ("schema", "instance"),
    [
        ("IssueBean", J.issue()),
        ("Comment", J.comment()),
        ("Attachment", J.attachment()),
        ("Project", J.project()),
        ("User", J.cloud_user()),
        ("IssueTypeDetails", J.issue_type("1", "Task")),
    ],
)
def test_the_fake_responses_are_real_shapes(schema, instance):
    assert errors(schema_validator(schema), instance) == []


def test_created_issue_response_shape():
    created = {"id": "10050", "key": "ABC-13", "self": f"{API}/issue/10050"}
    assert errors(response_validator("/rest/api/3/issue", "post", 201), created) == []
