"""The function URL's event handed to the app's pull routes as API Gateway would (issue 19)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.api.pull_url import handle, rest_event, url_response
from devstack.function_url import url_event

CID = "c-1"


def event(method: str, target: str, body: bytes = b"", **headers: str) -> dict[str, Any]:
    return url_event(method, target, headers, body)


@pytest.mark.parametrize(
    ("method", "tail", "resource"),
    [
        ("GET", "outbox", "/node/v1/connections/{cid}/outbox"),
        ("POST", "outbox/ack", "/node/v1/connections/{cid}/outbox/ack"),
        ("GET", "twin-status", "/node/v1/connections/{cid}/twin-status"),
    ],
)
def test_each_pull_route_becomes_the_apis_event(method: str, tail: str, resource: str) -> None:
    rest = rest_event(
        event(
            method,
            f"/node/v1/connections/{CID}/{tail}?after=3&wait=20",
            b"{}",
            Authorization="Bearer t",
        )
    )
    assert rest is not None
    assert rest["requestContext"]["resourcePath"] == resource
    assert rest["httpMethod"] == rest["requestContext"]["httpMethod"] == method
    assert rest["pathParameters"] == {"cid": CID}
    assert rest["headers"]["authorization"] == "Bearer t"
    assert rest["multiValueQueryStringParameters"] == {"after": ["3"], "wait": ["20"]}
    assert rest["body"] == "{}"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", f"/node/v1/connections/{CID}/replicas"),
        ("DELETE", f"/node/v1/connections/{CID}/outbox"),
        ("GET", f"/node/v1/connections/{CID}/outbox/ack"),
        ("POST", f"/node/v1/connections/{CID}/twin-status"),
        ("GET", "/node/v1/info"),
        ("GET", f"/api/v1/connections/{CID}"),
        ("GET", f"/node/v1/connections/{CID}/x/outbox"),
    ],
)
def test_anything_but_the_pull_is_not_found_without_running_the_app(method: str, path: str) -> None:
    def app(rest: dict[str, Any], context: Any) -> dict[str, Any]:
        raise AssertionError("the app must not run")

    answer = handle(app, event(method, path), None)
    assert answer["statusCode"] == 404
    assert json.loads(answer["body"])["error"]["code"] == "not_found"


def test_an_escaped_connection_id_reaches_the_route_unescaped() -> None:
    rest = rest_event(event("GET", "/node/v1/connections/a%3Ab/outbox"))
    assert rest is not None and rest["pathParameters"] == {"cid": "a:b"}


def test_the_apps_answer_becomes_a_url_answer() -> None:
    answer = url_response(
        {
            "statusCode": 401,
            "headers": {"Content-Type": "application/json"},
            "multiValueHeaders": {"Retry-After": ["5"]},
            "body": '{"error": {}}',
            "isBase64Encoded": False,
        }
    )
    assert answer == {
        "statusCode": 401,
        "headers": {"Content-Type": "application/json", "Retry-After": "5"},
        "body": '{"error": {}}',
        "isBase64Encoded": False,
    }
