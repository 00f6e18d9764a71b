"""The sync stages' dependencies, made once per container and replaceable in tests.

Stages take a :class:`SyncDeps` keyword argument; the default is built from the stage's
settings on first use (no network at import). Tests pass their own tracker, peer client or
fetcher instead of patching anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalicelib import queues
from chalicelib.config import Settings
from chalicelib.net.outbound import Fetcher
from chalicelib.net.peer import PeerClient
from chalicelib.ops.paced_tracker import paced
from chalicelib.runtime import ready
from chalicelib.sync.blobs import BlobStore, s3_client
from chalicelib.trackers.base import Project, Tracker

MAX_ATTACHMENT_BYTES = 256 * 1024 * 1024
PROJECT_TTL_S = 300


@dataclass
class SyncDeps:
    settings: Settings
    tracker: Tracker
    peer: PeerClient
    fetch: Fetcher
    blobs: BlobStore
    blob_fetch: Fetcher | None = None
    send: Callable[..., None] = queues.send
    hooks: dict[str, Callable[..., Any]] = field(default_factory=dict)
    _integration_user: str | None = None
    _projects: dict[str, tuple[float, Project]] = field(default_factory=dict)

    def project(self, key: str) -> Project:
        """A project's issue types, cached for a few minutes (they rarely change)."""
        cached = self._projects.get(key)
        if cached is not None and time.monotonic() - cached[0] < PROJECT_TTL_S:
            return cached[1]
        project = self.tracker.get_project(key)
        self._projects[key] = (time.monotonic(), project)
        return project

    def integration_user_id(self) -> str:
        if self._integration_user is None:
            self._integration_user = self.tracker.myself().id
        return self._integration_user

    def enqueue(self, queue_url: str, body: dict[str, Any], *, group: str, dedup: str) -> None:
        self.send(queue_url, body, group_id=group, dedup_id=dedup, region=self.settings.region)

    def hook(self, name: str, **kwargs: Any) -> None:
        """Named seams where tests inject faults (e.g. a crash after a tracker write)."""
        callback = self.hooks.get(name)
        if callback is not None:
            callback(**kwargs)


def build_deps(settings: Settings, **overrides: Any) -> SyncDeps:
    """Real dependencies from the settings, through the same providers the lifecycle uses."""
    from chalicelib.connections.wiring import providers

    chosen = providers()
    fetch = overrides.pop("fetch", None) or chosen.fetcher(settings)
    values: dict[str, Any] = {
        "settings": settings,
        "tracker": overrides.pop("tracker", None) or paced(chosen.tracker(settings)),
        "peer": overrides.pop("peer", None) or PeerClient(node_id=settings.node_id, fetch=fetch),
        "fetch": fetch,
        "blobs": overrides.pop("blobs", None)
        or BlobStore(settings.resources.blob_bucket, client=s3_client(settings.region)),
    }
    values.update(overrides)
    if "blob_fetch" not in values:
        values["blob_fetch"] = fetch if "fetch" in overrides else _blob_fetcher(settings, fetch)
    return SyncDeps(**values)


def _blob_fetcher(settings: Settings, fetch: Fetcher) -> Fetcher:
    """Attachment bytes are bigger than API answers: the same guard, a larger cap."""
    from chalicelib.net.outbound import GuardedFetcher
    from chalicelib.net.ssrf import OutboundPolicy

    if not isinstance(fetch, GuardedFetcher):
        return fetch  # a test transport
    return GuardedFetcher(OutboundPolicy.from_settings(settings), max_bytes=MAX_ATTACHMENT_BYTES)


_built: dict[int, SyncDeps] = {}


def default_deps() -> SyncDeps:
    """Built once per container (per installed providers, so tests can swap them)."""
    from chalicelib.connections.wiring import providers

    key = id(providers())
    if key not in _built:
        _built.clear()
        _built[key] = build_deps(ready())
    return _built[key]


def reset_default_deps() -> None:
    _built.clear()
