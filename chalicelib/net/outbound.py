"""The one chokepoint for HTTP calls to user- or code-supplied URLs.

:class:`GuardedFetcher` asks :func:`chalicelib.net.ssrf.check_url` first, then connects to
exactly the address the guard checked (the request keeps the host name for the ``Host``
header, TLS SNI and certificate checks), never follows redirects, ignores proxy variables
from the environment, uses short timeouts and stops reading after ``max_bytes``.

Everything above it (the peer client) depends on the :class:`Fetcher` protocol only, so
tests replace the network with a transport that routes to an in-process app. The fetcher's
own transport is a urllib3 connection pool on the checked address
(:func:`chalicelib.net.pinned.pinned_pool`, or ``pools`` in tests); urllib3 is already
loaded by botocore, so calling out costs a function's cold start no HTTP library.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import msgspec

from chalicelib.net.errors import Unreachable
from chalicelib.net.ssrf import OutboundPolicy, Resolver, Target, check_url, system_resolver

if TYPE_CHECKING:
    import urllib3

    Pools = Callable[..., urllib3.HTTPConnectionPool]

CONNECT_TIMEOUT = 3.05
READ_TIMEOUT = 10.0
MAX_RESPONSE_BYTES = 1_048_576


class HttpResponse(msgspec.Struct, frozen=True):
    """An answer, read completely (and within the size cap)."""

    status: int
    headers: Mapping[str, str] = msgspec.field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        """The body as JSON; :class:`ValueError` if it is not."""
        return json.loads(self.body.decode("utf-8"))


class Fetcher(Protocol):
    """Sends one request; raises ``UrlNotAllowed`` or ``Unreachable``, never follows redirects."""

    def __call__(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> HttpResponse: ...


class GuardedFetcher:
    """A :class:`Fetcher` for URLs nobody on this node vouches for."""

    def __init__(
        self,
        policy: OutboundPolicy,
        *,
        resolve: Resolver = system_resolver,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
        max_bytes: int = MAX_RESPONSE_BYTES,
        verify: bool | str = True,
        pools: Pools | None = None,
    ) -> None:
        """``pools(target, verify=...)`` gives the connection pool for a checked target
        (default :func:`chalicelib.net.pinned.pinned_pool`; tests answer from memory)."""
        self.policy = policy
        self.resolve = resolve
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.verify = verify
        self.pools = pools

    def __call__(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> HttpResponse:
        target = check_url(url, self.policy, resolve=self.resolve)
        default_port = 443 if target.scheme == "https" else 80
        host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
        if ":" in target.host:  # an IPv6 literal
            host_header = f"[{target.host}]:{target.port}"
        # the connection code on the first request, not at import: a function that never
        # calls out does not load it (issue 19, cold start)
        import urllib3
        from urllib3.exceptions import HTTPError

        from chalicelib.net.pinned import pinned_pool

        pools = self.pools or pinned_pool
        parts = urlsplit(url)
        where = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connect, read = self.timeout
        pool = pools(target, verify=self.verify)
        try:
            try:
                response = pool.urlopen(
                    method,
                    where,
                    body=body,
                    headers={"Accept": "*/*", **(headers or {}), "Host": host_header},
                    timeout=urllib3.Timeout(connect=connect, read=read),
                    retries=False,
                    redirect=False,
                    preload_content=False,
                )
            except (HTTPError, OSError) as exc:
                raise Unreachable(f"{target.host} did not answer ({type(exc).__name__}).") from exc
            try:
                if 300 <= response.status < 400:
                    raise Unreachable(
                        f"{target.host} answered with a redirect ({response.status}); "
                        "redirects are not followed: use the final URL."
                    )
                content = self._read_capped(response, target)
                return HttpResponse(
                    status=response.status,
                    headers={k.lower(): v for k, v in response.headers.itermerged()},
                    body=content,
                )
            finally:
                response.release_conn()
        finally:
            pool.close()

    def _read_capped(self, response: urllib3.BaseHTTPResponse, target: Target) -> bytes:
        from urllib3.exceptions import HTTPError

        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise Unreachable(f"{target.host} sent more than {self.max_bytes} bytes.")
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.stream(65_536):
                size += len(chunk)
                if size > self.max_bytes:
                    raise Unreachable(f"{target.host} sent more than {self.max_bytes} bytes.")
                chunks.append(chunk)
        except (HTTPError, OSError) as exc:
            raise Unreachable(f"{target.host} broke off its answer.") from exc
        return b"".join(chunks)
