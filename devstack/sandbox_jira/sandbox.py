"""``SandboxJira``: one sandbox site on a loopback port, in-process or as a process.

It owns the state, the HTTP server (standard library ``ThreadingHTTPServer``), the webhook
publisher, the fault settings and the request log, and turns every request into a response
in one place (``dispatch``): route, authenticate, inject faults, run the handler, translate
errors into Jira's bodies, record the call, persist the state if it changed.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from . import (
    admin_api,
    remotelinks,  # noqa: F401  (its routes join rest.router)
    rest,
    rest_relations,  # noqa: F401  (its routes join rest.router on import)
)
from .errors import JiraError, unauthorized
from .faults import Faults, RequestLog
from .http import Request, Response, parse_query, read_body
from .render import Renderer
from .statefile import StateFile
from .store import FieldRec, ProjectRec, Store, UserRec, WebhookRec
from .timefmt import Clock, system_clock
from .webhooks import WebhookPublisher

log = logging.getLogger(__name__)
FLAVOURS = ("cloud", "server")
FLUSH_SECONDS = 0.5  # the state file is written at most this often while the site changes


class SandboxJira:
    """A stateful fake Jira site (``flavour`` ``"cloud"`` or ``"server"``) on ``host:port``.

    ``port=0`` picks a free port; ``url`` is known after :meth:`start`. ``persist_path``
    names a JSON file loaded on start; while the site changes, what changed is appended to
    its journal at most every FLUSH_SECONDS, and on stop (statefile.py).
    ``config`` (a dict or a JSON file path) lists users, projects and webhooks to create on
    start and on reset. ``admin_secret``, when set, is required on ``/_sandbox/`` calls as
    the ``X-Sandbox-Admin`` header.
    """

    def __init__(
        self,
        flavour: str = "cloud",
        host: str = "127.0.0.1",
        port: int = 0,
        persist_path: str | os.PathLike[str] | None = None,
        *,
        config: dict[str, Any] | str | os.PathLike[str] | None = None,
        admin_secret: str | None = None,
        clock: Clock = system_clock,
        webhook_backoff: Sequence[float] = (0.2, 0.5, 1.0),
        fault_seed: int | None = None,
    ) -> None:
        if flavour not in FLAVOURS:
            raise ValueError(f"flavour must be one of {FLAVOURS}, not {flavour!r}")
        self.flavour = flavour
        self.host = host
        self.port = port
        self.persist_path = Path(persist_path) if persist_path else None
        self.state_file = StateFile(self.persist_path) if self.persist_path else None
        self.config = load_config(config)
        self.admin_secret = admin_secret
        self.media_key = secrets.token_bytes(32)  # signs Cloud's attachment download URLs
        self.store = Store(flavour, clock)
        self.renderer = Renderer(self.store, f"http://{host}:{port}")
        self.publisher = WebhookPublisher(self.store, self.renderer, backoff=webhook_backoff)
        self.store.listener = self.publisher
        self.store.on_dirty = self._mark_dirty
        self.faults = Faults(flavour, seed=fault_seed)
        self.log = RequestLog()
        self.httpd: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None
        self._dirty = False
        self._save_lock = threading.Lock()
        self._changed = threading.Event()
        self._stopping = threading.Event()
        self._flusher: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    # --- lifecycle ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.renderer.base

    def start(self) -> SandboxJira:
        if self.state_file is not None:
            data, entries = self.state_file.load()
            if data is not None:
                self.store.load(data)
                for entry in entries:
                    self.store.apply_changes(entry)
                self.store.take_changes()  # what was loaded is on disk already
                self._dirty = False
        self._apply_config()
        self.httpd = ThreadingHTTPServer((self.host, self.port), _handler_for(self))
        self.httpd.daemon_threads = True
        host, port = self.httpd.server_address[:2]
        self.port = int(port)
        self.renderer.base = f"http://{host}:{port}"
        self.publisher.start()
        self.thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # shutdown() waits up to one poll interval
            name=f"sandbox-jira-{self.flavour}",
            daemon=True,
        )
        self.thread.start()
        self.save()
        if self.persist_path:
            self._stopping.clear()
            self._flusher = threading.Thread(
                target=self._flush_loop, name=f"sandbox-jira-{self.flavour}-state", daemon=True
            )
            self._flusher.start()
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
        with self._connections_lock:  # keep-alive connections would outlive the server
            for connection in list(self._connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            self._connections.clear()
        if self.thread is not None:
            self.thread.join(timeout=5)
            self.thread = None
        self.publisher.stop()
        if self._flusher is not None:
            self._stopping.set()
            self._changed.set()
            self._flusher.join(timeout=5)
            self._flusher = None
        self.save()

    def __enter__(self) -> SandboxJira:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self, *, apply_config: bool = True) -> None:
        """Forget everything (state, faults, request log, pending webhooks); re-apply config."""
        self.publisher.clear()
        self.store.clear()
        self.faults.reset()
        self.log.clear()
        if apply_config:
            self._apply_config()
        self._mark_dirty()
        self.save()

    # --- setup (admin API and config) ---------------------------------------------------

    def add_user(self, data: dict[str, Any]) -> UserRec:
        display = data.get("display_name") or data.get("displayName")
        email = data.get("email") or data.get("emailAddress")
        name = data.get("name") or data.get("username")
        user_id = data.get("account_id") or data.get("accountId") or data.get("key")
        if self.flavour == "cloud" and not email:
            raise admin_api.AdminError(400, "a Cloud user needs an email (the basic-auth login)")
        if self.flavour == "server" and not (name or email):
            raise admin_api.AdminError(400, "a Server user needs a name (the username)")
        login = email if self.flavour == "cloud" else name
        if (login and self.store.user_by_login(login)) or (
            user_id and self.store.find_user(user_id)
        ):
            raise admin_api.AdminError(409, f"user {login or user_id} exists")
        token = data.get("token") or secrets.token_urlsafe(24)
        password = data.get("password") or (token if self.flavour == "server" else None)
        groups = data.get("groups")
        if groups is not None and not (
            isinstance(groups, list) and all(isinstance(g, str) and g for g in groups)
        ):
            raise admin_api.AdminError(400, "groups must be a list of group names")
        user = self.store.add_user(
            display_name=display or name or (email or "").split("@")[0],
            email=email,
            name=name,
            token=token,
            password=password,
            user_id=user_id,
            groups=groups,
        )
        if data.get("email_visible") is False:
            user.email_visible = False  # issue 18: a Cloud profile hiding its address
        return user

    def add_project(self, data: dict[str, Any]) -> ProjectRec:
        if not data.get("key") or not str(data["key"]).replace("_", "").isalnum():
            raise admin_api.AdminError(400, "key is required (letters and digits)")
        if self.store.project(str(data["key"])):
            raise admin_api.AdminError(409, f"project {str(data['key']).upper()} exists")
        lead = None
        if data.get("lead"):
            lead = self.user_ref(str(data["lead"]))
            if lead is None:
                raise admin_api.AdminError(400, f"lead {data['lead']} is not a user")
        catalog = self._catalog_names(data)
        try:
            project = self.store.add_project(
                key=str(data["key"]),
                name=str(data.get("name") or data["key"]),
                issue_types=data.get("issue_types") or data.get("issueTypes"),
                default_issue_type=data.get("default_issue_type"),
                lead=lead,
                project_id=data.get("id"),
                workflow=data.get("workflow"),
                screens=data.get("screens"),
            )
        except ValueError as exc:  # WorkflowError and ScreenError are ones
            raise admin_api.AdminError(400, str(exc)) from exc
        for name in catalog["components"]:
            self.store.add_component(project.id, name)
        for name in catalog["versions"]:
            self.store.add_version(project.id, name=name)
        return project

    @staticmethod
    def _catalog_names(data: dict[str, Any]) -> dict[str, list[str]]:
        """Issue 18: a new project's ``components`` and ``versions`` (names), checked."""
        out = {}
        for kind in ("components", "versions"):
            names = data.get(kind) or []
            if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
                raise admin_api.AdminError(400, f"{kind} must be a list of names")
            out[kind] = list(dict.fromkeys(names))
        return out

    def add_field(self, data: dict[str, Any]) -> FieldRec:
        if not isinstance(data.get("name"), str):
            raise admin_api.AdminError(400, "name is required")
        try:
            return self.store.add_field(
                name=data["name"],
                field_type=str(data.get("type") or "string"),
                field_id=data.get("id"),
            )
        except ValueError as exc:
            status = 409 if "exists" in str(exc) else 400
            raise admin_api.AdminError(status, str(exc)) from exc

    def user_ref(self, ref: str) -> str | None:
        """A user id from an id, a username or an e-mail address (admin convenience)."""
        low = ref.lower()
        for user in self.store.users.values():
            if low in (user.id.lower(), (user.name or "").lower(), user.email.lower()):
                return user.id
        return None

    def add_webhook(self, data: dict[str, Any]) -> WebhookRec:
        return self.store.add_webhook(
            url=data["url"],
            secret=data.get("secret"),
            enabled=bool(data.get("enabled", True)),
            events=list(data.get("events") or []),
            jql=data.get("jql"),
            name=str(data.get("name") or ""),
        )

    def _apply_config(self) -> None:
        """Create what the config names and the state lacks (safe to run on every start)."""
        config = self.config
        for user in config.get("users", []):
            login = user.get("email") if self.flavour == "cloud" else user.get("name")
            if not (login and self.store.user_by_login(login)):
                self.add_user(user)
        known_fields = {f.name.lower() for f in self.store.fields.values()}
        for custom in config.get("fields", []):
            if str(custom.get("name", "")).lower() not in known_fields:
                self.add_field(custom)
        for project in config.get("projects", []):
            if not self.store.project(str(project.get("key", ""))):
                self.add_project(project)
        known_urls = {h.url for h in self.store.webhooks.values()}
        for hook in config.get("webhooks", []):
            if hook.get("url") not in known_urls:
                self.add_webhook(admin_api.check_webhook(self, dict(hook)))
        self._apply_settings(config)

    def _apply_settings(self, config: dict[str, Any]) -> None:
        """The config's site settings: faults, attachment limit, indexing, search lag."""
        if config.get("faults"):
            self.faults.update(config["faults"])
        if "attachment_limit" in config:
            self.faults.update({"attachment_limit": config["attachment_limit"]})
        if "indexed_properties" in config:
            self.store.indexed_properties = config["indexed_properties"]
        if config.get("search_lag_ms"):
            self.store.set_search_lag(int(config["search_lag_ms"]))

    # --- persistence --------------------------------------------------------------------

    def _mark_dirty(self) -> None:
        self._dirty = True
        self._changed.set()

    def _flush_loop(self) -> None:
        """Write the state file at most every FLUSH_SECONDS while the site changes.

        Writing the whole state on every request made a site with a few hundred issues slow
        for every caller (each write serialised everything); a real Jira's writes do not
        grow with its size. ``stop()`` writes whatever is left.
        """
        while not self._stopping.is_set():
            self._changed.wait()
            self._changed.clear()
            if self._stopping.is_set():
                return
            self.save()
            self._stopping.wait(FLUSH_SECONDS)

    def save(self) -> None:
        """Append what changed to the journal, or write a whole snapshot when the journal
        has outgrown it or a change named no records (statefile.py)."""
        if self.state_file is None or not self._dirty:
            return
        with self._save_lock:
            self._dirty = False
            entry = self.store.take_changes()
            if entry is not None and not self.state_file.needs_snapshot():
                self.state_file.append(entry)
            else:
                self.state_file.write_snapshot(self.store.dump())

    # --- requests -----------------------------------------------------------------------

    def authenticate(self, req: Request) -> UserRec | None:
        header = req.headers.get("authorization")
        if not header:
            return None
        scheme, _, credentials = header.partition(" ")
        user: UserRec | None = None
        if scheme.lower() == "basic":
            try:
                login, _, secret = base64.b64decode(credentials).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise unauthorized() from None
            found = self.store.user_by_login(login)
            expected = found and (found.token if self.flavour == "cloud" else found.password)
            if found and expected and secrets.compare_digest(expected, secret):
                user = found
        elif scheme.lower() == "bearer" and self.flavour == "server":
            user = self.store.user_by_token(credentials.strip())
        if user is None or not user.active:
            raise unauthorized()
        return user

    def dispatch(self, req: Request) -> Response:
        if req.path.startswith("/_sandbox/"):
            return self._dispatch_admin(req)
        route_name = "unmatched"
        try:
            route, req.params = rest.router.match(req.method, req.path, self.flavour)
            route_name = route.pattern
            req.version = int(req.params.get("v", 2))
            req.user = self.authenticate(req)
            if route.auth and req.user is None:
                raise unauthorized()
            latency = self.faults.check(req.method, req.path)
            if latency:
                time.sleep(latency)
            response = route.handler(self, req)
        except JiraError as exc:
            response = error_response(exc)
        except Exception:
            log.exception("sandbox jira: %s %s failed", req.method, req.path)
            response = Response(500, {"errorMessages": ["Internal server error"], "errors": {}})
        user_id = req.user.id if req.user else None
        self.log.record(user_id, req.method, route_name, req.path, response.status)
        return response

    def _dispatch_admin(self, req: Request) -> Response:
        try:
            if self.admin_secret and not secrets.compare_digest(
                req.headers.get("x-sandbox-admin", ""), self.admin_secret
            ):
                raise admin_api.AdminError(401, "missing or wrong X-Sandbox-Admin header")
            route, req.params = admin_api.router.match(req.method, req.path, self.flavour)
            response = route.handler(self, req)
        except admin_api.AdminError as exc:
            response = Response(exc.status, exc.body())
        except JiraError as exc:
            response = Response(exc.status, {"error": "; ".join(exc.messages) or str(exc)})
        return response


