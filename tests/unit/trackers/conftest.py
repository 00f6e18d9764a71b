"""Adapters wired to ``responses`` at the transport seam: no socket is ever opened."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
import requests
import responses

from chalicelib.trackers.jira_cloud import JiraCloud
from chalicelib.trackers.jira_server import JiraServer
from tests.unit.trackers.jira_json import CLOUD, SERVER

CLOUD_EMAIL = "bot@acme.test"
CLOUD_TOKEN = "cloud-api-token-SECRET"
SERVER_TOKEN = "server-pat-SECRET"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


CLOUD_AUTH = basic(CLOUD_EMAIL, CLOUD_TOKEN)
SERVER_BEARER = f"Bearer {SERVER_TOKEN}"


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    """Fake Jira at the transport; every registered response must be used."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def cloud(http: responses.RequestsMock) -> JiraCloud:
    return JiraCloud(CLOUD, CLOUD_EMAIL, CLOUD_TOKEN, session=requests.Session())


@pytest.fixture
def server(http: responses.RequestsMock) -> JiraServer:
    return JiraServer(SERVER, SERVER_TOKEN, session=requests.Session())


def sent_json(call: responses.Call) -> object:
    """The JSON body a recorded call sent."""
    body = call.request.body
    return json.loads(body.decode() if isinstance(body, bytes) else body)
