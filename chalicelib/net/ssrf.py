"""The outbound guard: may this node call a URL that a user or an invitation code supplied?

One function, :func:`check_url`, decides before any connection is opened, and returns the
exact addresses that were checked so the caller connects to those and nothing else (a
second DNS answer cannot swap in an internal address: no DNS rebinding).

The rules (production):

- ``https`` only; no user info (``user@host``), no backslashes, whitespace or control
  characters, ASCII host names only (IDNs must be given in punycode), at most 2048 chars.
- An IPv4 literal must be a plain dotted quad: decimal (``2130706433``), octal
  (``0177.0.0.1``), hexadecimal (``0x7f.1``) and short (``127.1``) forms are refused outright,
  because resolvers and HTTP libraries disagree on what they mean.
- The host is resolved and *every* address must be public. Refused: loopback, RFC 1918 and
  other private or reserved ranges, CGNAT ``100.64.0.0/10``, link-local, multicast,
  unspecified, cloud metadata addresses, IPv6 unique-local and site-local, and IPv6 forms
  that embed an IPv4 address (IPv4-mapped, IPv4-compatible, 6to4, NAT64) when the embedded
  address is refused; Teredo is refused. The local-use NAT64 prefix ``64:ff9b:1::/48``
  (RFC 8215) may be used with any RFC 6052 prefix length inside it, so an address there is
  read in each layout (/48, /56, /64, /96) and refused when any reading is refused.

A refusal of a host *name* says only that it points to a non-public address, never which
address (or which kind): the answer would otherwise tell a caller what an internal name
resolves to (an internal-DNS oracle). The details go to this node's log. A refused address
*literal* is named, since the caller wrote it.

What a stage may relax (both come from :class:`chalicelib.config.Settings`):

- ``allow_private_urls`` (local runs): ``http`` is accepted and loopback/private/CGNAT
  addresses are allowed.
- ``allowed_hosts``: these exact host names may resolve to private/loopback/CGNAT addresses
  (a partner inside the same private network); they still need ``https`` unless
  ``allow_private_urls`` is set.

Never relaxed: link-local (which includes the 169.254.169.254 metadata service), the other
metadata addresses, unspecified, multicast, broadcast and reserved addresses.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
from collections.abc import Callable, Sequence
from urllib.parse import SplitResult, urlsplit

import msgspec

from chalicelib.config import Settings
from chalicelib.net.errors import Unreachable, UrlNotAllowed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]

log = logging.getLogger("twinsync.outbound")

MAX_URL_LENGTH = 2048

_METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack instance metadata
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.169.253",  # AWS DNS
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "100.100.100.200",  # Alibaba Cloud metadata
        "192.0.0.192",  # Oracle Cloud metadata
    )
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_NAT64_LOCAL_LAYOUTS = (48, 56, 64, 96)  # RFC 6052 prefix lengths that fit inside the /48
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME_RE = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_DOTTED_QUAD_RE = re.compile(rf"^{_OCTET}(?:\.{_OCTET}){{3}}$")
_NUMERIC_LABEL_RE = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_FORBIDDEN_CHARS_RE = re.compile(r"[\s\\\x00-\x1f\x7f]")


class OutboundPolicy(msgspec.Struct, frozen=True):
    """What this stage lets outbound calls reach."""

    allow_private: bool = False
    allowed_hosts: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings) -> OutboundPolicy:
        return cls(
            allow_private=settings.allow_private_urls,
            allowed_hosts=frozenset(h.lower().rstrip(".") for h in settings.allowed_hosts),
        )

    @property
    def schemes(self) -> tuple[str, ...]:
        return ("https", "http") if self.allow_private else ("https",)


class Target(msgspec.Struct, frozen=True):
    """A URL the guard accepted, with the addresses it checked (connect only to these)."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host`` (TCP)."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unreachable(f"The host {host!r} could not be resolved.") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_url(url: str, policy: OutboundPolicy, *, resolve: Resolver = system_resolver) -> Target:
    """Accept ``url`` for an outbound call, or raise :class:`UrlNotAllowed` saying why.

    Raises :class:`Unreachable` when the host does not resolve.
    """
    parts = _split(url, policy)
    host = (parts.hostname or "").rstrip(".")
    port = _port(parts)
    literal = _ip_literal(parts, host)
    relaxed = policy.allow_private or host in policy.allowed_hosts
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        if not _HOSTNAME_RE.match(host):
            raise UrlNotAllowed(f"The host name {host!r} is not a valid DNS name.")
        if (host == "localhost" or host.endswith(".localhost")) and not policy.allow_private:
            raise UrlNotAllowed("URLs on localhost are not allowed.")
        addresses = [_parse_resolved(a) for a in resolve(host, port)]
        if not addresses:
            raise Unreachable(f"The host {host!r} has no address.")
    for address in addresses:
        problem = address_problem(address, allow_private=relaxed)
        if not problem:
            continue
        if literal is not None:
            raise UrlNotAllowed(f"The URL's host {host!r} is {problem}.")
        log.info("outbound call refused: %s resolves to %s (%s)", host, address, problem)
        raise UrlNotAllowed(f"The URL's host {host!r} points to a non-public address.")
    return Target(
        url=url,
        scheme=parts.scheme.lower(),
        host=host,
        port=port,
        addresses=tuple(str(a) for a in addresses),
    )


