"""The benchmarks count API Gateway requests and ``api_handler``'s invocations from the
local server's ``on_request``: one count per request, however the client keeps its
connection open."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from chalice import Chalice

from devstack.http import AppServer, ContractRequestHandler


@pytest.fixture
def counted() -> Iterator[tuple[str, list[str]]]:
    app = Chalice(app_name="counting")

    @app.route("/ping", methods=["GET", "POST"])
    def ping() -> dict:
        return {"ok": True}

    seen: list[str] = []
    ContractRequestHandler.on_request = lambda path, seconds: seen.append(path)
    server = AppServer(app)
    server.start()
    try:
        yield server.url, seen
    finally:
        ContractRequestHandler.on_request = None
        server.stop()


def test_each_request_on_a_kept_alive_connection_counts_once(counted) -> None:
    url, seen = counted
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        # two requests on one kept-alive HTTP/1.1 connection, then the client is done
        conn.sendall(b"GET /ping?x=1 HTTP/1.1\r\nHost: t\r\n\r\n")
        conn.sendall(b"POST /ping HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}")
        conn.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := conn.recv(65536):  # the server closes once it read the end
            answer += chunk
    assert answer.count(b"HTTP/1.1 200") == 2
    # the server's last read found no request: it is not counted as a third one
    assert seen == ["/ping", "/ping"]