def error_response(exc: JiraError) -> Response:
    headers = dict(exc.headers)
    if exc.status == 401:
        headers.setdefault("X-Seraph-LoginReason", "AUTHENTICATED_FAILED")
    if exc.text is not None:
        return Response(
            exc.status, raw=exc.text.encode(), content_type="text/plain", headers=headers
        )
    return Response(exc.status, exc.body(), headers=headers)


def load_config(config: dict[str, Any] | str | os.PathLike[str] | None) -> dict[str, Any]:
    if config is None:
        return {}
    if isinstance(config, dict):
        return config
    data = json.loads(Path(config).read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{config}: the sandbox config must be a JSON object")
    return data


def _handler_for(site: SandboxJira) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "SandboxJira/1"

        def setup(self) -> None:
            super().setup()
            # headers and body go out in separate writes: without this, Nagle's algorithm
            # and the client's delayed ACK add ~40 ms to every keep-alive response
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with site._connections_lock:
                site._connections.add(self.connection)

        def finish(self) -> None:
            with site._connections_lock:
                site._connections.discard(self.connection)
            super().finish()

        def _serve(self) -> None:
            path, _, query = self.path.partition("?")
            body = read_body(self.rfile, self.headers)
            req = Request(
                method=self.command,
                path=unquote(path),
                query=parse_query(query),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            response = site.dispatch(req)
            payload = response.payload()
            self.send_response(response.status)
            if payload or response.status != 204:
                self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if payload:
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        def log_message(self, format: str, *args: Any) -> None:  # quiet by default
            log.debug("%s " + format, self.address_string(), *args)

    return Handler
