"""A Lambda function URL on loopback: one of the app's functions behind plain HTTP.

Lambda hands a function URL's request to the function as an event (payload format 2.0)
and turns its answer (``statusCode``, ``headers``, ``body``) into the HTTP response; this
server does the same on this machine, calling the function as the app declares it
(``@app.lambda_function``), one thread per request as Lambda runs one environment per
concurrent request. Each call is counted in the node's runner stats (invocations, seconds)
so benchmarks see what the function held.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from chalice.app import Chalice
from chalice.local import LambdaContext

log = logging.getLogger("devstack.url")


def url_event(method: str, target: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The event Lambda gives a function for a function URL request (payload 2.0)."""
    parts = urlsplit(target)
    query: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    text: str | None = None
    encoded = False
    if body:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode("ascii"), True
    return {
        "version": "2.0",
        "rawPath": parts.path,
        "rawQueryString": parts.query,
        "headers": {k.lower(): v for k, v in headers.items()},
        "queryStringParameters": query or None,
        "requestContext": {
            "http": {"method": method, "path": parts.path, "sourceIp": "127.0.0.1"},
            "requestId": uuid.uuid4().hex,
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


class FunctionUrlServer:
    """``function`` of ``app`` on ``host:port`` (0 = a free port), in background threads."""

    def __init__(
        self,
        app: Chalice,
        function: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        stats: Any = None,
        timeout_s: int = 30,
    ) -> None:
        handlers = {f.name: f for f in app.pure_lambda_functions}
        if function not in handlers:
            raise ValueError(f"the app declares no function {function!r}")
        handler, name = handlers[function], function
        self.stats = stats  # the node's RunnerStats, or None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                event = url_event(self.command, self.path, dict(self.headers.items()), body)
                started = time.monotonic()
                failed = False
                try:
                    context = LambdaContext(
                        function_name=name, memory_size=128, max_runtime_ms=timeout_s * 1000
                    )
                    answer = handler(event, context)
                except Exception:  # Lambda answers 502 for a function error
                    log.exception("%s failed", name)
                    answer, failed = {"statusCode": 502, "body": ""}, True
                if outer.stats is not None:
                    outer.stats.count(
                        name, failed=failed, records=1, seconds=time.monotonic() - started
                    )
                self._reply(answer)

            def _reply(self, answer: dict[str, Any]) -> None:
                data = answer.get("body") or ""
                raw = (
                    base64.b64decode(data)
                    if answer.get("isBase64Encoded")
                    else (data if isinstance(data, str) else json.dumps(data)).encode("utf-8")
                )
                self.send_response(int(answer.get("statusCode", 200)))
                for key, value in (answer.get("headers") or {}).items():
                    if key.lower() not in ("content-length", "connection"):
                        self.send_header(key, str(value))
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                # the same parseable line as the app's server, marked as the function URL's
                log.info(
                    "access %s %s %s url=%s", self.command, self.path.split("?")[0], code, name
                )

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("%s %s", self.address_string(), format % args)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.host, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(
            target=self._server.serve_forever, daemon=True, name=f"url-{self.port}"
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> FunctionUrlServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
