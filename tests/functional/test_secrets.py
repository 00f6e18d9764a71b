"""Secrets Manager feeds the node's secrets into its settings (moto in-process)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator

import boto3
import pytest

from chalicelib import config, secrets
from chalicelib.config import ConfigError
from chalicelib.root import WIRE_LOGGERS
from chalicelib.secrets import SecretsError, parse_secret
from tests.conftest import node_env

SECRET_ID = "twinsync/node-a"
TRACKER_TOKEN = "tracker-token-from-secrets-manager"
WEBHOOK = "webhook-secret-from-secrets-manager"
ADMIN_HASH = hashlib.sha256(b"admin-token-from-secrets-manager").hexdigest()
SECRET = {
    "admin_token_sha256": ADMIN_HASH,
    "tracker_token": TRACKER_TOKEN,
    "webhook_secret": WEBHOOK,
}


@pytest.fixture
def deployed_env(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A deployed stage's environment: resource names and a secret id, no secret values."""
    env = node_env(
        TWINSYNC_ADMIN_TOKEN=None,
        TWINSYNC_TRACKER_TOKEN=None,
        TWINSYNC_WEBHOOK_SECRET=None,
        TWINSYNC_SECRETS_ID=SECRET_ID,
    )
    for key in ("TWINSYNC_ADMIN_TOKEN", "TWINSYNC_TRACKER_TOKEN", "TWINSYNC_WEBHOOK_SECRET"):
        monkeypatch.delenv(key, raising=False)
    for key, value in {**env, **aws}.items():
        monkeypatch.setenv(key, value)
    config.get_settings.cache_clear()
    secrets.reset()
    yield
    config.get_settings.cache_clear()
    secrets.reset()


def _store(value: dict[str, str]) -> None:
    client = boto3.client("secretsmanager")
    try:
        client.put_secret_value(SecretId=SECRET_ID, SecretString=json.dumps(value))
    except client.exceptions.ResourceNotFoundException:
        client.create_secret(Name=SECRET_ID, SecretString=json.dumps(value))


def test_settings_take_the_secrets_from_secrets_manager(deployed_env: None) -> None:
    _store(SECRET)
    settings = config.get_settings()
    assert settings.tracker.token == TRACKER_TOKEN
    assert settings.webhook_secret == WEBHOOK
    assert settings.admin_token_sha256 == ADMIN_HASH


def test_the_secret_wins_over_a_stage_variable(
    deployed_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _store(SECRET)
    monkeypatch.setenv("TWINSYNC_TRACKER_TOKEN", "stale-token-in-the-stage")
    assert config.get_settings().tracker.token == TRACKER_TOKEN


def test_the_secret_is_read_once_per_container(deployed_env: None) -> None:
    _store(SECRET)
    assert config.get_settings().tracker.token == TRACKER_TOKEN
    _store({**SECRET, "tracker_token": "rotated-token"})
    config.get_settings.cache_clear()
    assert config.get_settings().tracker.token == TRACKER_TOKEN  # cached: no second read
    secrets.reset()
    config.get_settings.cache_clear()
    assert config.get_settings().tracker.token == "rotated-token"


def test_a_missing_secret_stops_start_up_with_one_clear_message(deployed_env: None) -> None:
    with pytest.raises(ConfigError) as caught:
        config.get_settings()
    assert SECRET_ID in str(caught.value)
    assert "ResourceNotFoundException" in str(caught.value)


def test_secret_values_never_reach_the_logs(
    deployed_env: None, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Settings are read before the root quiets the SDK's loggers (root.quiet_wire_loggers),
    # and an earlier test in this process may have quieted them: undo that here, so this
    # checks that the secret read hides the secret on its own, even at full DEBUG.
    for name in WIRE_LOGGERS:
        monkeypatch.setattr(logging.getLogger(name), "level", logging.NOTSET)
    _store(SECRET)
    with caplog.at_level(logging.DEBUG):
        config.get_settings()
    assert caplog.records, "DEBUG logging was not captured at all"
    for value in SECRET.values():
        assert value not in caplog.text


def test_a_malformed_secret_is_named_without_its_content() -> None:
    with pytest.raises(SecretsError) as caught:
        parse_secret(SECRET_ID, '{"tracker_token": "s3cr3t", "password": "hunter2"}')
    message = str(caught.value)
    assert "password" in message and SECRET_ID in message
    assert "s3cr3t" not in message and "hunter2" not in message
    with pytest.raises(SecretsError, match="not valid JSON") as caught:
        parse_secret(SECRET_ID, "hunter2")
    assert "hunter2" not in str(caught.value)
    with pytest.raises(SecretsError, match="must be strings"):
        parse_secret(SECRET_ID, '{"tracker_token": 42}')


def test_parse_secret_maps_keys_to_setting_variables() -> None:
    assert parse_secret(SECRET_ID, json.dumps(SECRET)) == {
        "TWINSYNC_ADMIN_TOKEN_SHA256": ADMIN_HASH,
        "TWINSYNC_TRACKER_TOKEN": TRACKER_TOKEN,
        "TWINSYNC_WEBHOOK_SECRET": WEBHOOK,
    }


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_rotation_reaches_a_warm_container_after_the_ttl(
    deployed_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    monkeypatch.setattr(secrets, "cache", secrets.SecretCache(ttl_s=300, clock=clock))
    _store(SECRET)
    first = config.get_settings()
    assert first.tracker.token == TRACKER_TOKEN
    _store({**SECRET, "tracker_token": "rotated-token"})
    clock.now += 299
    assert config.get_settings() is first  # within the TTL: no second read, same settings
    clock.now += 2
    rotated = config.get_settings()
    assert rotated.tracker.token == "rotated-token"
    assert config.get_settings() is rotated


def test_the_composition_root_follows_a_rotation(
    deployed_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.root import reset as root_reset
    from chalicelib.root import root

    clock = Clock()
    monkeypatch.setattr(secrets, "cache", secrets.SecretCache(ttl_s=60, clock=clock))
    _store(SECRET)
    root_reset()
    before = root()
    _store({**SECRET, "tracker_token": "rotated-token"})
    clock.now += 61
    after = root()
    assert after is not before and after.settings.tracker.token == "rotated-token"
    root_reset()


def test_a_failed_re_read_keeps_the_last_good_secret() -> None:
    clock = Clock()
    answers: list[object] = [
        {"TWINSYNC_TRACKER_TOKEN": "good"},
        SecretsError("x", "cannot be read (ThrottlingException)"),
    ]

    def fetch(secret_id: str) -> dict[str, str]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[return-value]

    cache = secrets.SecretCache(ttl_s=10, fetch=fetch, clock=clock)
    assert cache.get("x") == {"TWINSYNC_TRACKER_TOKEN": "good"}
    clock.now += 11
    assert cache.get("x") == {"TWINSYNC_TRACKER_TOKEN": "good"}
    assert answers == []  # it did try again


def test_a_secret_that_was_never_read_fails_loudly() -> None:
    def fetch(secret_id: str) -> dict[str, str]:
        raise SecretsError(secret_id, "cannot be read (AccessDeniedException)")

    with pytest.raises(SecretsError, match="AccessDenied"):
        secrets.SecretCache(fetch=fetch).get("twinsync/x")
