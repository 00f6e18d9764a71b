"""The guarded fetcher: guard first, pinned address, no redirects, capped size, no proxies.

The network is replaced at the transport (``FakeHttp.pools``: connection pools that answer
from memory); no socket is opened. The pinning itself is :func:`pinned_pool`'s, checked on
the pool it builds (a real socket on loopback: tests/functional/test_connections_outbound.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import urllib3
from botocore.httpsession import get_cert_path
from urllib3.exceptions import ConnectTimeoutError, ProtocolError

from chalicelib.net.errors import Unreachable, UrlNotAllowed
from chalicelib.net.outbound import GuardedFetcher
from chalicelib.net.pinned import pinned_pool
from chalicelib.net.ssrf import OutboundPolicy, check_url
from tests.factories.fake_http import FakeHttp

DNS = {"partner.example.com": ["93.184.216.34"], "inside.example.com": ["10.1.2.3"]}


def resolve(host, port):
    return DNS[host]


@pytest.fixture
def http() -> Iterator[FakeHttp]:
    with FakeHttp(assert_all_fired=False) as fake:
        yield fake


def fetcher(http: FakeHttp, **kwargs) -> GuardedFetcher:
    return GuardedFetcher(OutboundPolicy(), resolve=resolve, pools=http.pools, **kwargs)


def test_fetch_returns_status_headers_and_body(http):
    http.get("https://partner.example.com/node/v1/info", json={"ok": True})
    answer = fetcher(http)("GET", "https://partner.example.com/node/v1/info")
    assert answer.status == 200
    assert answer.json() == {"ok": True}
    assert answer.headers["content-type"].startswith("application/json")


def test_host_header_names_the_host_not_the_pinned_address(http):
    http.get("https://partner.example.com:8443/x?a=1", body="hi")
    fetcher(http)("GET", "https://partner.example.com:8443/x?a=1", headers={"X-A": "1"})
    sent = http.calls[0].request
    assert sent.headers["Host"] == "partner.example.com:8443"
    assert sent.headers["X-A"] == "1"
    assert sent.url == "https://partner.example.com:8443/x?a=1"  # path and query as given


def test_a_body_is_sent_as_given(http):
    http.post("https://partner.example.com/node/v1/replicas", status=202)
    answer = fetcher(http)("POST", "https://partner.example.com/node/v1/replicas", body=b'{"a": 1}')
    assert answer.status == 202 and answer.body == b""
    assert http.calls[0].request.body == b'{"a": 1}'


def test_guard_runs_before_any_request(http):
    with pytest.raises(UrlNotAllowed):
        fetcher(http)("GET", "https://inside.example.com/")
    with pytest.raises(UrlNotAllowed):
        fetcher(http)("GET", "http://partner.example.com/")
    assert len(http.calls) == 0


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_refused_not_followed(http, status):
    http.get(
        "https://partner.example.com/",
        status=status,
        headers={"Location": "http://169.254.169.254/latest/meta-data/"},
    )
    with pytest.raises(Unreachable, match="redirect"):
        fetcher(http)("GET", "https://partner.example.com/")
    assert len(http.calls) == 1


def test_declared_oversized_response_is_refused(http):
    http.get("https://partner.example.com/", body=b"x" * 20, headers={"Content-Length": "2000"})
    with pytest.raises(Unreachable, match="more than 1000 bytes"):
        fetcher(http, max_bytes=1000)("GET", "https://partner.example.com/")


def test_streamed_oversized_response_is_refused(http):
    http.get("https://partner.example.com/", body=b"y" * 3000)
    with pytest.raises(Unreachable, match="more than 1000 bytes"):
        fetcher(http, max_bytes=1000)("GET", "https://partner.example.com/")


@pytest.mark.parametrize(
    "failure", [ConnectTimeoutError("slow"), ProtocolError("Connection aborted.")]
)
def test_connection_errors_become_unreachable(http, failure):
    http.get("https://partner.example.com/", body=failure)
    with pytest.raises(Unreachable, match="did not answer"):
        fetcher(http)("GET", "https://partner.example.com/")


def test_short_timeouts_no_retries_no_redirects(http):
    http.get("https://partner.example.com/", body="ok")
    fetcher(http, timeout=(1.0, 2.0))("GET", "https://partner.example.com/")
    sent = http.calls[0].request
    assert (sent.timeout.connect_timeout, sent.timeout.read_timeout) == (1.0, 2.0)
    assert sent.retries is False  # urllib3: no retry, and a redirect is returned as it is


def target(url: str):
    return check_url(url, OutboundPolicy(), resolve=resolve)


def test_the_pool_connects_to_the_checked_address_and_verifies_the_name():
    pool = pinned_pool(target("https://partner.example.com/x"))
    assert isinstance(pool, urllib3.HTTPSConnectionPool)
    assert (pool.host, pool.port) == ("93.184.216.34", 443)
    assert pool.conn_kw["server_hostname"] == "partner.example.com"  # SNI
    assert pool.assert_hostname == "partner.example.com"
    assert pool.cert_reqs == "CERT_REQUIRED"
    assert pool.ca_certs == get_cert_path(True)  # the bundle botocore uses


def test_verify_keeps_its_meaning(tmp_path):
    """A path: that CA bundle (a file) or directory of CAs; False: no check at all."""
    where = target("https://partner.example.com/")
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    assert pinned_pool(where, verify=str(bundle)).ca_certs == str(bundle)
    assert pinned_pool(where, verify=str(tmp_path)).ca_cert_dir == str(tmp_path)
    unchecked = pinned_pool(where, verify=False)
    assert unchecked.cert_reqs == "CERT_NONE" and unchecked.assert_hostname is False


def test_plain_http_is_pinned_too():
    policy = OutboundPolicy(allow_private=True)  # a stage that allows private URLs allows http
    pool = pinned_pool(check_url("http://partner.example.com:8080/", policy, resolve=resolve))
    assert type(pool) is urllib3.HTTPConnectionPool
    assert (pool.host, pool.port) == ("93.184.216.34", 8080)
