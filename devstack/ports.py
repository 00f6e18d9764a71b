"""The local stack's ports: each one it is told to use must be free before anything starts.

A port that already answers belongs to someone else (another engineer's stack, another
moto, any program): the stack must neither talk to it nor hide the clash behind a
half-started stack. :func:`ensure_free` checks every fixed port of a stack file at once
and names each busy one with the stack-file key that asked for it.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterable

from devstack.stackfile import StackSpec

HOST = "127.0.0.1"


class PortBusy(RuntimeError):
    """One or more ports the stack file names are taken by a program the stack did not start."""

    def __init__(self, busy: list[tuple[str, int]]) -> None:
        self.busy = busy
        named = ", ".join(f"port {port} ({where})" for where, port in busy)
        super().__init__(
            f"{named} already in use on {HOST} by a program this stack did not start; "
            "stop that program or choose another port in the stack file (0 picks a free one)"
        )


def fixed_ports(spec: StackSpec) -> list[tuple[str, int]]:
    """``[(stack-file key, port)]`` for every port that is not 0 (0: any free port)."""
    ports = [("aws.port", spec.aws_port)]
    ports += [(f"trackers.{n}.port", t.port) for n, t in spec.trackers.items() if t.sandbox]
    ports += [(f"nodes.{n}.port", node.port) for n, node in spec.nodes.items()]
    return [(where, port) for where, port in ports if port]


def is_free(port: int, host: str = HOST) -> bool:
    """Whether a server could listen on ``host:port`` now (as our servers bind: reuse on)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def busy_ports(ports: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    return [(where, port) for where, port in ports if not is_free(port)]


def ensure_free(spec: StackSpec) -> None:
    """Raise :class:`PortBusy` naming every fixed port of ``spec`` that is taken."""
    busy = busy_ports(fixed_ports(spec))
    if busy:
        raise PortBusy(busy)
