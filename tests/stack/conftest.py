"""The stack tier: the whole local stack (moto server, sandbox Jiras, two node processes)
started once per test session on free ports, exactly as ``make run`` starts it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.stack import REPO, LocalStack
from devstack.stackfile import load, with_free_ports


class NodeClient:
    """An administrator's view of one node: its admin API with its token."""

    def __init__(self, info: dict[str, Any]) -> None:
        self.info = info
        self.url = info["url"]
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {info['admin_token']}"

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.session.get(self.url + path, timeout=30, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> requests.Response:
        return self.session.post(self.url + path, json=body, timeout=30, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> requests.Response:
        return self.session.patch(self.url + path, json=body, timeout=30, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.session.delete(self.url + path, timeout=30, **kw)


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    spec = with_free_ports(load(REPO / "devstack" / "stack.toml"))
    workdir = Path(tmp_path_factory.mktemp("devstack"))
    stack = LocalStack(spec, workdir=workdir)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def stack_info(local_stack: LocalStack) -> dict[str, Any]:
    return json.loads((local_stack.workdir / "stack.json").read_text())


@pytest.fixture(scope="session")
def node_a(stack_info: dict[str, Any]) -> NodeClient:
    return NodeClient(stack_info["nodes"]["a"])


@pytest.fixture(scope="session")
def node_b(stack_info: dict[str, Any]) -> NodeClient:
    return NodeClient(stack_info["nodes"]["b"])
