"""The guarded fetcher: guard first, pinned address, no redirects, capped size, no proxies.

The network is replaced at the transport (``responses``); no socket is opened.
"""

from __future__ import annotations

import pytest
import requests
import responses

from chalicelib.net.errors import Unreachable, UrlNotAllowed
from chalicelib.net.outbound import GuardedFetcher
from chalicelib.net.pinned import PinnedAdapter
from chalicelib.net.ssrf import OutboundPolicy, check_url

DNS = {"partner.example.com": ["93.184.216.34"], "inside.example.com": ["10.1.2.3"]}


def resolve(host, port):
    return DNS[host]


def fetcher(**kwargs):
    return GuardedFetcher(OutboundPolicy(), resolve=resolve, **kwargs)


@responses.activate
def test_fetch_returns_status_headers_and_body():
    responses.get("https://partner.example.com/node/v1/info", json={"ok": True})
    answer = fetcher()("GET", "https://partner.example.com/node/v1/info")
    assert answer.status == 200
    assert answer.json() == {"ok": True}
    assert answer.headers["content-type"].startswith("application/json")


@responses.activate
def test_host_header_names_the_host_not_the_pinned_address():
    responses.get("https://partner.example.com:8443/x", body="hi")
    fetcher()("GET", "https://partner.example.com:8443/x", headers={"X-A": "1"})
    sent = responses.calls[0].request
    assert sent.headers["Host"] == "partner.example.com:8443"
    assert sent.headers["X-A"] == "1"


def test_guard_runs_before_any_request():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        with pytest.raises(UrlNotAllowed):
            fetcher()("GET", "https://inside.example.com/")
        with pytest.raises(UrlNotAllowed):
            fetcher()("GET", "http://partner.example.com/")
        assert len(mock.calls) == 0


@responses.activate
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_refused_not_followed(status):
    responses.get(
        "https://partner.example.com/",
        status=status,
        headers={"Location": "http://169.254.169.254/latest/meta-data/"},
    )
    with pytest.raises(Unreachable, match="redirect"):
        fetcher()("GET", "https://partner.example.com/")
    assert len(responses.calls) == 1


@responses.activate
def test_declared_oversized_response_is_refused():
    responses.get(
        "https://partner.example.com/", body=b"x" * 20, headers={"Content-Length": "2000"}
    )
    with pytest.raises(Unreachable, match="more than 1000 bytes"):
        fetcher(max_bytes=1000)("GET", "https://partner.example.com/")


@responses.activate
def test_streamed_oversized_response_is_refused():
    responses.get("https://partner.example.com/", body=b"y" * 3000)
    with pytest.raises(Unreachable, match="more than 1000 bytes"):
        fetcher(max_bytes=1000)("GET", "https://partner.example.com/")


@responses.activate
def test_connection_errors_become_unreachable():
    responses.get("https://partner.example.com/", body=requests.ConnectTimeout("slow"))
    with pytest.raises(Unreachable, match="did not answer"):
        fetcher()("GET", "https://partner.example.com/")


@responses.activate
def test_short_timeouts_are_used(monkeypatch):
    seen = {}
    original = requests.Session.request

    def spy(self, *args, **kwargs):
        seen.update(kwargs, trust_env=self.trust_env)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", spy)
    responses.get("https://partner.example.com/", body="ok")
    fetcher(timeout=(1.0, 2.0))("GET", "https://partner.example.com/")
    assert seen["timeout"] == (1.0, 2.0)
    assert seen["allow_redirects"] is False
    assert seen["trust_env"] is False


def test_pinned_adapter_connects_to_the_checked_address_and_verifies_the_name():
    target = check_url("https://partner.example.com/x", OutboundPolicy(), resolve=resolve)
    adapter = PinnedAdapter(target)
    request = requests.Request("GET", "https://partner.example.com/x").prepare()
    host_params, pool_kwargs = adapter.build_connection_pool_key_attributes(request, True)
    assert host_params["host"] == "93.184.216.34"
    assert host_params["scheme"] == "https"
    assert pool_kwargs["server_hostname"] == "partner.example.com"
    assert pool_kwargs["assert_hostname"] == "partner.example.com"
