"""The one HTTP chokepoint of a Jira tracker: auth, timeouts, JSON and typed errors.

Every request a Jira adapter makes goes through ``JiraHttp.request``. It owns one
``requests.Session`` (connection reuse), sends credentials, applies connect/read timeouts
and turns every failure into the typed errors of ``base``:

    401, 403                      PermissionDenied
    404                           NotFound
    413                           TooLarge
    429                           RateLimited(retry_after from Retry-After, default 10 s)
    5xx, timeout, connection      Unavailable
    other 4xx                     InvalidRequest (Jira's errorMessages / errors kept)

It never retries: the queue layer owns retries and backoff, so a failed call is reported
once and fast. Credentials live only in the session's auth object; nothing here logs
headers, and ``repr`` of the auth objects hides the secret.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.auth import AuthBase, HTTPBasicAuth

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


class BearerAuth(AuthBase):
    """``Authorization: Bearer <token>`` (Jira Server/DC personal access tokens)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self._token}"
        return r

    def __repr__(self) -> str:
        return "BearerAuth(token=***)"


class BasicAuth(HTTPBasicAuth):
    """HTTP basic auth whose ``repr`` never shows the password or API token."""

    def __repr__(self) -> str:
        return f"BasicAuth(username={self.username!r}, password=***)"


def cloud_auth(email_address: str, api_token: str) -> AuthBase:
    """Jira Cloud: basic auth with the account's e-mail address and an API token."""
    return BasicAuth(email_address, api_token)


def server_auth(token: str, user: str | None = None) -> AuthBase:
    """Jira Server/DC: a personal access token (bearer), or basic auth when a user is given."""
    if user:
        return BasicAuth(user, token)
    return BearerAuth(token)


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


def error_for_response(response: requests.Response, *, now: float | None = None) -> TrackerError:
    """The typed error for a non-2xx Jira response (pure: reads status, headers, body)."""
    status = response.status_code
    try:
        payload = response.json()
    except ValueError:
        payload = None
    messages, errors = jira_messages(payload)
    where = f"{response.request.method} {_path(response.url)}" if response.request else "request"
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


def _path(url: str | None) -> str:
    """The path of a URL without the query (which may carry JQL but never secrets)."""
    if not url:
        return ""
    return urlsplit(url).path


class JiraHttp:
    """One tracker's HTTP client: a session, a base URL, credentials and timeouts."""

    def __init__(
        self,
        base_url: str,
        auth: AuthBase,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._clock = clock
        self.session = session if session is not None else requests.Session()
        self.session.auth = auth
        self.session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})

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
    ) -> requests.Response:
        """Send one request and return the 2xx response, or raise a typed ``TrackerError``."""
        url = self.url(path)
        kwargs: dict[str, Any] = {"params": params, "headers": headers, "timeout": self.timeout}
        if json is not None:
            kwargs["json"] = json
        if files is not None:
            kwargs["files"] = files
        started = self._clock()
        metrics.add(metrics.TRACKER_CALLS)
        try:
            response = self.session.request(method, url, **kwargs)
        except requests.Timeout as exc:
            raise Unavailable(f"Jira did not answer {method} {_path(url)} in time") from exc
        except requests.ConnectionError as exc:
            raise Unavailable(f"could not connect to Jira for {method} {_path(url)}") from exc
        except requests.RequestException as exc:
            raise TrackerError(f"could not send {method} {_path(url)}: {exc}") from exc
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
        self.session.close()
