"""Fixtures for the sandbox Jira tests: started sites of both flavours, a REST client that
speaks each flavour's body format, and a webhook receiver on a loopback port."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from devstack.sandbox_jira import SandboxAdmin, SandboxJira

PROJECT = "ABC"


def adf(text: str) -> dict[str, Any]:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


class JiraClient:
    """A thin REST client for one user of one sandbox site (v3 on Cloud, v2 on Server)."""

    def __init__(self, site: SandboxJira, user: dict[str, Any]) -> None:
        self.site = site
        self.user = user
        self.cloud = site.flavour == "cloud"
        self.version = 3 if self.cloud else 2
        self.session = requests.Session()
        if self.cloud:
            self.session.auth = (user["email"], user["token"])
        else:
            self.session.headers["Authorization"] = f"Bearer {user['token']}"

    def url(self, path: str) -> str:
        return f"{self.site.url}/rest/api/{self.version}/{path.lstrip('/')}"

    def body(self, text: str) -> Any:
        return adf(text) if self.cloud else text

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.session.get(self.url(path), timeout=10, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.session.post(self.url(path), timeout=10, **kw)

    def put(self, path: str, **kw: Any) -> requests.Response:
        return self.session.put(self.url(path), timeout=10, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.session.delete(self.url(path), timeout=10, **kw)

    def create_issue(self, summary: str = "A summary", **fields: Any) -> dict[str, Any]:
        values: dict[str, Any] = {
            "project": {"key": PROJECT},
            "issuetype": {"name": "Task"},
            "summary": summary,
        }
        values.update(fields)
        response = self.post("issue", json={"fields": values})
        assert response.status_code == 201, response.text
        return response.json()

    def comment(self, key: str, text: str) -> dict[str, Any]:
        response = self.post(f"issue/{key}/comment", json={"body": self.body(text)})
        assert response.status_code == 201, response.text
        return response.json()

    def attach(self, key: str, name: str, data: bytes) -> requests.Response:
        return self.post(
            f"issue/{key}/attachments",
            files={"file": (name, data)},
            headers={"X-Atlassian-Token": "no-check"},
        )


def setup_site(site: SandboxJira) -> tuple[SandboxAdmin, dict[str, Any], dict[str, Any]]:
    admin = SandboxAdmin(site.url)
    admin.create_project(
        PROJECT,
        "Alpha",
        issue_types=["Task", "Bug", "Story", "Sub-task"],  # Sub-task: a parent's children
        default_issue_type="Task",
    )
    if site.flavour == "cloud":
        bot = admin.create_user(display_name="Sync Bot", email="bot@example.com", token="bot-token")
        alice = admin.create_user(display_name="Alice", email="alice@example.com", token="a-tok")
    else:
        bot = admin.create_user(display_name="Sync Bot", name="bot", token="bot-pat")
        alice = admin.create_user(display_name="Alice", name="alice", token="alice-pat")
    return admin, bot, alice


@pytest.fixture(params=["cloud", "server"])
def flavour(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def site(flavour: str) -> Iterator[SandboxJira]:
    with SandboxJira(flavour, webhook_backoff=(0.05, 0.1, 0.2)) as started:
        yield started


@pytest.fixture
def cloud_site() -> Iterator[SandboxJira]:
    with SandboxJira("cloud", webhook_backoff=(0.05, 0.1, 0.2)) as started:
        yield started


@pytest.fixture
def server_site() -> Iterator[SandboxJira]:
    with SandboxJira("server", webhook_backoff=(0.05, 0.1, 0.2)) as started:
        yield started


class Env:
    """A started site with project ABC, two users and a client for each."""

    def __init__(self, site: SandboxJira) -> None:
        self.site = site
        self.admin, self.bot_user, self.alice_user = setup_site(site)
        self.bot = JiraClient(site, self.bot_user)
        self.alice = JiraClient(site, self.alice_user)


@pytest.fixture
def env(site: SandboxJira) -> Env:
    return Env(site)


@pytest.fixture
def cloud(cloud_site: SandboxJira) -> Env:
    return Env(cloud_site)


@pytest.fixture
def server(server_site: SandboxJira) -> Env:
    return Env(server_site)


# --- webhook receiver ---------------------------------------------------------------------


class Receiver:
    """Records webhook requests; answers with ``statuses`` in turn (then 200)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with receiver.lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.requests.append(
                        {
                            "path": self.path,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "raw": raw,
                            "json": json.loads(raw),
                            "status": status,
                        }
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            items = list(self.requests)
        return [r for r in items if name is None or r["json"]["webhookEvent"] == name]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver()
    yield started
    started.stop()
