"""The node's secrets from AWS Secrets Manager, cached for a few minutes, never logged.

A deployed stage sets ``TWINSYNC_SECRETS_ID`` to the name of one JSON secret::

    {"admin_token_sha256": "<64 hex>", "tracker_token": "...", "webhook_secret": "..."}

:func:`secret_environment` turns it into the ``TWINSYNC_*`` variables those keys stand
for, and ``chalicelib.config`` lays them over the environment. Local runs have no secret
id and keep the values in their environment. Every error names the secret and what is
wrong with it, never a value.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from chalicelib.config import ConfigError

log = logging.getLogger("twinsync.secrets")

# Secret key -> the setting's environment variable (same validation as locally).
SECRET_KEYS = {
    "admin_token_sha256": "TWINSYNC_ADMIN_TOKEN_SHA256",
    "tracker_token": "TWINSYNC_TRACKER_TOKEN",
    "webhook_secret": "TWINSYNC_WEBHOOK_SECRET",
}


class SecretsError(ConfigError):
    """The stage's secret cannot be read or is not the expected JSON object."""

    def __init__(self, secret_id: str, problem: str) -> None:
        super().__init__([f"TWINSYNC_SECRETS_ID {secret_id!r}: {problem}"])


def parse_secret(secret_id: str, secret_string: str) -> dict[str, str]:
    """The known keys of the secret as ``{variable: value}``; unknown keys are refused."""
    try:
        data = json.loads(secret_string)
    except ValueError:
        raise SecretsError(secret_id, "the secret is not valid JSON") from None
    if not isinstance(data, dict):
        raise SecretsError(secret_id, "the secret must be a JSON object")
    unknown = sorted(set(data) - set(SECRET_KEYS))
    if unknown:
        raise SecretsError(
            secret_id,
            f"unknown keys {', '.join(unknown)} (expected {', '.join(sorted(SECRET_KEYS))})",
        )
    bad = sorted(k for k, v in data.items() if not isinstance(v, str))
    if bad:
        raise SecretsError(secret_id, f"values of {', '.join(bad)} must be strings")
    return {SECRET_KEYS[key]: value for key, value in data.items() if value}


@contextmanager
def _quiet_wire_logs() -> Iterator[None]:
    """botocore logs every response body at DEBUG: keep the secret out of the logs."""
    wire = logging.getLogger("botocore.parsers")
    previous = wire.disabled
    wire.disabled = True
    try:
        yield
    finally:
        wire.disabled = previous


def fetch_secret(secret_id: str, *, client: Any = None) -> dict[str, str]:
    """Read and parse the secret (one ``GetSecretValue`` call)."""
    if client is None:
        from chalicelib import aws_clients  # only stages with a secret pay for the client

        client = aws_clients.client("secretsmanager")
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        with _quiet_wire_logs():
            response = client.get_secret_value(SecretId=secret_id)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "unknown")
        raise SecretsError(secret_id, f"cannot be read ({code})") from exc
    except BotoCoreError as exc:
        raise SecretsError(secret_id, f"cannot be read ({type(exc).__name__})") from exc
    if "SecretString" not in response:
        raise SecretsError(secret_id, "the secret must be a string (JSON), not binary")
    return parse_secret(secret_id, response["SecretString"])


SECRET_TTL_S = 300.0
"""How long a container trusts the secret it read: a rotation reaches warm containers
within this time, without a redeploy. Each container pays one GetSecretValue per period
(about 8,800 a month: $0.05 per 10,000 calls)."""


class SecretCache:
    """Secrets by id, read again after ``ttl_s``; a failed re-read keeps the last good value.

    Secrets Manager's rotation keeps the previous version valid for a while (AWSPREVIOUS),
    so a container that fails to re-read (throttled, a network blip) goes on with what it
    has, logs it, and tries again at the next call, instead of failing every request.
    """

    def __init__(
        self,
        *,
        ttl_s: float = SECRET_TTL_S,
        fetch: Callable[[str], dict[str, str]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self._fetch = fetch
        self._clock = clock
        self._values: dict[str, tuple[float, Mapping[str, str]]] = {}

    def get(self, secret_id: str) -> Mapping[str, str]:
        now = self._clock()
        cached = self._values.get(secret_id)
        if cached is not None and now - cached[0] < self.ttl_s:
            return cached[1]
        try:
            value = (self._fetch or fetch_secret)(secret_id)
        except SecretsError:
            if cached is None:
                raise
            log.warning("secret %s could not be re-read; keeping the last good values", secret_id)
            self._values[secret_id] = (now, cached[1])
            return cached[1]
        self._values[secret_id] = (now, value)
        return value

    def clear(self) -> None:
        self._values.clear()


cache = SecretCache()


def secret_environment(secret_id: str) -> Mapping[str, str]:
    """The secret's variables: read at cold start, then again every ``SECRET_TTL_S``."""
    return cache.get(secret_id)


def reset() -> None:
    """Forget the cached secret (tests; a fresh container starts empty anyway)."""
    cache.clear()
