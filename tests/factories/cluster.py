"""Several nodes in one test process: each with its own tables (moto) and tracker (memory).

Only one node's settings can be live in a process at a time, so a call "to" a node makes it
the active one (environment, settings, table binding) for the duration of the call and
restores the caller afterwards. The peer client of every node gets :class:`NodeRouter` as
its transport: a request to ``https://b.twinsync.test/...`` is served by node B's app
through Chalice's test client. The real PeerClient (JWT signing, error parsing) is used;
only the network is replaced.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from chalicelib.net.errors import Unreachable
from chalicelib.net.outbound import HttpResponse
from chalicelib.root import Providers, root
from chalicelib.root import reset as root_reset
from tests.conftest import admin_headers
from tests.factories.memory_tracker import MemoryTracker


@dataclass
class TestNode:
    __test__ = False

    node_id: str
    env: dict[str, str]
    tracker: MemoryTracker
    down: bool = False
    stack: str | None = None  # resources created on first use (CloudFormation in moto)

    @property
    def url(self) -> str | None:
        return self.env.get("TWINSYNC_PUBLIC_URL")


@dataclass
class Answer:
    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def error(self) -> str | None:
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return self.body["error"]["code"]
        return None


class Cluster:
    """Nodes sharing one moto; ``call`` makes a node active and sends it a request."""

    def __init__(self, client: Any, nodes: list[TestNode]) -> None:
        self.client = client
        self.nodes = {n.node_id: n for n in nodes}
        self._stack: list[TestNode] = []
        self._keys = {k for n in nodes for k in n.env}
        self.router = NodeRouter(self)
        self._table_connections: dict[tuple[type, str], Any] = {}

    def __getitem__(self, node_id: str) -> TestNode:
        return self.nodes[node_id]

    def providers(self) -> Providers:
        return Providers(
            tracker=lambda settings: self.nodes[settings.node_id].tracker,
            fetcher=lambda settings: self.router,
        )

    @contextmanager
    def active(self, node: TestNode) -> Iterator[TestNode]:
        """Make ``node`` the process's node; the previous one comes back afterwards."""
        self._stack.append(node)
        self._activate(node)
        try:
            yield node
        finally:
            self._stack.pop()
            if self._stack:
                self._activate(self._stack[-1])

    def _activate(self, node: TestNode) -> None:
        if node.stack is not None:
            from devstack.aws import create_node_resources

            node.env.update(create_node_resources(node.stack))
            node.stack = None
        for key in self._keys:
            if key in node.env:
                os.environ[key] = node.env[key]
            else:
                os.environ.pop(key, None)
        root_reset()
        root()

        # the sync workers' collaborators belong to the node's settings
        self._reuse_table_connections()

    def _reuse_table_connections(self) -> None:
        """Keep one PynamoDB table connection per table (a new one loads botocore's models).

        PynamoDB replaces a model's cached connection whenever its table name changes,
        which here is every switch between nodes; each costs ~0.2 s per model.
        """
        from chalicelib.store.models import ALL_MODELS

        for model in ALL_MODELS.values():
            key = (model, model.Meta.table_name)
            if key in self._table_connections:
                model._connection = self._table_connections[key]
            else:
                self._table_connections[key] = model._get_connection()

    def raw(
        self,
        node: TestNode | str,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> Answer:
        target = self.nodes[node] if isinstance(node, str) else node
        with self.active(target):
            response = self.client.http.request(
                method, path, headers=dict(headers or {}), body=body
            )
        text = response.body.decode() if isinstance(response.body, bytes) else response.body
        data = json.loads(text) if text else None
        return Answer(response.status_code, data, response.headers)

    def admin(self, node: TestNode | str, method: str, path: str, body: Any = None) -> Answer:
        """An admin API call on ``node`` with its admin token."""
        payload = b"" if body is None else json.dumps(body).encode()
        return self.raw(node, method, path, headers=admin_headers(), body=payload)


class NodeRouter:
    """A Fetcher whose network is the cluster: URLs are matched to nodes' public URLs."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.requests: list[tuple[str, str]] = []

    def __call__(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> HttpResponse:
        self.requests.append((method, url))
        for node in self.cluster.nodes.values():
            if node.url and url.startswith(node.url.rstrip("/") + "/"):
                if node.down:
                    raise Unreachable(f"{urlsplit(url).hostname} did not answer (test: down)")
                path = url[len(node.url.rstrip("/")) :]
                answer = self.cluster.raw(node, method, path, headers=headers, body=body or b"")
                payload = b"" if answer.body is None else json.dumps(answer.body).encode()
                return HttpResponse(status=answer.status, headers=answer.headers, body=payload)
        raise Unreachable(f"{urlsplit(url).hostname} did not answer (test: no such node)")


A_URL = "https://a.twinsync.test"
B_URL = "https://b.twinsync.test"


@contextmanager
def three_nodes(
    aws: Mapping[str, str], monkeypatch: Any, **b_overrides: str | None
) -> Iterator[Cluster]:
    """Public node A (``aws`` resources), public node B and private node P.

    A's tracker has projects SUP, DEV and OPS; B's TEST and DEV; P's PRIV.
    """
    from chalice.test import Client

    from app import app
    from chalicelib.root import use_providers
    from tests.conftest import node_env

    nodes = [
        TestNode("node-a", {**node_env(), **aws}, MemoryTracker.with_projects("SUP", "DEV", "OPS")),
        TestNode(
            "node-b",
            {
                **node_env(
                    TWINSYNC_NODE_ID="node-b",
                    TWINSYNC_NODE_NAME="Node B",
                    TWINSYNC_PUBLIC_URL=B_URL,
                    **b_overrides,
                ),
            },
            MemoryTracker.with_projects("TEST", "DEV"),
            stack="test-node-b",
        ),
        TestNode(
            "node-p",
            {
                **node_env(
                    TWINSYNC_NODE_ID="node-p",
                    TWINSYNC_NODE_NAME="Node P",
                    TWINSYNC_PUBLIC_URL=None,
                ),
            },
            MemoryTracker.with_projects("PRIV"),
            stack="test-node-p",
        ),
    ]
    for key in {k for n in nodes for k in n.env}:
        monkeypatch.setenv(key, os.environ.get(key, ""))  # remembered and restored afterwards
    with Client(app) as client:
        cluster = Cluster(client, nodes)
        with use_providers(cluster.providers()):
            yield cluster
    root_reset()


def initiate_to_b(name: str = "A_to_B") -> dict[str, Any]:
    """The body with which node A initiates a Basic connection to B's URL (incoming SUP)."""
    return {
        "destination_url": B_URL,
        "mode": "basic",
        "local_short_name": "A",
        "remote_short_name": "B",
        "name": name,
        "incoming_project": "SUP",
    }


def connect_a_to_b(cluster: Cluster, name: str = "A_to_B") -> str:
    """Node A initiates a Basic connection to B's URL (incoming project SUP); B accepts it
    into TEST. Returns A's connection id."""
    created = cluster.admin("node-a", "POST", "/api/v1/connections", initiate_to_b(name))
    assert created.status == 201, created.body
    accepted = cluster.admin(
        "node-b",
        "POST",
        "/api/v1/invitations/accept",
        {"invitation_code": created.body["invitation_code"], "incoming_project": "TEST"},
    )
    assert accepted.status == 201, accepted.body
    return str(created.body["connection"]["id"])


def key_of(cluster: Cluster, cid: str, node: str = "node-a") -> bytes | None:
    """The connection key of ``cid`` on ``node``, opened as the node opens it."""
    from chalicelib.connections.store import open_key
    from chalicelib.store.models import ConnectionModel

    with cluster.active(cluster[node]):
        return open_key(ConnectionModel.get(cid))
