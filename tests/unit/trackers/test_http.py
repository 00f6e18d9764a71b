"""The request chokepoint: auth, timeouts, JSON, redirects, and Jira's failures as typed errors."""

from __future__ import annotations

import email.utils
import logging

import pytest
import urllib3
from botocore.httpsession import get_cert_path
from urllib3.exceptions import (
    DecodeError,
    MaxRetryError,
    NewConnectionError,
    ReadTimeoutError,
    SSLError,
)

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
    MAX_REDIRECTS,
    JiraHttp,
    cloud_auth,
    encode_params,
    parse_retry_after,
    server_auth,
)
from tests.factories.fake_http import FakeHttp
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


def client(http: FakeHttp, **kwargs) -> JiraHttp:
    return JiraHttp(CLOUD, cloud_auth(CLOUD_EMAIL, CLOUD_TOKEN), pool=http.pool(), **kwargs)


# --- auth, headers, timeouts --------------------------------------------------------------


def test_cloud_sends_basic_auth_with_email_and_api_token_and_asks_for_json(http):
    http.get(MYSELF, json={"accountId": "a1"})
    assert client(http).json("GET", "/rest/api/3/myself") == {"accountId": "a1"}
    headers = http.calls[0].request.headers
    assert headers["Authorization"] == CLOUD_AUTH
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"].startswith("twinsync/")


def test_server_sends_a_personal_access_token_as_bearer(http):
    http.get(f"{SERVER}/rest/api/2/myself", json={"key": "bot"})
    JiraHttp(SERVER, server_auth(SERVER_TOKEN), pool=http.pool()).json("GET", "/rest/api/2/myself")
    assert http.calls[0].request.headers["Authorization"] == SERVER_BEARER


def test_server_with_a_user_sends_basic_auth(http):
    http.get(f"{SERVER}/rest/api/2/myself", json={"key": "bot"})
    JiraHttp(SERVER, server_auth("pw", "bot"), pool=http.pool()).json("GET", "/rest/api/2/myself")
    assert http.calls[0].request.headers["Authorization"] == basic("bot", "pw")


def test_every_request_has_connect_and_read_timeouts(http):
    http.get(MYSELF, json={})
    client(http, timeout=(1.5, 7.0)).json("GET", "/rest/api/3/myself")
    timeout = http.calls[0].request.timeout
    assert (timeout.connect_timeout, timeout.read_timeout) == (1.5, 7.0)


def test_default_timeouts_are_short_connect_and_bounded_read(http):
    http.get(MYSELF, json={})
    client(http).json("GET", "/rest/api/3/myself")
    timeout = http.calls[0].request.timeout
    connect, read = timeout.connect_timeout, timeout.read_timeout
    assert 0 < connect < 5 and 0 < read <= 30


def test_one_pool_is_reused_for_every_request(http):
    http.get(MYSELF, json={})
    http.get(MYSELF, json={})
    jira = client(http)
    pool = jira.pool
    jira.json("GET", "/rest/api/3/myself")
    jira.json("GET", "/rest/api/3/myself")
    assert jira.pool is pool and len(http.calls) == 2
    assert len(pool.pools) == 1  # one connection pool for the one site


