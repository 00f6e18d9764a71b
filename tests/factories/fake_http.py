"""A fake HTTP server at urllib3's transport seam: no socket is ever opened.

What ``responses`` was for requests, in the small part our tests used: register answers
by method and URL (``get``, ``post``, ... with ``json=``, ``body=``, ``status=``,
``headers=``, ``match=``), hand the code under test ``fake.pool()`` (a real urllib3
``PoolManager`` whose connection pools answer from memory, so urllib3's own redirect
handling, the stripping of ``Authorization`` on a cross-host redirect included, runs for
real) or ``fake.pools`` (the guarded fetcher's seam), then read ``fake.calls``.

Answers registered for the same request are served in order, the last one repeatedly; an
exception given as ``body`` is raised as the transport would raise it. A request nothing
matches fails like a refused connection (``NewConnectionError``). As a context manager,
the fake checks on exit that every registered answer was used.
"""

from __future__ import annotations

import io
import json as jsonlib
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple
from urllib.parse import parse_qs, parse_qsl, urlsplit

import urllib3
from urllib3._collections import HTTPHeaderDict  # top-level only in 2.x
from urllib3.exceptions import NewConnectionError

Matcher = Callable[["Request"], bool]


class Request(NamedTuple):
    """One request as the transport saw it."""

    method: str
    url: str
    headers: HTTPHeaderDict
    body: bytes | None
    timeout: Any  # the urllib3.Timeout given
    retries: Any  # the urllib3.Retry (or bool) given

    @property
    def params(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.url).query)


class Call(NamedTuple):
    request: Request
    answer: Answer | None


class Answer:
    """One registered answer and how often it was served."""

    def __init__(
        self,
        method: str,
        url: str,
        *,
        status: int,
        body: bytes | BaseException,
        headers: Mapping[str, str],
        match: tuple[Matcher, ...],
    ) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.body = body
        self.headers = headers
        self.match = match
        self.served = 0

    def matches(self, request: Request) -> bool:
        if request.method != self.method or _place(request.url) != _place(self.url):
            return False
        wanted = urlsplit(self.url).query
        if wanted and parse_qs(wanted) != request.params:
            return False
        return all(matcher(request) for matcher in self.match)


def query_param_matcher(params: Mapping[str, Any], *, strict_match: bool = True) -> Matcher:
    """The request's query has these parameters (``strict_match``: and no others)."""
    expected = {str(k): str(v) for k, v in params.items()}

    def matcher(request: Request) -> bool:
        got = dict(parse_qsl(urlsplit(request.url).query))
        if strict_match:
            return got == expected
        return all(got.get(k) == v for k, v in expected.items())

    return matcher


def _place(url: str) -> tuple[str, str, int, str]:
    parts = urllib3.util.parse_url(url)
    scheme = parts.scheme or "http"
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, (parts.host or "").lower(), port, parts.path or "/"


class FakeHttp:
    """Registered answers, the calls made, and the pools that serve the one from the other."""

    def __init__(self, *, assert_all_fired: bool = True) -> None:
        self.assert_all_fired = assert_all_fired
        self.calls: list[Call] = []
        self._registered: list[Answer] = []
        self._active: list[Answer] = []

    def __enter__(self) -> FakeHttp:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        if kind is None and self.assert_all_fired:
            unused = [f"{a.method} {a.url}" for a in self._registered if not a.served]
            assert not unused, f"registered answers never requested: {unused}"

    # registering ------------------------------------------------------------------------

    def add(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        body: bytes | str | BaseException | None = None,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        content_type: str | None = None,
        match: tuple[Matcher, ...] | list[Matcher] = (),
    ) -> Answer:
        sent_headers = dict(headers or {})
        payload: bytes | BaseException = b""
        if json is not None:
            payload = jsonlib.dumps(json).encode()
            content_type = content_type or "application/json"
        elif isinstance(body, str):
            payload = body.encode()
        elif body is not None:
            payload = body
        if content_type or (payload and not isinstance(payload, BaseException)):
            sent_headers.setdefault("Content-Type", content_type or "text/plain")
        answer = Answer(
            method.upper(),
            url,
            status=status,
            body=payload,
            headers=sent_headers,
            match=tuple(match),
        )
        self._registered.append(answer)
        self._active.append(answer)
        return answer

    def get(self, url: str, **kwargs: Any) -> Answer:
        return self.add("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Answer:
        return self.add("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> Answer:
        return self.add("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Answer:
        return self.add("DELETE", url, **kwargs)

    # the transport ----------------------------------------------------------------------

    def pool(self) -> urllib3.PoolManager:
        """A ``PoolManager`` (the trackers' seam) whose connection pools answer from here."""
        manager = urllib3.PoolManager()
        manager.pool_classes_by_scheme = {
            "http": self._pool_class(urllib3.HTTPConnectionPool),
            "https": self._pool_class(urllib3.HTTPSConnectionPool),
        }
        return manager

    def pools(self, target: Any, *, verify: bool | str = True) -> urllib3.HTTPConnectionPool:
        """The guarded fetcher's seam: a pool for the target's host name (the pinning to its
        checked address is :func:`chalicelib.net.pinned.pinned_pool`'s, tested on its own)."""
        base = (
            urllib3.HTTPSConnectionPool if target.scheme == "https" else urllib3.HTTPConnectionPool
        )
        return self._pool_class(base)(target.host, target.port)

    def _pool_class(self, base: type[urllib3.HTTPConnectionPool]) -> Any:
        fake = self

        class FakePool(base):  # type: ignore[valid-type,misc]
            def urlopen(  # type: ignore[override]
                self,
                method: str,
                url: str,
                body: bytes | None = None,
                headers: Mapping[str, str] | None = None,
                **kw: Any,
            ) -> urllib3.HTTPResponse:
                default = 443 if self.scheme == "https" else 80
                where = self.host if self.port in (None, default) else f"{self.host}:{self.port}"
                full = url if "://" in url else f"{self.scheme}://{where}{url}"
                return fake._answer(method, full, body, headers, kw)

        return FakePool

    def _answer(
        self,
        method: str,
        url: str,
        body: Any,
        headers: Mapping[str, str] | None,
        kw: Mapping[str, Any],
    ) -> urllib3.HTTPResponse:
        if body is not None and not isinstance(body, bytes):
            body = body.encode() if isinstance(body, str) else bytes(body)
        request = Request(
            method.upper(),
            url,
            HTTPHeaderDict(headers or {}),
            body,
            kw.get("timeout"),
            kw.get("retries"),
        )
        found = [a for a in self._active if a.matches(request)]
        if not found:
            self.calls.append(Call(request, None))
            raise NewConnectionError(None, f"no fake answer for {method} {url}")  # type: ignore[arg-type]
        answer = found[0]
        if len(found) > 1:
            self._active.remove(answer)  # served once; the next one answers next time
        answer.served += 1
        self.calls.append(Call(request, answer))
        if isinstance(answer.body, BaseException):
            raise answer.body
        return urllib3.HTTPResponse(
            body=io.BytesIO(answer.body),
            headers=answer.headers,
            status=answer.status,
            preload_content=kw.get("preload_content", True),
            request_method=method,
            request_url=url,
        )
