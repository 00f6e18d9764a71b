"""The outbound guard refuses every known way of reaching an internal address."""

from __future__ import annotations

import ipaddress
import logging

import pytest

from chalicelib.net.errors import Unreachable, UrlNotAllowed
from chalicelib.net.ssrf import OutboundPolicy, address_problem, check_url

PRODUCTION = OutboundPolicy()
LOCAL = OutboundPolicy(allow_private=True)


class FakeDNS:
    """An in-memory resolver: tests never touch real DNS."""

    def __init__(self, records: dict[str, list[str]]) -> None:
        self.records = records
        self.asked: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        if host not in self.records:
            raise Unreachable(f"{host} does not resolve")
        return self.records[host]


DNS = FakeDNS(
    {
        "partner.example.com": ["93.184.216.34"],
        "v6.example.com": ["2606:2800:220:1:248:1893:25c8:1946"],
        "loopback.example.com": ["127.0.0.1"],
        "rebind.example.com": ["93.184.216.34", "10.0.0.5"],
        "private.example.com": ["192.168.1.10"],
        "meta.example.com": ["169.254.169.254"],
        "cgnat.example.com": ["100.64.0.1"],
        "ula.example.com": ["fd12:3456:789a::1"],
        "v6loop.example.com": ["::1"],
        "mapped.example.com": ["::ffff:10.0.0.1"],
        "zone.example.com": ["fe80::1%eth0"],
        "localtest.me": ["127.0.0.1"],
        "nip.example.com": ["127.0.0.2"],
        "ecs.example.com": ["169.254.170.2"],
        "zero.example.com": ["0.0.0.0"],
        "internal.corp": ["172.16.4.4"],
        "empty.example.com": [],
    }
)

# Every entry is a bypass attempt against a production stage; all must be refused.
BYPASS_CORPUS = [
    # plain internal addresses
    "https://127.0.0.1/",
    "https://127.0.0.1:443/node/v1/info",
    "https://127.255.255.254/",
    "https://10.0.0.1/",
    "https://172.16.0.1/",
    "https://172.31.255.255/",
    "https://192.168.0.1/",
    "https://169.254.169.254/latest/meta-data/",
    "https://169.254.170.2/v2/credentials",
    "https://100.64.0.1/",
    "https://100.127.255.254/",
    "https://0.0.0.0/",
    "https://0.1.2.3/",
    "https://255.255.255.255/",
    "https://224.0.0.1/",
    "https://240.0.0.1/",
    "https://198.18.0.1/",
    # odd IPv4 encodings
    "https://2130706433/",
    "https://0x7f000001/",
    "https://017700000001/",
    "https://0177.0.0.1/",
    "https://0x7f.0.0.1/",
    "https://0x7f.1/",
    "https://127.1/",
    "https://127.0.1/",
    "https://0/",
    "https://0x0/",
    "https://169.254.43518/",
    "https://0251.0376.0251.0376/",
    "https://0xa9.0xfe.0xa9.0xfe/",
    "https://127.000.000.001/",
    "https://3232235521/",
    # IPv6
    "https://[::1]/",
    "https://[::]/",
    "https://[0:0:0:0:0:0:0:1]/",
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:7f00:1]/",
    "https://[::ffff:169.254.169.254]/",
    "https://[::127.0.0.1]/",
    "https://[fe80::1]/",
    "https://[fe80::1%25eth0]/",
    "https://[fd00::1]/",
    "https://[fc00::1]/",
    "https://[fec0::1]/",
    "https://[fd00:ec2::254]/",
    "https://[2002:7f00:1::]/",
    "https://[2002:a9fe:a9fe::]/",
    "https://[64:ff9b::7f00:1]/",
    "https://[64:ff9b::a9fe:a9fe]/",
    "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
    "https://[ff02::1]/",
    # names that resolve inside
    "https://localhost/",
    "https://LOCALHOST/",
    "https://localhost./",
    "https://api.localhost/",
    "https://loopback.example.com/",
    "https://localtest.me/",
    "https://nip.example.com/",
    "https://private.example.com/",
    "https://meta.example.com/",
    "https://ecs.example.com/",
    "https://cgnat.example.com/",
    "https://ula.example.com/",
    "https://v6loop.example.com/",
    "https://mapped.example.com/",
    "https://zone.example.com/",
    "https://zero.example.com/",
    "https://internal.corp/",
    "https://rebind.example.com/",
    # parser confusion and scheme tricks
    "http://partner.example.com/",
    "ftp://partner.example.com/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_INFO",
    "dict://127.0.0.1:11211/",
    "//partner.example.com/",
    "https://partner.example.com@127.0.0.1/",
    "https://user:pass@partner.example.com/",
    "https://127.0.0.1\\@partner.example.com/",
    "https://partner.example.com\\@127.0.0.1/",
    "https://127.0.0.1 partner.example.com/",
    "https://partner.example.com\r\nHost: 127.0.0.1/",
    "https://127。0。0。1/",
    "https://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/",
    "https://partner.example.com:0/",
    "https://partner.example.com:99999/",
    "https://partner.example.com:80:443/",
    "https:///node/v1/info",
    "https://[::1/",
    "https://under_score.example.com/",
    "",
    "https://" + "a" * 2100 + ".com/",
]


