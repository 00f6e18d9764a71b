"""The local stack: embedded AWS, sandbox trackers and Twinsync nodes on loopback.

``LocalStack(spec).start()`` brings everything up (the launcher for ``make run`` and the
fixture of the stack tests both use it), writes ``.devstack/stack.json`` with everything a
client needs, and ``stop()`` tears it down in reverse order.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack import aws
from devstack.ports import ensure_free
from devstack.stackfile import NodeSpec, StackSpec, TrackerSpec

REPO = Path(__file__).resolve().parent.parent
INTEGRATION_USER = "twinsync-bot"
HUMAN_USER = "alice"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class TrackerHandle:
    spec: TrackerSpec
    url: str
    integration: dict[str, str]
    human: dict[str, str] | None
    server: Any = None
    admin: Any = None

    def describe(self, webhook_secret: str | None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.spec.kind,
            "url": self.url,
            "sandbox": self.spec.sandbox,
            "webhooks": self.spec.webhooks,
            "integration_user": self.integration,
            "webhook_secret": webhook_secret,
        }
        if self.human:
            data["user"] = self.human
        return data


@dataclass
class NodeHandle:
    spec: NodeSpec
    url: str
    public_url: str | None
    admin_token: str
    webhook_secret: str
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None  # the process's own output (READY, crashes)
    json_log_path: Path | None = None  # the app's JSON log lines
    log_offset: int = 0  # where this start's output begins in ``log_path`` (appended to)

    def describe(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "public_url": self.public_url,
            "admin_token": self.admin_token,
            "tracker": self.spec.tracker,
            "node_id": self.env["TWINSYNC_NODE_ID"],
            "log": str(self.log_path) if self.log_path else None,
            "json_log": str(self.json_log_path) if self.json_log_path else None,
        }


@dataclass
class LocalStack:
    spec: StackSpec
    workdir: Path = REPO / ".devstack"
    trackers: dict[str, TrackerHandle] = field(default_factory=dict)
    nodes: dict[str, NodeHandle] = field(default_factory=dict)
    moto: Any = None
    aws_endpoint: str = ""

    # --- lifecycle --------------------------------------------------------------------

    def start(self) -> LocalStack:
        # Before anything starts: a taken port is named, never silently shared.
        ensure_free(self.spec)
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "logs").mkdir(exist_ok=True)
        try:
            self.moto = aws.MotoProcess(self.spec.aws_port)
            self.aws_endpoint = self.moto.endpoint
            for name, tracker in self.spec.trackers.items():
                self.trackers[name] = self._start_tracker(tracker)
            for name, node in self.spec.nodes.items():
                self.nodes[name] = self._start_node(node)
            for name in self.nodes:
                self._wait_ready(self.nodes[name])
            self._wire_webhooks()
            self.write_info()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for node in self.nodes.values():
            if node.process and node.process.poll() is None:
                node.process.terminate()
        for node in self.nodes.values():
            if node.process:
                try:
                    node.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    node.process.kill()
        for tracker in self.trackers.values():
            if tracker.server is not None:
                tracker.server.stop()
        if self.moto is not None:
            self.moto.stop()
            self.moto = None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- trackers ---------------------------------------------------------------------

    def _start_tracker(self, spec: TrackerSpec) -> TrackerHandle:
        if not spec.sandbox:
            token = os.environ.get(spec.token_env or "", "")
            if not token:
                raise RuntimeError(f"trackers.{spec.name}: set {spec.token_env} to the token")
            return TrackerHandle(
                spec=spec,
                url=str(spec.url),
                integration={"user": str(spec.user), "token": token},
                human=None,
            )
        from devstack.sandbox_jira import SandboxJira
        from devstack.sandbox_jira.admin import SandboxAdmin

        state = self.workdir / f"sandbox-{spec.name}.json"
        server = SandboxJira(flavour=spec.flavour, port=spec.port, persist_path=state)
        server.start()
        admin = SandboxAdmin(server.url)
        tokens = self._tokens(spec.name)
        users = {login: _ensure_user(admin, spec, login, tokens[login]) for login in tokens}
        for custom in spec.fields:
            _ensure_field(admin, custom)
        for project in spec.projects:
            _ensure_project(admin, project)
        return TrackerHandle(
            spec=spec,
            url=server.url,
            integration=users[INTEGRATION_USER],
            human=users[HUMAN_USER],
            server=server,
            admin=admin,
        )

    def _tokens(self, tracker: str) -> dict[str, str]:
        """Sandbox users' tokens, kept beside the sandbox state so a restart reuses them."""
        path = self.workdir / f"sandbox-{tracker}-tokens.json"
        if path.exists():
            return json.loads(path.read_text())
        tokens = {login: secrets.token_urlsafe(24) for login in (INTEGRATION_USER, HUMAN_USER)}
        path.write_text(json.dumps(tokens))
        path.chmod(0o600)
        return tokens

    def _wire_webhooks(self) -> None:
        for node in self.nodes.values():
            tracker = self.trackers[node.spec.tracker]
            if tracker.admin is None or not tracker.spec.webhooks:
                continue
            for old in tracker.admin.webhooks():  # a restart brings a new secret
                if old.get("name") == f"twinsync-{node.spec.name}":
                    tracker.admin.delete_webhook(str(old["id"]))
            tracker.admin.add_webhook(
                url=f"{node.url}/webhooks/jira",
                secret=node.webhook_secret,
                name=f"twinsync-{node.spec.name}",
                jql=node.spec.webhook_jql,
            )

    # --- nodes ------------------------------------------------------------------------

    def _node_env(self, spec: NodeSpec, port: int) -> NodeHandle:
        tracker = self.trackers[spec.tracker]
        url = f"http://127.0.0.1:{port}"
        admin_token = secrets.token_urlsafe(32)  # config.py asks for 32 bytes of randomness
        webhook_secret = secrets.token_urlsafe(24)
        env = {
            "TWINSYNC_NODE_ID": f"local-{spec.name}",
            "TWINSYNC_NODE_NAME": spec.label,
            "TWINSYNC_ADMIN_TOKEN": admin_token,
            "TWINSYNC_TRACKER_KIND": tracker.spec.kind,
            "TWINSYNC_TRACKER_URL": tracker.url,
            "TWINSYNC_TRACKER_USER": tracker.integration["user"],
            "TWINSYNC_TRACKER_TOKEN": tracker.integration["token"],
            "TWINSYNC_TRACKER_WEBHOOKS": "true" if tracker.spec.webhooks else "false",
            "TWINSYNC_WEBHOOK_SECRET": webhook_secret,
            "TWINSYNC_ALLOW_PRIVATE_URLS": "true",
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            "AWS_DEFAULT_REGION": aws.REGION,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
        }
        if spec.public:
            env["TWINSYNC_PUBLIC_URL"] = url
        # the sweep's cadence locally: the schedule fires as often as the stack file says
        env["TWINSYNC_RECONCILE_INTERVAL_SECONDS"] = str(max(1, int(self.spec.reconcile_every)))
        env.update(dict(spec.settings))
        env.update(aws.create_node_resources(f"ts-{spec.name}", endpoint_url=self.aws_endpoint))
        return NodeHandle(
            spec=spec,
            url=url,
            public_url=url if spec.public else None,
            admin_token=admin_token,
            webhook_secret=webhook_secret,
            env=env,
        )

    def _start_node(self, spec: NodeSpec, handle: NodeHandle | None = None) -> NodeHandle:
        if handle is None:
            handle = self._node_env(spec, spec.port or free_port())
            handle.log_path = self.workdir / "logs" / f"node-{spec.name}.log"
            handle.json_log_path = self.workdir / "logs" / f"{spec.name}.jsonl"
        port = int(handle.url.rsplit(":", 1)[1])
        assert handle.log_path is not None
        log_file = handle.log_path.open("ab")
        # the log is appended to across restarts (and runs over the same workdir): only
        # this start's READY line counts
        handle.log_offset = log_file.tell()
        base = {k: v for k, v in os.environ.items() if not k.startswith(("TWINSYNC_", "AWS_"))}
        base["PYTHONPATH"] = str(REPO)
        base["PYTHONUNBUFFERED"] = "1"
        handle.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devstack.node",
                "--port",
                str(port),
                "--poll-every",
                str(self.spec.poll_every),
                "--reconcile-every",
                str(self.spec.reconcile_every),
                "--stats",
                str(self.workdir / f"stats-{spec.name}.json"),
                *(["--log-file", str(handle.json_log_path)] if handle.json_log_path else []),
            ],
            cwd=REPO,
            env={**base, **handle.env},
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        log_file.close()
        return handle

    def stop_node(self, name: str) -> None:
        """Take one node down (as if its deployment were unreachable)."""
        node = self.nodes[name]
        if node.process and node.process.poll() is None:
            node.process.terminate()
            node.process.wait(timeout=10)

    def sweep_now(self, name: str) -> None:
        """Fire node ``name``'s reconcile schedule now (SIGUSR1; the run still skips a sweep
        within the node's ``TWINSYNC_RECONCILE_INTERVAL_SECONDS`` of the last one). Its
        stats count ``finished["reconcile"]`` when the run returns."""
        import signal

        process = self.nodes[name].process
        assert process is not None and process.poll() is None, f"node {name} is not running"
        process.send_signal(signal.SIGUSR1)

    def start_node(self, name: str) -> None:
        """Bring a stopped node back on the same port with the same settings and tables."""
        node = self.nodes[name]
        restarted = self._start_node(node.spec, handle=node)
        self._wait_ready(restarted)

    def _wait_ready(self, node: NodeHandle, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        assert node.log_path is not None and node.process is not None
        while time.monotonic() < deadline:
            text = node.log_path.read_bytes()[node.log_offset :].decode(errors="replace")
            if "READY " in text:
                return
            if node.process.poll() is not None:
                raise RuntimeError(f"node {node.spec.name} exited:\n{text[-4000:]}")
            time.sleep(0.05)
        raise RuntimeError(f"node {node.spec.name} not ready in {timeout}s; see {node.log_path}")

    def node_stats(self, name: str) -> dict[str, Any]:
        """What node ``name``'s functions did so far (written by the node every 0.5 s)."""
        path = self.workdir / f"stats-{name}.json"
        return json.loads(path.read_text()) if path.exists() else {}

    # --- info -------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        trackers = {}
        for name, tracker in self.trackers.items():
            secrets_for = [n.webhook_secret for n in self.nodes.values() if n.spec.tracker == name]
            trackers[name] = tracker.describe(secrets_for[0] if secrets_for else None)
        return {
            "aws_endpoint": self.aws_endpoint,
            "nodes": {name: node.describe() for name, node in self.nodes.items()},
            "trackers": trackers,
        }

    def write_info(self) -> Path:
        path = self.workdir / "stack.json"
        path.write_text(json.dumps(self.info(), indent=2))
        path.chmod(0o600)
        return path


def _ensure_user(admin: Any, spec: TrackerSpec, login: str, token: str) -> dict[str, str]:
    """Create a sandbox user (or find it after a restart); returns its credentials."""
    from devstack.sandbox_jira.admin import SandboxAdminError

    display = login.replace("-", " ").title()
    if spec.flavour == "cloud":
        who = {"email": f"{login}@{spec.name}.sandbox.test"}
    else:
        who = {"name": login}
    try:
        admin.create_user(display_name=display, token=token, **who)
    except SandboxAdminError as exc:
        if exc.status != 409:
            raise
    return {"user": who.get("email") or who["name"], "token": token}


def _ensure_field(admin: Any, custom: Any) -> None:
    """Define a custom field the stack file names (kept if the state already has it)."""
    from devstack.sandbox_jira.admin import SandboxAdminError

    try:
        admin.create_field(custom.name, field_type=custom.type, field_id=custom.id)
    except SandboxAdminError as exc:
        if exc.status != 409:
            raise


def _ensure_project(admin: Any, project: Any) -> None:
    from devstack.sandbox_jira.admin import SandboxAdminError

    try:
        admin.create_project(
            project.key,
            project.name,
            issue_types=list(project.issue_types),
            default_issue_type=project.default_issue_type,
            workflow=project.workflow,
            screens=project.screens,
        )
    except SandboxAdminError as exc:
        if exc.status not in (400, 409):
            raise
