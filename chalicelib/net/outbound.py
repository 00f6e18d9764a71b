"""The one chokepoint for HTTP calls to user- or code-supplied URLs.

:class:`GuardedFetcher` asks :func:`chalicelib.net.ssrf.check_url` first, then connects to
exactly the address the guard checked (the request keeps the host name for the ``Host``
header, TLS SNI and certificate checks), never follows redirects, ignores proxy variables
from the environment, uses short timeouts and stops reading after ``max_bytes``.

Everything above it (the peer client) depends on the :class:`Fetcher` protocol only, so
tests replace the network with a transport that routes to an in-process app.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from chalicelib.net.errors import Unreachable
from chalicelib.net.ssrf import OutboundPolicy, Resolver, Target, check_url, system_resolver

if TYPE_CHECKING:
    import requests

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
    ) -> None:
        self.policy = policy
        self.resolve = resolve
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.verify = verify

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
        # requests (and charset_normalizer with it) on the first request, not at import:
        # a function that never calls out does not pay for it (issue 19, cold start)
        import requests

        from chalicelib.net.pinned import PinnedAdapter

        with requests.Session() as session:
            session.trust_env = False  # proxies from the environment would bypass the pinning
            adapter = PinnedAdapter(target)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            try:
                response = session.request(
                    method,
                    url,
                    headers={**(headers or {}), "Host": host_header},
                    data=body,
                    timeout=self.timeout,
                    allow_redirects=False,
                    stream=True,
                    verify=self.verify,
                )
            except requests.RequestException as exc:
                raise Unreachable(f"{target.host} did not answer ({type(exc).__name__}).") from exc
            with response:
                if 300 <= response.status_code < 400:
                    raise Unreachable(
                        f"{target.host} answered with a redirect ({response.status_code}); "
                        "redirects are not followed: use the final URL."
                    )
                content = self._read_capped(response, target)
                return HttpResponse(
                    status=response.status_code,
                    headers={k.lower(): v for k, v in response.headers.items()},
                    body=content,
                )

    def _read_capped(self, response: requests.Response, target: Target) -> bytes:
        import requests

        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise Unreachable(f"{target.host} sent more than {self.max_bytes} bytes.")
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(chunk_size=65_536):
                size += len(chunk)
                if size > self.max_bytes:
                    raise Unreachable(f"{target.host} sent more than {self.max_bytes} bytes.")
                chunks.append(chunk)
        except requests.RequestException as exc:
            raise Unreachable(f"{target.host} broke off its answer.") from exc
        return b"".join(chunks)
