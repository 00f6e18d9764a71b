"""Adapters wired to a fake Jira at urllib3's transport seam: no socket is ever opened."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest

from chalicelib.trackers.jira_cloud import JiraCloud
from chalicelib.trackers.jira_server import JiraServer
from tests.factories.fake_http import Call, FakeHttp
from tests.unit.trackers.jira_json import CLOUD, SERVER

CLOUD_EMAIL = "bot@acme.test"
CLOUD_TOKEN = "cloud-api-token-SECRET"
SERVER_TOKEN = "server-pat-SECRET"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


CLOUD_AUTH = basic(CLOUD_EMAIL, CLOUD_TOKEN)
SERVER_BEARER = f"Bearer {SERVER_TOKEN}"


@pytest.fixture
def http() -> Iterator[FakeHttp]:
    """Fake Jira at the transport; every registered response must be used."""
    with FakeHttp(assert_all_fired=True) as fake:
        yield fake


@pytest.fixture
def cloud(http: FakeHttp) -> JiraCloud:
    return JiraCloud(CLOUD, CLOUD_EMAIL, CLOUD_TOKEN, pool=http.pool())


@pytest.fixture
def server(http: FakeHttp) -> JiraServer:
    return JiraServer(SERVER, SERVER_TOKEN, pool=http.pool())


def sent_json(call: Call) -> object:
    """The JSON body a recorded call sent."""
    assert call.request.body is not None
    return json.loads(call.request.body)
