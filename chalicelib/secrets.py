"""The node's secrets from AWS Secrets Manager, read once per container, never logged.

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
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from chalicelib.config import ConfigError

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
        import boto3  # lazily: only deployed stages with a secret pay for the client

        client = boto3.client("secretsmanager")
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


@lru_cache(maxsize=4)
def secret_environment(secret_id: str) -> Mapping[str, str]:
    """The secret's variables, fetched once per container (cold start) and then cached."""
    return fetch_secret(secret_id)


def reset() -> None:
    """Forget the cached secret (tests, or a rotation handled by a fresh container)."""
    secret_environment.cache_clear()
