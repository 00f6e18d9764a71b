"""The one HTTP chokepoint of a Jira tracker: auth, timeouts, JSON and typed errors.

Every request a Jira adapter makes goes through ``JiraHttp.request``. It owns one urllib3
``PoolManager`` (connection reuse; urllib3 is what botocore already loaded, so a tracker
costs a function's cold start no HTTP library of its own), sends credentials, applies
connect/read timeouts, verifies TLS against the CA bundle botocore uses, follows redirects
(dropping ``Authorization`` when one leads to another host) and turns every failure into
the typed errors of ``base``:

    401, 403                      PermissionDenied
    404                           NotFound
    413                           TooLarge
    429                           RateLimited(retry_after from Retry-After, default 10 s)
    5xx, timeout, connection      Unavailable
    other 4xx                     InvalidRequest (Jira's errorMessages / errors kept)
    any other transport failure   TrackerError

It never retries: the queue layer owns retries and backoff, so a failed call is reported
once and fast. Credentials live only in the auth object; nothing here logs headers, and
``repr`` of the auth objects hides the secret. Written for urllib3 1.26 and 2.x alike (the
Lambda runtime brings its own with botocore): no ``json=``, no ``response.json()``.
"""

from __future__ import annotations

import base64
import email.utils
import json as jsonlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

import msgspec
import urllib3
from urllib3.exceptions import (
    HTTPError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ResponseError,
    SSLError,
)
from urllib3.exceptions import TimeoutError as TransportTimeout

from chalicelib.observability import metrics
from chalicelib.trackers.base import (
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    TooLarge,
    TrackerError,
    Unavailable,
)

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 3.05
READ_TIMEOUT = 20.0
DEFAULT_RETRY_AFTER = 10.0
USER_AGENT = "twinsync/0.1 (+jira adapter)"


MAX_REDIRECTS = 5
POOL_SIZE = 10
# No retries (the queue layer owns them): a connection or read failure is raised at once
# (False), any other fails the first time (0); redirects followed, as requests followed them.
# Not total=False: that would turn redirects off too.
NO_RETRIES = urllib3.Retry(
    total=None, connect=False, read=False, status=0, other=0, redirect=MAX_REDIRECTS
)


class Auth(Protocol):
    """Credentials for one tracker: the ``Authorization`` header they send."""

    def authorization(self) -> str: ...


class BearerAuth:
    """``Authorization: Bearer <token>`` (Jira Server/DC personal access tokens)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def authorization(self) -> str:
        return f"Bearer {self._token}"

    def __repr__(self) -> str:
        return "BearerAuth(token=***)"


class BasicAuth:
    """HTTP basic auth whose ``repr`` never shows the password or API token."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self._password = password

    def authorization(self) -> str:
        # latin-1, as requests encoded it (e-mail addresses and API tokens are ASCII)
        pair = f"{self.username}:{self._password}".encode("latin-1")
        return "Basic " + base64.b64encode(pair).decode("ascii")

    def __repr__(self) -> str:
        return f"BasicAuth(username={self.username!r}, password=***)"


def cloud_auth(email_address: str, api_token: str) -> Auth:
    """Jira Cloud: basic auth with the account's e-mail address and an API token."""
    return BasicAuth(email_address, api_token)


def server_auth(token: str, user: str | None = None) -> Auth:
    """Jira Server/DC: a personal access token (bearer), or basic auth when a user is given."""
    if user:
        return BasicAuth(user, token)
    return BearerAuth(token)


class JiraResponse(msgspec.Struct, frozen=True):
    """A Jira answer, read completely: what the adapters and the error mapping need.

    ``headers`` is urllib3's case-insensitive mapping; ``url`` is the URL asked for (a
    redirect's target is not kept: error messages name the request).
    """

    status_code: int
    headers: Mapping[str, str]
    content: bytes
    method: str
    url: str

    def json(self) -> Any:
        """The body as JSON; :class:`ValueError` if it is not."""
        return jsonlib.loads(self.content)


