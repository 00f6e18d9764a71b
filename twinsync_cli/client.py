"""The one request chokepoint of the CLI: a node's admin API over HTTP(S).

Authentication, timeouts, paging and the translation of every failure into a
:mod:`twinsync_cli.errors` error happen here and nowhere else. The CLI never imports the
deployed code (``chalicelib``): it knows the node only through the wire contract.

Lists page as the contract says: a list answer is a JSON array, and while there is more
the answer carries ``Link: <URL>; rel="next"`` (RFC 8288), URL absolute or relative to
the request. The admin token is only ever sent to the profile's own origin: a next link
naming another origin (say the node's public URL while the profile uses an internal
address) is followed by its path and query on the profile's origin.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import requests
from requests.utils import parse_header_links

from twinsync_cli import __version__
from twinsync_cli.config import Profile
from twinsync_cli.errors import CliError, RemoteFailure, for_status, scrub

DEFAULT_TIMEOUT = 30.0
MAX_PAGES = 100_000  # a node that loops its links is stopped, not followed forever

Params = Mapping[str, str | int | None]


def segment(value: str) -> str:
    """One path segment (an id, an issue key), percent-encoded."""
    return quote(value, safe="")


def next_link(header: str | None) -> str | None:
    """The ``rel="next"`` target of a ``Link`` header, as written (maybe relative)."""
    if not header:
        return None
    for link in parse_header_links(header):
        if "next" in str(link.get("rel", "")).lower().split():
            return str(link["url"])
    return None


class Client:
    """A node's admin API with one profile's URL and token."""

    def __init__(
        self,
        profile: Profile,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ) -> None:
        self.profile = profile
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers.update(
            {
                "Authorization": f"Bearer {profile.token}",
                "Accept": "application/json",
                "User-Agent": f"twinsync-cli/{__version__}",
            }
        )

    # --- the chokepoint ------------------------------------------------------------------

    def url(self, path: str) -> str:
        return self.profile.url + path

    def send(
        self,
        method: str,
        url: str,
        *,
        body: Any = None,
        params: Params | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """One request; every failure becomes a ``CliError`` (the token never in it)."""
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        try:
            response = self.session.request(
                method,
                url,
                json=body,
                params=query or None,
                timeout=self.timeout,
                allow_redirects=False,
                stream=stream,
            )
        except requests.RequestException as exc:
            raise self._unreached(url, exc) from None
        if response.status_code >= 300:
            raise self._refusal(response)
        return response

    def call(
        self, method: str, path: str, *, body: Any = None, params: Params | None = None
    ) -> Any:
        """``method path`` → the answer's JSON (``None`` for an empty answer, e.g. 204)."""
        return self.decode(self.send(method, self.url(path), body=body, params=params))

    def get(self, path: str, params: Params | None = None) -> Any:
        return self.call("GET", path, params=params)

    def post(self, path: str, body: Any = None) -> Any:
        return self.call("POST", path, body={} if body is None else body)

    # --- paging --------------------------------------------------------------------------

    def pages(self, path: str, params: Params | None = None) -> Iterator[list[Any]]:
        """Each page of a list, following ``rel="next"`` links until there is none."""
        for response in self._walk(path, params):
            page = self.decode(response)
            if not isinstance(page, list):
                raise RemoteFailure(
                    f"{path} answered {type(page).__name__}, not a list.", code="bad_answer"
                )
            yield page

    def items(self, path: str, params: Params | None = None) -> list[Any]:
        """Every item of a list, all pages."""
        return [item for page in self.pages(path, params) for item in page]

    def lines(self, path: str, params: Params | None = None) -> Iterator[bytes]:
        """The lines of a JSON-lines answer, all pages, streamed as they arrive."""
        for response in self._walk(path, params, stream=True):
            with response:
                try:
                    for line in response.iter_lines():
                        if line.strip():
                            yield line
                except requests.RequestException as exc:
                    raise self._unreached(response.url, exc) from None

    def _walk(
        self, path: str, params: Params | None, *, stream: bool = False
    ) -> Iterator[requests.Response]:
        url: str | None = self.url(path)
        query: Params | None = params
        seen: set[str] = set()
        while url is not None:
            if url in seen or len(seen) >= MAX_PAGES:
                raise RemoteFailure(
                    f"The node's next-page links loop ({path}).", code="paging_loop"
                )
            seen.add(url)
            response = self.send("GET", url, params=query, stream=stream)
            query = None  # a next link carries the whole query (filters, limit, cursor)
            target = next_link(response.headers.get("Link"))
            yield response
            url = self._follow(response.url, target) if target else None

    def _follow(self, current: str, target: str) -> str:
        """The next page's URL on the profile's origin (and under its path prefix, say an
        API Gateway stage, which a path-absolute link from behind the gateway may lack)."""
        resolved = urlsplit(urljoin(current, target))
        base = urlsplit(self.profile.url)
        path, prefix = resolved.path, base.path.rstrip("/")
        if prefix and path != prefix and not path.startswith(prefix + "/"):
            path = prefix + path
        return urlunsplit((base.scheme, base.netloc, path, resolved.query, ""))

    # --- translation ---------------------------------------------------------------------

    def decode(self, response: requests.Response) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise RemoteFailure(
                f"The node's answer to {urlsplit(response.url).path} is not JSON "
                f"(HTTP {response.status_code}, {response.headers.get('Content-Type', '?')}).",
                code="bad_answer",
                status=response.status_code,
            ) from None

    def _refusal(self, response: requests.Response) -> CliError:
        kind = for_status(response.status_code)
        error: Any = None
        try:
            error = response.json().get("error")
        except (ValueError, AttributeError):
            error = None
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return kind(
                scrub(error["message"], self.profile.token),
                code=str(error.get("code") or "") or None,
                field=str(error["field"]) if error.get("field") else None,
                status=response.status_code,
            )
        if 300 <= response.status_code < 400:
            return RemoteFailure(
                f"The node answered with a redirect; check the profile's URL ({self.profile.url}).",
                code="unexpected_redirect",
                status=response.status_code,
            )
        text = re.sub(r"\s+", " ", response.text or "").strip()[:200]
        detail = f": {scrub(text, self.profile.token)}" if text else ""
        return kind(
            f"{urlsplit(response.url).path} answered without the contract's error body{detail}",
            code="http_error",
            status=response.status_code,
        )

    def _unreached(self, url: str, exc: requests.RequestException) -> CliError:
        parts = urlsplit(url)
        where = f"{parts.scheme}://{parts.netloc}"
        if isinstance(exc, requests.ConnectTimeout):
            return RemoteFailure(
                f"Timed out connecting to {where} after {self.timeout:g} s.", code="timeout"
            )
        if isinstance(exc, requests.Timeout):
            return RemoteFailure(
                f"{where} did not answer {parts.path} within {self.timeout:g} s "
                "(--timeout sets the limit).",
                code="timeout",
            )
        if isinstance(exc, requests.ConnectionError):
            reason = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(exc))
            because = f": {reason.group(1).strip()}" if reason else ""
            return RemoteFailure(
                f"Cannot reach {where}{because}. Is the node running, and is the profile's URL "
                "right?",
                code="unreachable",
            )
        return RemoteFailure(
            f"The request to {where} failed ({type(exc).__name__}).", code="request_failed"
        )
