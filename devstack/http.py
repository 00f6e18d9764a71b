"""Serve a Chalice app over HTTP on loopback, as API Gateway would in front of it.

Chalice's local gateway answers an unknown route with API Gateway's default
``403 Missing Authentication Token``; the deployed template maps that gateway response to
a contract 404 (``infra/``), so the local server does the same.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from chalice.app import Chalice
from chalice.config import Config
from chalice.local import (
    ChaliceRequestHandler,
    CustomLocalChalice,
    ForbiddenError,
    LocalChalice,
    LocalDevServer,
)

log = logging.getLogger("devstack.http")

NOT_FOUND = json.dumps(
    {"error": {"code": "not_found", "message": "No such endpoint. See the API reference."}}
).encode()


class ContractRequestHandler(ChaliceRequestHandler):
    """Chalice's local handler with API Gateway's 'missing route' mapped to a contract 404.

    ``on_request`` (when set) learns each request's path and the seconds it took: the
    benchmarks count API Gateway requests and ``api_handler``'s invocations with it.
    """

    on_request: Callable[[str, float], None] | None = None

    def handle_one_request(self) -> None:
        started = time.perf_counter()
        # on a kept-alive connection the last call reads no request (the client closed it)
        # and leaves the previous request's ``command`` and ``path`` behind: not a request
        self.command = None  # type: ignore[assignment]
        super().handle_one_request()
        hook = type(self).on_request
        if hook is not None and self.command:
            hook(self.path.split("?")[0], time.perf_counter() - started)

    def _send_error_response(self, error: Any) -> None:
        # The app has no authorizers, so the gateway's 403s all mean "no such route"
        # (its text differs with and without an Authorization header).
        if isinstance(error, ForbiddenError):
            self._send_http_response(404, {"Content-Type": "application/json"}, NOT_FOUND)
            return
        super()._send_error_response(error)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # one parseable access line per request: tests assert who called whom
        log.info("access %s %s %s", self.command, self.path.split("?")[0], code)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class AppServer:
    """A Chalice app on ``host:port`` (0 = a free port) in a background thread."""

    def __init__(
        self,
        app: Chalice,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        stage: str = "dev",
        timeout_s: int = 60,
    ) -> None:
        config = Config.create(chalice_stage=stage, app_name=app.app_name, lambda_timeout=timeout_s)
        # what chalice.local.create_local_server does, without binding a second socket
        CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
        app.__class__ = CustomLocalChalice
        self._server = LocalDevServer(app, config, host, port, handler_cls=ContractRequestHandler)
        self.host, self.port = self._server.server.server_address[:2]
        self._thread = threading.Thread(
            target=self._server.serve_forever, daemon=True, name=f"http-{self.port}"
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> AppServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server.server_close()
