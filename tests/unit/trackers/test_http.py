"""The request chokepoint: auth, timeouts, JSON, and Jira's failures as typed errors."""

from __future__ import annotations

import email.utils
import logging

import pytest
import requests

from chalicelib.trackers.base import (
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    TooLarge,
    TrackerError,
    Unavailable,
)
from chalicelib.trackers.http import (
    DEFAULT_RETRY_AFTER,
    JiraHttp,
    cloud_auth,
    parse_retry_after,
    server_auth,
)
from tests.unit.trackers.conftest import (
    CLOUD_AUTH,
    CLOUD_EMAIL,
    CLOUD_TOKEN,
    SERVER_BEARER,
    SERVER_TOKEN,
    basic,
)
from tests.unit.trackers.jira_json import CLOUD, SERVER

NOW = 1_700_000_000.0
MYSELF = f"{CLOUD}/rest/api/3/myself"


def client(**kwargs) -> JiraHttp:
    return JiraHttp(
        CLOUD, cloud_auth(CLOUD_EMAIL, CLOUD_TOKEN), session=requests.Session(), **kwargs
    )


# --- auth, headers, timeouts --------------------------------------------------------------


def test_cloud_sends_basic_auth_with_email_and_api_token_and_asks_for_json(http):
    http.get(MYSELF, json={"accountId": "a1"})
    assert client().json("GET", "/rest/api/3/myself") == {"accountId": "a1"}
    headers = http.calls[0].request.headers
    assert headers["Authorization"] == CLOUD_AUTH
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"].startswith("twinsync/")


def test_server_sends_a_personal_access_token_as_bearer(http):
    http.get(f"{SERVER}/rest/api/2/myself", json={"key": "bot"})
    JiraHttp(SERVER, server_auth(SERVER_TOKEN), session=requests.Session()).json(
        "GET", "/rest/api/2/myself"
    )
    assert http.calls[0].request.headers["Authorization"] == SERVER_BEARER


def test_server_with_a_user_sends_basic_auth(http):
    http.get(f"{SERVER}/rest/api/2/myself", json={"key": "bot"})
    JiraHttp(SERVER, server_auth("pw", "bot"), session=requests.Session()).json(
        "GET", "/rest/api/2/myself"
    )
    assert http.calls[0].request.headers["Authorization"] == basic("bot", "pw")


def test_every_request_has_connect_and_read_timeouts(http):
    http.get(MYSELF, json={})
    client(timeout=(1.5, 7.0)).json("GET", "/rest/api/3/myself")
    assert http.calls[0].request.req_kwargs["timeout"] == (1.5, 7.0)


def test_default_timeouts_are_short_connect_and_bounded_read(http):
    http.get(MYSELF, json={})
    client().json("GET", "/rest/api/3/myself")
    connect, read = http.calls[0].request.req_kwargs["timeout"]
    assert 0 < connect < 5 and 0 < read <= 30


def test_one_session_is_reused_for_every_request(http):
    http.get(MYSELF, json={})
    http.get(MYSELF, json={})
    jira = client()
    session = jira.session
    jira.json("GET", "/rest/api/3/myself")
    jira.json("GET", "/rest/api/3/myself")
    assert jira.session is session and len(http.calls) == 2


def test_credentials_never_show_in_reprs():
    for auth in (cloud_auth("a@b", CLOUD_TOKEN), server_auth(SERVER_TOKEN), server_auth("x", "u")):
        assert CLOUD_TOKEN not in repr(auth) and SERVER_TOKEN not in repr(auth)


def test_credentials_never_reach_the_log(http, caplog):
    http.get(MYSELF, json={"errorMessages": ["nope"]}, status=401)
    with caplog.at_level(logging.DEBUG), pytest.raises(PermissionDenied) as err:
        client().json("GET", "/rest/api/3/myself")
    assert "GET /rest/api/3/myself" in caplog.text
    for text in (caplog.text, str(err.value), repr(err.value)):
        assert CLOUD_TOKEN not in text and CLOUD_AUTH not in text


def test_empty_answer_is_none(http):
    http.delete(f"{CLOUD}/rest/api/3/issue/A-1", status=204)
    assert client().json("DELETE", "/rest/api/3/issue/A-1") is None


def test_an_answer_that_is_not_json_is_a_clear_error(http):
    http.get(MYSELF, body="<html>login</html>", content_type="text/html")
    with pytest.raises(TrackerError, match="not JSON"):
        client().json("GET", "/rest/api/3/myself")