def address_problem(address: IPAddress, *, allow_private: bool = False) -> str | None:
    """Why ``address`` may not be called (a short phrase), or ``None`` when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded == "teredo":
            return "a Teredo tunnel address"
        if isinstance(embedded, tuple):  # allowed only when every reading is allowed
            for inner_address in embedded:
                inner = address_problem(inner_address, allow_private=allow_private)
                if inner:
                    return f"an IPv6 form of {inner}"
            return None
    return _never_allowed(address) or (None if allow_private else _private(address))


def _never_allowed(address: IPAddress) -> str | None:
    if address in _METADATA:
        return "a cloud metadata address"
    if address.is_unspecified or (address.version == 4 and address in _THIS_NETWORK):
        return "an unspecified address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.version == 4 and int(address) == 0xFFFFFFFF:
        return "the broadcast address"
    if address.is_reserved and not address.is_loopback:
        return "a reserved address"
    return None


def _private(address: IPAddress) -> str | None:
    if address.is_loopback:
        return "a loopback address"
    if address.version == 4 and address in _CGNAT:
        return "a carrier-grade NAT address"
    if address.version == 6 and address in _SITE_LOCAL:
        return "a site-local address"
    if address.is_private or not address.is_global:
        return "a private address"
    return None


def _embedded_ipv4(
    address: ipaddress.IPv6Address,
) -> tuple[ipaddress.IPv4Address, ...] | str | None:
    """The IPv4 address(es) an IPv6 form may stand for, ``"teredo"``, or ``None``."""
    if address.ipv4_mapped is not None:
        return (address.ipv4_mapped,)
    if address.teredo is not None:
        return "teredo"
    if address.sixtofour is not None:
        return (address.sixtofour,)
    if address in _NAT64:
        return (_rfc6052_ipv4(address, 96),)
    if address in _NAT64_LOCAL:
        return tuple(_rfc6052_ipv4(address, length) for length in _NAT64_LOCAL_LAYOUTS)
    if address in _IPV4_COMPATIBLE and int(address) > 1:
        return (ipaddress.IPv4Address(int(address) & 0xFFFFFFFF),)
    return None


def _rfc6052_ipv4(address: ipaddress.IPv6Address, prefix_length: int) -> ipaddress.IPv4Address:
    """The IPv4 address embedded after a NAT64 prefix of ``prefix_length`` bits (RFC 6052 2.2).

    The 32 bits follow the prefix but skip bits 64-71 (the "u" octet): for a /48 they are
    bits 48-63 and 72-87; for a /96, the last 32 bits.
    """
    octets = address.packed
    if prefix_length < 96:
        octets = octets[:8] + octets[9:]  # drop the u octet
    start = prefix_length // 8
    return ipaddress.IPv4Address(octets[start : start + 4])


def _split(url: object, policy: OutboundPolicy) -> SplitResult:
    if not isinstance(url, str) or not url:
        raise UrlNotAllowed("The URL must be a non-empty string.")
    if len(url) > MAX_URL_LENGTH:
        raise UrlNotAllowed(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    if _FORBIDDEN_CHARS_RE.search(url):
        raise UrlNotAllowed("The URL contains whitespace, a backslash or a control character.")
    if not url.isascii():
        raise UrlNotAllowed("The URL must be ASCII (write international host names in punycode).")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise UrlNotAllowed(f"The URL cannot be parsed: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in policy.schemes:
        allowed = " or ".join(policy.schemes)
        raise UrlNotAllowed(f"The URL must start with {allowed}://, not {scheme or 'nothing'}.")
    if "@" in parts.netloc:
        raise UrlNotAllowed("The URL must not contain a user name or password.")
    if not parts.hostname:
        raise UrlNotAllowed("The URL has no host.")
    return parts


def _port(parts: SplitResult) -> int:
    try:
        port = parts.port
    except ValueError as exc:
        raise UrlNotAllowed("The URL's port is not a number between 1 and 65535.") from exc
    if port == 0:
        raise UrlNotAllowed("The URL's port is not a number between 1 and 65535.")
    return port or (443 if parts.scheme.lower() == "https" else 80)


def _ip_literal(parts: SplitResult, host: str) -> IPAddress | None:
    """The address written in the URL, if the host is one; odd IPv4 forms are refused."""
    if parts.netloc.startswith("["):
        if "%" in host:
            raise UrlNotAllowed("IPv6 zone identifiers are not allowed in URLs.")
        try:
            return ipaddress.IPv6Address(host)
        except ValueError as exc:
            raise UrlNotAllowed(f"{host!r} is not a valid IPv6 address.") from exc
    # No top-level domain is numeric, so a numeric last label means "an IPv4 address".
    if _NUMERIC_LABEL_RE.match(host.rsplit(".", 1)[-1]):
        if not _DOTTED_QUAD_RE.match(host):
            raise UrlNotAllowed(
                f"{host!r} is not a plain dotted IPv4 address (like 203.0.113.7); "
                "decimal, octal, hexadecimal and short forms are not accepted."
            )
        return ipaddress.IPv4Address(host)
    return None


def _parse_resolved(value: str) -> IPAddress:
    try:
        return ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError as exc:
        raise UrlNotAllowed(f"The resolver returned an invalid address {value!r}.") from exc