def encode_params(params: Mapping[str, Any]) -> str:
    """A query string as requests wrote it: a list gives the key once per item, ``None``
    leaves the key out, other values are ``str``-ed; spaces as ``+``."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        for item in value if isinstance(value, list | tuple) else (value,):
            if item is not None:
                pairs.append((str(key), str(item)))
    return urlencode(pairs)


def default_pool() -> urllib3.PoolManager:
    """Connections verified against the CA bundle botocore uses (certifi's when installed,
    else botocore's own): the same trust as the node's AWS calls. Proxy variables from the
    environment are not read (a plain ``PoolManager`` never does)."""
    from botocore.httpsession import get_cert_path

    # up to 10 kept connections per host, as requests kept (a private node's followers
    # share one tracker across threads); more are opened when needed, not waited for
    return urllib3.PoolManager(
        maxsize=POOL_SIZE, block=False, cert_reqs="CERT_REQUIRED", ca_certs=get_cert_path(True)
    )


def parse_retry_after(value: str | None, *, now: float | None = None) -> float:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date.

    Absent or unreadable values give ``DEFAULT_RETRY_AFTER``; a date in the past gives 0.
    """
    if value is None or not value.strip():
        return DEFAULT_RETRY_AFTER
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return DEFAULT_RETRY_AFTER
    if when is None:  # pragma: no cover - older Pythons returned None
        return DEFAULT_RETRY_AFTER
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def jira_messages(payload: Any) -> tuple[tuple[str, ...], dict[str, str]]:
    """Jira's ``ErrorCollection``: (errorMessages, errors by field); tolerant of odd bodies."""
    if not isinstance(payload, Mapping):
        return (), {}
    raw_messages = payload.get("errorMessages") or ()
    messages = tuple(str(m) for m in raw_messages if m) if isinstance(raw_messages, list) else ()
    raw_errors = payload.get("errors") or {}
    errors = (
        {str(k): str(v) for k, v in raw_errors.items()} if isinstance(raw_errors, Mapping) else {}
    )
    if not messages and not errors and isinstance(payload.get("message"), str):
        messages = (payload["message"],)  # some gateways answer {"message": ...}
    return messages, errors


def _summary(messages: tuple[str, ...], errors: Mapping[str, str], fallback: str) -> str:
    parts = [*messages, *(f"{name}: {text}" for name, text in errors.items())]
    return "; ".join(parts) if parts else fallback


def error_for_response(response: JiraResponse, *, now: float | None = None) -> TrackerError:
    """The typed error for a non-2xx Jira response (pure: reads status, headers, body)."""
    status = response.status_code
    try:
        payload = response.json()
    except ValueError:
        payload = None
    messages, errors = jira_messages(payload)
    where = f"{response.method} {_path(response.url)}"
    text = _summary(messages, errors, f"Jira answered HTTP {status} to {where}")
    if status in (401, 403):
        return PermissionDenied(text, status=status)
    if status == 404:
        return NotFound(text, status=status)
    if status == 413:
        return TooLarge(text, status=status)
    if status == 429:
        reason = response.headers.get("RateLimit-Reason")
        delay = parse_retry_after(response.headers.get("Retry-After"), now=now)
        message = f"{text} (rate limited: {reason})" if reason else text
        return RateLimited(message, retry_after=delay, status=status)
    if status >= 500:
        retry_after = response.headers.get("Retry-After")
        later = parse_retry_after(retry_after, now=now) if retry_after else None
        return Unavailable(text, status=status, retry_after=later)
    return InvalidRequest(text, field_errors=errors, error_messages=messages, status=status)


def _transport_error(exc: HTTPError, what: str) -> TrackerError:
    """The typed error for a request that got no answer (urllib3 1.26 and 2.x alike).

    A connection, TLS or read failure is ``Unavailable`` (requests' ``ConnectionError`` and
    ``Timeout`` covered the same); too many redirects or anything else is a ``TrackerError``.
    """
    cause = exc.reason if isinstance(exc, MaxRetryError) and exc.reason is not None else exc
    if isinstance(cause, ResponseError):  # the only one NO_RETRIES lets run out
        return TrackerError(f"Jira redirected {what} too often")
    # NewConnectionError subclasses ConnectTimeoutError (1.26 and 2.x): test it first
    if isinstance(cause, NewConnectionError | ProtocolError | SSLError | ProxyError):
        return Unavailable(f"could not connect to Jira for {what}")
    if isinstance(cause, TransportTimeout):
        return Unavailable(f"Jira did not answer {what} in time")
    return TrackerError(f"could not send {what}: {type(cause).__name__}")


def _path(url: str | None) -> str:
    """The path of a URL without the query (which may carry JQL but never secrets)."""
    if not url:
        return ""
    return urlsplit(url).path


class JiraHttp:
    """One tracker's HTTP client: a connection pool, a base URL, credentials and timeouts.

    ``pool`` replaces the transport (tests: a ``PoolManager`` whose connection pools answer
    from memory); by default each client has its own.
    """

    def __init__(
        self,
        base_url: str,
        auth: Auth,
        *,
        pool: urllib3.PoolManager | None = None,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._clock = clock
        self.auth = auth
        self.pool = pool if pool is not None else default_pool()
        # gzip as requests asked for it (search pages are large); urllib3 decodes it
        self.headers = {
            "Accept": "application/json",
            "Accept-Encoding": "gzip, deflate",
            "User-Agent": USER_AGENT,
        }

    def url(self, path: str) -> str:
        """An absolute URL on this tracker for a path that starts with ``/``."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}{path}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        files: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> JiraResponse:
        """Send one request and return the 2xx response, or raise a typed ``TrackerError``.

        ``json``: a body sent as JSON; ``files``: a multipart body, each value a
        ``(filename, bytes, content type)`` tuple.
        """
        url = self.url(path)
        if params:
            url = f"{url}{'&' if '?' in url else '?'}{encode_params(params)}"
        sent = {**self.headers, "Authorization": self.auth.authorization(), **(headers or {})}
        body: bytes | None = None
        if json is not None:
            try:
                body = jsonlib.dumps(json, allow_nan=False).encode("utf-8")
            except (TypeError, ValueError) as exc:
                raise TrackerError(f"could not send {method} {_path(url)}: {exc}") from exc
            sent["Content-Type"] = "application/json"
        if files is not None:
            body, sent["Content-Type"] = urllib3.encode_multipart_formdata(dict(files))
        started = self._clock()
        metrics.add(metrics.TRACKER_CALLS)
        response = self._send(method, url, body, sent)
        log.debug(
            "jira %s %s -> %s in %.3fs",
            method,
            _path(url),
            response.status_code,
            self._clock() - started,
        )
        if response.status_code >= 400:
            if response.status_code == 429:
                metrics.add(metrics.TRACKER_THROTTLED)
            raise error_for_response(response, now=self._clock())
        return response

    def _send(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str]
    ) -> JiraResponse:
        """One exchange (redirects followed), every transport failure as a typed error."""
        connect, read = self.timeout
        try:
            answer = self.pool.urlopen(
                method,
                url,
                body=body,
                headers=headers,
                timeout=urllib3.Timeout(connect=connect, read=read),
                retries=NO_RETRIES,
                redirect=True,
                preload_content=True,
            )
        except HTTPError as exc:
            raise _transport_error(exc, f"{method} {_path(url)}") from exc
        return JiraResponse(answer.status, answer.headers, answer.data or b"", method, url)

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """``request`` and decode the JSON answer (``None`` for an empty body, e.g. 204)."""
        response = self.request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise TrackerError(
                f"Jira answered {method} {_path(response.url)} with something that is not JSON "
                "(is the tracker URL right?)",
                status=response.status_code,
            ) from exc

    def close(self) -> None:
        self.pool.clear()