# --- error translation, each with exactly one call ------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, PermissionDenied),
        (403, PermissionDenied),
        (404, NotFound),
        (400, InvalidRequest),
        (409, InvalidRequest),
        (422, InvalidRequest),
        (413, TooLarge),
        (429, RateLimited),
        (500, Unavailable),
        (502, Unavailable),
        (503, Unavailable),
        (504, Unavailable),
    ],
)
def test_statuses_become_typed_errors_without_a_retry(http, status, error):
    http.get(MYSELF, json={"errorMessages": ["told you"], "errors": {}}, status=status)
    with pytest.raises(error) as caught:
        client().json("GET", "/rest/api/3/myself")
    assert caught.value.status == status
    assert "told you" in caught.value.message
    assert caught.value.retryable is (status in (429, 500, 502, 503, 504))
    assert len(http.calls) == 1


def test_400_keeps_jiras_field_errors_and_messages(http):
    http.post(
        f"{CLOUD}/rest/api/3/issue",
        status=400,
        json={
            "errorMessages": ["Something is off."],
            "errors": {"issuetype": "Specify a valid issue type", "project": "valid project"},
        },
    )
    with pytest.raises(InvalidRequest) as caught:
        client().json("POST", "/rest/api/3/issue", json={"fields": {}})
    err = caught.value
    assert err.field_errors == {
        "issuetype": "Specify a valid issue type",
        "project": "valid project",
    }
    assert err.error_messages == ("Something is off.",)
    assert "issuetype: Specify a valid issue type" in err.message
    assert "Something is off." in err.message


def test_an_error_without_a_jira_body_still_says_what_failed(http):
    http.get(MYSELF, status=500, body="Internal Server Error", content_type="text/plain")
    with pytest.raises(Unavailable, match=r"HTTP 500 to GET /rest/api/3/myself"):
        client().json("GET", "/rest/api/3/myself")


def test_429_takes_the_delay_from_retry_after_seconds(http):
    http.get(MYSELF, status=429, headers={"Retry-After": "7", "RateLimit-Reason": "jira-burst"})
    with pytest.raises(RateLimited) as caught:
        client().json("GET", "/rest/api/3/myself")
    assert caught.value.retry_after == 7.0
    assert "jira-burst" in caught.value.message
    assert len(http.calls) == 1


def test_429_takes_the_delay_from_an_http_date(http):
    when = email.utils.formatdate(NOW + 42, usegmt=True)
    http.get(MYSELF, status=429, headers={"Retry-After": when})
    with pytest.raises(RateLimited) as caught:
        client(clock=lambda: NOW).json("GET", "/rest/api/3/myself")
    assert caught.value.retry_after == pytest.approx(42, abs=1)


def test_429_without_retry_after_waits_the_default(http):
    http.get(MYSELF, status=429)
    with pytest.raises(RateLimited) as caught:
        client().json("GET", "/rest/api/3/myself")
    assert caught.value.retry_after == DEFAULT_RETRY_AFTER == 10.0


def test_503_with_retry_after_keeps_the_delay(http):
    http.get(MYSELF, status=503, headers={"Retry-After": "30"})
    with pytest.raises(Unavailable) as caught:
        client().json("GET", "/rest/api/3/myself")
    assert caught.value.retry_after == 30.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 3 ", 3.0),
        ("0", 0.0),
        ("-5", 0.0),
        ("1.5", 1.5),
        (email.utils.formatdate(NOW + 60, usegmt=True), 60.0),
        (email.utils.formatdate(NOW - 60, usegmt=True), 0.0),
        ("soon", DEFAULT_RETRY_AFTER),
        ("", DEFAULT_RETRY_AFTER),
        (None, DEFAULT_RETRY_AFTER),
    ],
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value, now=NOW) == pytest.approx(expected, abs=1)


def test_timeout_is_unavailable(http):
    http.get(MYSELF, body=requests.ReadTimeout("read timed out"))
    with pytest.raises(Unavailable, match="in time") as caught:
        client().json("GET", "/rest/api/3/myself")
    assert isinstance(caught.value.__cause__, requests.Timeout)
    assert len(http.calls) == 1


def test_connection_refused_is_unavailable(http):
    http.get(MYSELF, body=requests.ConnectionError("refused"))
    with pytest.raises(Unavailable, match="could not connect"):
        client().json("GET", "/rest/api/3/myself")
    assert len(http.calls) == 1


def test_session_has_no_hidden_retries():
    jira = client()
    for adapter in jira.session.adapters.values():
        assert adapter.max_retries.total == 0
