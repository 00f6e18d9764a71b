"""Shared pieces of the script tests: an in-process runner for the semantics (fast, no
process), and the contexts the sync workers build."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.rules import basic
from chalicelib.rules.plan import IncomingContext
from chalicelib.rules.replica import field_hashes, stamp
from chalicelib.rules.script.sandbox import execute
from tests.factories import BOT, project


class InProcessRunner:
    """Runs the sandbox's ``execute`` here: the semantics without the process walls
    (the walls have their own tests, through the real child process)."""

    def __init__(self) -> None:
        self.requests: list[Mapping[str, Any]] = []

    def run(self, request: Mapping[str, Any]) -> dict[str, Any]:
        self.requests.append(request)
        return execute(request)


def replica_of(source, version: int = 1, sha=None):
    raw = basic.outgoing(
        source, connection_id="c1", integration_user_id=BOT.id, attachment_sha=sha or {}
    )
    return stamp(raw, version=version)


def context(
    replica,
    *,
    first_sync=True,
    previous=None,
    fmt="wiki",
    proj=None,
    comment_map=None,
    attachment_map=None,
    link=False,
) -> IncomingContext:
    hashes = field_hashes(replica) if link else field_hashes(previous) if previous else {}
    return IncomingContext(
        replica=replica,
        previous=previous,
        first_sync=first_sync,
        project=proj or project(),
        body_format=fmt,
        remote_short_name="Acme",
        previous_hashes=hashes,
        comment_map=comment_map or {},
        attachment_map=attachment_map or {},
    )