def test_tls_is_verified_against_botocores_ca_bundle_and_no_proxy_is_read(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    pool = JiraHttp(CLOUD, cloud_auth(CLOUD_EMAIL, CLOUD_TOKEN)).pool
    assert type(pool) is urllib3.PoolManager  # not a ProxyManager: the variable is ignored
    assert pool.connection_pool_kw["cert_reqs"] == "CERT_REQUIRED"
    assert pool.connection_pool_kw["ca_certs"] == get_cert_path(True)
    assert pool.connection_pool_kw["maxsize"] == 10  # as requests kept per host


def test_params_are_encoded_as_requests_did(http):
    http.get(MYSELF, json={})
    client(http).json(
        "GET",
        "/rest/api/3/myself",
        params={"jql": "project = ABC", "projectId": ["1", "2"], "startAt": 0, "gone": None},
    )
    assert http.calls[0].request.url == (
        f"{MYSELF}?jql=project+%3D+ABC&projectId=1&projectId=2&startAt=0"
    )
    assert encode_params({"expand": "names,changelog", "b": True}) == (
        "expand=names%2Cchangelog&b=True"
    )


def test_a_json_body_is_sent_as_json(http):
    http.post(f"{CLOUD}/rest/api/3/issue", status=201, json={"key": "A-1"})
    answer = client(http).json("POST", "/rest/api/3/issue", json={"fields": {"summary": "é"}})
    assert answer == {"key": "A-1"}
    request = http.calls[0].request
    assert request.headers["Content-Type"] == "application/json"
    assert request.body == b'{"fields": {"summary": "\\u00e9"}}'


def test_a_redirect_on_the_same_site_keeps_the_credentials(http):
    moved = f"{CLOUD}/rest/api/3/myself/moved"
    http.get(MYSELF, status=302, headers={"Location": "/rest/api/3/myself/moved"})
    http.get(moved, json={"accountId": "a1"})
    assert client(http).json("GET", "/rest/api/3/myself") == {"accountId": "a1"}
    assert [c.request.url for c in http.calls] == [MYSELF, moved]
    assert http.calls[1].request.headers["Authorization"] == CLOUD_AUTH


def test_a_redirect_to_another_host_drops_the_credentials(http):
    elsewhere = "https://media.example.test/blob"
    http.get(MYSELF, status=307, headers={"Location": elsewhere})
    http.get(elsewhere, json={"ok": True})
    assert client(http).json("GET", "/rest/api/3/myself") == {"ok": True}
    assert "Authorization" not in http.calls[1].request.headers
    assert http.calls[1].request.headers["User-Agent"].startswith("twinsync/")


def test_endless_redirects_are_a_tracker_error(http):
    http.get(MYSELF, status=302, headers={"Location": MYSELF})
    with pytest.raises(TrackerError, match="redirected") as caught:
        client(http).json("GET", "/rest/api/3/myself")
    assert not isinstance(caught.value, Unavailable)
    assert len(http.calls) == MAX_REDIRECTS + 1


def test_credentials_never_show_in_reprs():
    for auth in (cloud_auth("a@b", CLOUD_TOKEN), server_auth(SERVER_TOKEN), server_auth("x", "u")):
        assert CLOUD_TOKEN not in repr(auth) and SERVER_TOKEN not in repr(auth)


def test_credentials_never_reach_the_log(http, caplog):
    http.get(MYSELF, json={"errorMessages": ["nope"]}, status=401)
    with caplog.at_level(logging.DEBUG), pytest.raises(PermissionDenied) as err:
        client(http).json("GET", "/rest/api/3/myself")
    assert "GET /rest/api/3/myself" in caplog.text
    for text in (caplog.text, str(err.value), repr(err.value)):
        assert CLOUD_TOKEN not in text and CLOUD_AUTH not in text


def test_empty_answer_is_none(http):
    http.delete(f"{CLOUD}/rest/api/3/issue/A-1", status=204)
    assert client(http).json("DELETE", "/rest/api/3/issue/A-1") is None


def test_an_answer_that_is_not_json_is_a_clear_error(http):
    http.get(MYSELF, body="<html>login</html>", content_type="text/html")
    with pytest.raises(TrackerError, match="not JSON"):
        client(http).json("GET", "/rest/api/3/myself")


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
        client(http).json("GET", "/rest/api/3/myself")
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
        client(http).json("POST", "/rest/api/3/issue", json={"fields": {}})
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
        client(http).json("GET", "/rest/api/3/myself")


def test_429_takes_the_delay_from_retry_after_seconds(http):
    http.get(MYSELF, status=429, headers={"Retry-After": "7", "RateLimit-Reason": "jira-burst"})
    with pytest.raises(RateLimited) as caught:
        client(http).json("GET", "/rest/api/3/myself")
    assert caught.value.retry_after == 7.0
    assert "jira-burst" in caught.value.message
    assert len(http.calls) == 1


def test_429_takes_the_delay_from_an_http_date(http):
    when = email.utils.formatdate(NOW + 42, usegmt=True)
    http.get(MYSELF, status=429, headers={"Retry-After": when})
    with pytest.raises(RateLimited) as caught:
        client(http, clock=lambda: NOW).json("GET", "/rest/api/3/myself")
    assert caught.value.retry_after == pytest.approx(42, abs=1)


def test_429_without_retry_after_waits_the_default(http):
    http.get(MYSELF, status=429)
    with pytest.raises(RateLimited) as caught:
        client(http).json("GET", "/rest/api/3/myself")
    assert caught.value.retry_after == DEFAULT_RETRY_AFTER == 10.0


def test_503_with_retry_after_keeps_the_delay(http):
    http.get(MYSELF, status=503, headers={"Retry-After": "30"})
    with pytest.raises(Unavailable) as caught:
        client(http).json("GET", "/rest/api/3/myself")
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
    http.get(MYSELF, body=ReadTimeoutError(None, MYSELF, "read timed out"))
    with pytest.raises(Unavailable, match="in time") as caught:
        client(http).json("GET", "/rest/api/3/myself")
    assert isinstance(caught.value.__cause__, ReadTimeoutError)
    assert len(http.calls) == 1


@pytest.mark.parametrize(
    "failure",
    [
        NewConnectionError(None, "refused"),  # raised as is (connect=False)
        MaxRetryError(None, MYSELF, reason=SSLError("certificate verify failed")),  # other=0
    ],
)
def test_connection_refused_or_tls_failure_is_unavailable(http, failure):
    """As the pool raises them; requests' ConnectionError covered TLS failures too."""
    http.get(MYSELF, body=failure)
    with pytest.raises(Unavailable, match="could not connect"):
        client(http).json("GET", "/rest/api/3/myself")
    assert len(http.calls) == 1


def test_another_transport_failure_is_a_tracker_error(http):
    http.get(MYSELF, body=DecodeError("bad gzip"))
    with pytest.raises(TrackerError, match="could not send") as caught:
        client(http).json("GET", "/rest/api/3/myself")
    assert not isinstance(caught.value, Unavailable)


def test_the_pool_is_asked_for_no_retries_but_redirects(http):
    http.get(MYSELF, json={})
    client(http).json("GET", "/rest/api/3/myself")
    retries = http.calls[0].request.retries
    assert retries.redirect == MAX_REDIRECTS
    # a failure is raised at once, a 429 or 503 answered as it is: the queue retries
    assert (retries.connect, retries.read, retries.other, retries.status) == (False, False, 0, 0)
    assert not retries.is_retry("GET", 429, has_retry_after=True)
    assert not retries.is_retry("GET", 503, has_retry_after=True)