@pytest.mark.parametrize("url", BYPASS_CORPUS)
def test_bypass_attempt_is_refused(url):
    with pytest.raises(UrlNotAllowed):
        check_url(url, PRODUCTION, resolve=DNS)


def test_the_corpus_is_large_enough():
    assert len(BYPASS_CORPUS) >= 40
    assert len(set(BYPASS_CORPUS)) == len(BYPASS_CORPUS)


def test_public_https_url_is_accepted_with_its_checked_addresses():
    target = check_url("https://partner.example.com/twinsync", PRODUCTION, resolve=DNS)
    assert target.scheme == "https"
    assert target.host == "partner.example.com"
    assert target.port == 443
    assert target.addresses == ("93.184.216.34",)


def test_public_ipv6_host_and_explicit_port_are_accepted():
    target = check_url("https://v6.example.com:8443/", PRODUCTION, resolve=DNS)
    assert target.port == 8443
    assert target.addresses == ("2606:2800:220:1:248:1893:25c8:1946",)


def test_public_ip_literal_is_accepted_without_dns():
    dns = FakeDNS({})
    target = check_url("https://93.184.216.34/", PRODUCTION, resolve=dns)
    assert target.addresses == ("93.184.216.34",)
    assert dns.asked == []


def test_every_resolved_address_is_checked_not_just_the_first():
    with pytest.raises(UrlNotAllowed, match="non-public"):
        check_url("https://rebind.example.com/", PRODUCTION, resolve=DNS)


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("rebind.example.com", "10.0.0.5"),
        ("private.example.com", "192.168.1.10"),
        ("meta.example.com", "169.254.169.254"),
        ("ula.example.com", "fd12:3456:789a::1"),
        ("mapped.example.com", "::ffff:a00:1"),
        ("internal.corp", "172.16.4.4"),
    ],
)
def test_a_refused_host_name_does_not_reveal_what_it_resolves_to(host, address, caplog):
    caplog.set_level(logging.INFO, logger="twinsync.outbound")
    """Issue 13 item 11: the answer must not be an internal-DNS oracle."""
    with pytest.raises(UrlNotAllowed) as refused:
        check_url(f"https://{host}/", PRODUCTION, resolve=DNS)
    message = refused.value.message
    assert message == f"The URL's host {host!r} points to a non-public address."
    assert address not in message
    for kind in ("loopback", "private address", "metadata", "link-local", "IPv6 form"):
        assert kind not in message
    assert address in caplog.text  # the operator's log has the details


def test_a_refused_address_literal_is_named_since_the_caller_wrote_it():
    with pytest.raises(UrlNotAllowed, match="loopback"):
        check_url("https://127.0.0.1/", PRODUCTION, resolve=DNS)


# 64:ff9b:1::/48 in the RFC 6052 /48 layout: IPv4 bits at 48-63 and 72-87 (u octet 64-71).
# The last 32 bits (the /96 reading) are public 8.8.8.8 in the second and third.
NAT64_LOCAL_48 = [
    "64:ff9b:1:a00:0:100::",  # 10.0.0.1
    "64:ff9b:1:a9fe:a9:fe00:808:808",  # 169.254.169.254
    "64:ff9b:1:7f00:0:100:808:808",  # 127.0.0.1
]


