"""The CLI's own tier: ``twinsync`` commands run through click's CliRunner against a small
fake node served over real HTTP on loopback (paging links, error bodies, slow answers,
job progress). The end-to-end walk against real nodes is ``tests/stack/test_cli.py``."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from click.testing import CliRunner, Result

from twinsync_cli.main import cli

TOKEN = "cli-test-token-5Yq2Lr8Xw1Nz6Kp3"
OTHER_TOKEN = "cli-other-token-Jd7Vb0Qs4Hm9Tf2"


@dataclass
class Seen:
    """One request the fake node received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Answer:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # sent as is instead of JSON


Route = Callable[[Seen], Answer] | Answer


def refusal(status: int, code: str, message: str, field_name: str | None = None) -> Answer:
    error: dict[str, Any] = {"code": code, "message": message}
    if field_name:
        error["field"] = field_name
    return Answer(status, {"error": error})


class FakeNode:
    """Routes by (method, path); every request is kept in ``seen``."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route] = {}
        self.seen: list[Seen] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def on(self, method: str, path: str, route: Route) -> None:
        self.routes[(method, path)] = route

    def _answer(self, seen: Seen) -> Answer:
        if seen.headers.get("authorization") != f"Bearer {TOKEN}":
            return refusal(401, "invalid_token", "The admin token is not valid for this node.")
        route = self.routes.get((seen.method, seen.path))
        if route is None:
            return refusal(404, "not_found", f"No route {seen.method} {seen.path}.")
        return route(seen) if callable(route) else route

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        node = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                seen = Seen(
                    method=self.command,
                    path=parts.path,
                    query=dict(parse_qsl(parts.query)),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=json.loads(raw) if raw else None,
                )
                node.seen.append(seen)
                answer = node._answer(seen)
                payload = answer.raw
                if payload is None:
                    payload = b"" if answer.body is None else json.dumps(answer.body).encode()
                self.send_response(answer.status)
                headers = {"Content-Type": "application/json", **answer.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_DELETE = _serve

        return Handler


@pytest.fixture
def fake_node() -> Iterator[FakeNode]:
    node = FakeNode()
    node.thread.start()
    try:
        yield node
    finally:
        node.server.shutdown()
        node.server.server_close()


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated config path; no TWINSYNC_* variables from the caller's environment."""
    for name in ("TWINSYNC_URL", "TWINSYNC_TOKEN", "TWINSYNC_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "cfg" / "config.toml"
    monkeypatch.setenv("TWINSYNC_CONFIG", str(path))
    return path


@pytest.fixture
def run(config_file: Path, fake_node: FakeNode) -> Callable[..., Result]:
    """``run("connections", "list")``: the CLI against the fake node (env profile)."""

    def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        base = {"TWINSYNC_URL": fake_node.url, "TWINSYNC_TOKEN": TOKEN}
        return CliRunner().invoke(cli, list(args), input=input, env={**base, **(env or {})})

    return invoke
