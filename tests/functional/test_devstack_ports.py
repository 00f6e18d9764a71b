"""The local stack refuses a port another program holds, names it, and never talks to it."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from devstack.aws import MotoProcess, PortInUse
from devstack.ports import PortBusy, fixed_ports
from devstack.stack import REPO, LocalStack
from devstack.stackfile import load, with_free_ports


@pytest.fixture
def squatter() -> Iterator[socket.socket]:
    """A listening socket on a free loopback port: someone else's server."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        sock.setblocking(False)
        yield sock


def _port(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


def _nobody_connected(sock: socket.socket) -> bool:
    try:
        conn, _ = sock.accept()
    except BlockingIOError:
        return True
    conn.close()
    return False


def test_fixed_ports_name_their_stack_file_keys():
    spec = load(REPO / "devstack" / "stack.toml")
    named = dict(fixed_ports(spec))
    assert named["aws.port"] == spec.aws_port
    assert named["nodes.a.port"] == spec.nodes["a"].port
    assert "trackers.a.port" in named
    assert fixed_ports(with_free_ports(spec)) == []


def test_the_stack_refuses_a_busy_aws_port_and_names_it(squatter, tmp_path):
    spec = with_free_ports(load(REPO / "devstack" / "stack.toml"))
    spec = replace(spec, aws_port=_port(squatter))
    stack = LocalStack(spec, workdir=tmp_path / "devstack")
    with pytest.raises(PortBusy) as refused:
        stack.start()
    assert f"port {_port(squatter)} (aws.port)" in str(refused.value)
    assert stack.moto is None and not stack.nodes and not stack.trackers
    assert _nobody_connected(squatter)


def test_the_stack_refuses_a_busy_node_port(squatter, tmp_path):
    spec = with_free_ports(load(REPO / "devstack" / "stack.toml"))
    nodes = dict(spec.nodes)
    nodes["b"] = replace(nodes["b"], port=_port(squatter))
    stack = LocalStack(replace(spec, nodes=nodes), workdir=tmp_path / "devstack")
    with pytest.raises(PortBusy, match=rf"port {_port(squatter)} \(nodes\.b\.port\)"):
        stack.start()
    assert _nobody_connected(squatter)


def test_the_embedded_aws_never_adopts_a_server_already_on_its_port(squatter):
    # The race the up-front check cannot close: the port is taken after it was checked.
    with pytest.raises(PortInUse, match=rf"port {_port(squatter)} \(aws\.port\)"):
        MotoProcess(_port(squatter))
    assert _nobody_connected(squatter)


def test_make_run_prints_the_busy_port_and_exits(squatter, tmp_path: Path):
    text = (REPO / "devstack" / "stack.toml").read_text()
    stack_file = tmp_path / "stack.toml"
    stack_file.write_text(text.replace("port = 5000", f"port = {_port(squatter)}", 1))
    result = subprocess.run(
        [sys.executable, "-m", "devstack", "--stack", str(stack_file)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert f"port {_port(squatter)} (aws.port) already in use" in result.stderr
    assert _nobody_connected(squatter)
