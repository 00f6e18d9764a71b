"""Shared fixtures: an in-process AWS (moto) with one node's resources, and the app."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.pop("AWS_ENDPOINT_URL", None)

_STARTED = time.time()  # screenshots newer than this were taken by this run
ADMIN_TOKEN = "test-admin-token-Q7vN3xK9pL2mR8sT4wY6zB1cD5fG0hJ3"  # >= 256 bits (config.py)
WEBHOOK_SECRET = "test-webhook-secret-0123456789"


def node_env(**overrides: str | None) -> dict[str, str]:
    """A valid node environment (without resource names); ``None`` removes a variable."""
    env = {
        "TWINSYNC_NODE_ID": "node-a",
        "TWINSYNC_NODE_NAME": "Node A",
        "TWINSYNC_PUBLIC_URL": "https://a.twinsync.test",
        "TWINSYNC_ADMIN_TOKEN": ADMIN_TOKEN,
        "TWINSYNC_TRACKER_KIND": "jira_cloud",
        "TWINSYNC_TRACKER_URL": "http://127.0.0.1:9",
        "TWINSYNC_TRACKER_USER": "bot@a.test",
        "TWINSYNC_TRACKER_TOKEN": "tracker-token",
        "TWINSYNC_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "TWINSYNC_ALLOW_PRIVATE_URLS": "true",
    }
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@pytest.fixture
def aws() -> Iterator[dict[str, str]]:
    """moto in-process, with one node's resources created from infra/resources.json."""
    from moto import mock_aws

    from devstack.aws import create_node_resources

    with mock_aws():
        yield create_node_resources("test-node")


@pytest.fixture
def node(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment of a ready public node ``node-a`` bound to the moto resources."""
    from chalicelib.root import reset as root_reset
    from chalicelib.root import root

    env = {**node_env(), **aws}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    root_reset()
    root()
    yield env
    root_reset()


@pytest.fixture
def client(node: dict[str, str]):
    """Chalice's test client on the app, for functional tests of the HTTP surface."""
    from chalice.test import Client

    from app import app

    with Client(app) as test_client:
        yield test_client


def admin_headers(token: str = ADMIN_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


# --- every answer held to the contract (tests/contract_check.py) --------------------------


@pytest.fixture(autouse=True)
def _log_keys_of_this_test_only() -> Iterator[None]:
    """Each test starts with no correlation keys: code a test calls outside a queue handler's
    ``logs.context`` (``handle_apply`` directly, say) binds keys that would otherwise stay
    on the worker's thread and show up in a later test's log lines."""
    from chalicelib.observability import logs

    token = logs._KEYS.set({})
    yield
    logs._KEYS.reset(token)


@pytest.fixture(scope="session", autouse=True)
def _answers_checked_against_the_contract() -> Iterator[None]:
    """Chalice's test client reports each answer it receives to ``tests/contract_check``."""
    from chalice.test import TestHTTPClient

    from tests import contract_check

    original = TestHTTPClient.request

    def request(self: Any, method: str, path: str, headers: Any = None, body: bytes = b"") -> Any:
        response = original(self, method, path, headers=headers, body=body)
        contract_check.record(method, path, response.status_code, response.headers, response.body)
        return response

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(TestHTTPClient, "request", request)
        yield


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Any:
    from tests import contract_check

    contract_check.take()  # what an earlier test left is that test's business
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """A test fails when a node answered it something the OpenAPI document does not allow."""
    from tests import contract_check

    result = yield
    exempt = {
        (m.args[0].upper(), m.args[1], m.args[2]) for m in item.iter_markers("contract_exempt")
    }
    problems = [p for p in contract_check.take() if (p.method, p.template, p.status) not in exempt]
    if problems:
        listed = "\n".join(f"- {p}" for p in problems[:20])
        raise AssertionError(
            f"{len(problems)} answer(s) do not fit chalicelib/api/openapi.yaml:\n{listed}"
        )
    return result


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Where the browser tests left their screenshots (tests/stack/test_console.py)."""
    from pathlib import Path

    shots = Path(__file__).resolve().parents[1] / ".devstack" / "screenshots"
    if shots.is_dir() and any(p.stat().st_mtime >= _STARTED for p in shots.rglob("*.png")):
        terminalreporter.write_line(f"browser screenshots: {shots}")