@pytest.mark.parametrize("address", NAT64_LOCAL_48)
def test_local_use_nat64_prefix_is_read_in_its_48_layout(address):
    assert address_problem(ipaddress.ip_address(address)) is not None
    with pytest.raises(UrlNotAllowed):
        check_url(f"https://[{address}]/", PRODUCTION, resolve=DNS)
    with pytest.raises(UrlNotAllowed, match="non-public"):
        check_url(
            "https://nat64.example.com/",
            PRODUCTION,
            resolve=FakeDNS({"nat64.example.com": [address]}),
        )


def test_a_host_that_does_not_resolve_is_unreachable_not_unsafe():
    with pytest.raises(Unreachable):
        check_url("https://nowhere.example.com/", PRODUCTION, resolve=DNS)
    with pytest.raises(Unreachable):
        check_url("https://empty.example.com/", PRODUCTION, resolve=DNS)


def test_local_stage_allows_http_and_loopback():
    target = check_url("http://127.0.0.1:8001/", LOCAL, resolve=DNS)
    assert target.addresses == ("127.0.0.1",)
    assert check_url("http://localhost:8001/", LOCAL, resolve=FakeDNS({"localhost": ["::1"]}))
    assert check_url("https://private.example.com/", LOCAL, resolve=DNS)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://[fe80::1]/",
        "http://meta.example.com/",
        "http://0.0.0.0:8000/",
        "http://[::]:8000/",
        "http://224.0.0.1/",
        "http://[::ffff:169.254.169.254]/",
        "http://2130706433/",
        "gopher://127.0.0.1/",
    ],
)
def test_local_stage_still_refuses_metadata_link_local_and_odd_forms(url):
    with pytest.raises(UrlNotAllowed):
        check_url(url, LOCAL, resolve=DNS)


def test_allowed_host_may_resolve_to_a_private_address_but_needs_https():
    policy = OutboundPolicy(allowed_hosts=frozenset({"internal.corp"}))
    assert check_url("https://internal.corp/", policy, resolve=DNS).addresses == ("172.16.4.4",)
    with pytest.raises(UrlNotAllowed):
        check_url("http://internal.corp/", policy, resolve=DNS)
    with pytest.raises(UrlNotAllowed):
        check_url("https://private.example.com/", policy, resolve=DNS)


def test_allowed_host_never_reaches_metadata():
    dns = FakeDNS({"internal.corp": ["169.254.169.254"]})
    policy = OutboundPolicy(allowed_hosts=frozenset({"internal.corp"}))
    with pytest.raises(UrlNotAllowed, match="non-public"):
        check_url("https://internal.corp/", policy, resolve=dns)
    assert "metadata" in address_problem(
        ipaddress.ip_address("169.254.169.254"), allow_private=True
    )


def test_refusal_messages_say_what_is_wrong():
    with pytest.raises(UrlNotAllowed, match="loopback"):
        check_url("https://127.0.0.1/", PRODUCTION, resolve=DNS)
    with pytest.raises(UrlNotAllowed, match="carrier-grade NAT"):
        check_url("https://100.64.0.1/", PRODUCTION, resolve=DNS)
    with pytest.raises(UrlNotAllowed, match="dotted"):
        check_url("https://0x7f.1/", PRODUCTION, resolve=DNS)
    with pytest.raises(UrlNotAllowed, match="https"):
        check_url("http://partner.example.com/", PRODUCTION, resolve=DNS)


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("8.8.8.8", None),
        ("2001:4860:4860::8888", None),
        ("::ffff:8.8.8.8", None),
        ("127.0.0.1", "loopback"),
        ("::ffff:192.168.0.1", "private"),
        ("2002:c0a8:0101::", "private"),
        ("64:ff9b::0a00:0001", "private"),
        ("64:ff9b:1::0a00:0001", "IPv6 form"),
        ("64:ff9b:1:a00:0:100::", "private"),
        ("64:ff9b:1:808:8:800:808:808", None),
        ("2001::1", "Teredo"),
    ],
)
def test_address_problem(address, problem):
    found = address_problem(ipaddress.ip_address(address))
    if problem is None:
        assert found is None
    else:
        assert problem in found
