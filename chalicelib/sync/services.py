"""The sync stages' collaborators, as one value every stage takes (``deps=``).

Built by the composition root (:mod:`chalicelib.root`) once per container; tests pass their
own tracker, peer client or fetcher instead of patching anything.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from chalicelib import queues
from chalicelib.config import Settings
from chalicelib.store.keys import get_key, set_key
from chalicelib.store.namespaces import INTEGRATION_USER
from chalicelib.sync import lanes

if TYPE_CHECKING:  # the collaborators' types: their modules load where they are built
    from chalicelib.net.outbound import Fetcher
    from chalicelib.net.peer import PeerClient
    from chalicelib.sync.blobs import BlobStore
    from chalicelib.trackers.base import Project, Tracker

log = logging.getLogger("twinsync.sync.services")

PROJECT_TTL_S = 300
KNOWN_USER_TTL_S = 300  # how long intake trusts the integration user id it read
# How long after a create Jira's search may still not show the issue (Atlassian: Cloud's
# search/jql is eventually consistent, usually seconds). Crash recovery waits this long
# for an issue an earlier attempt may have created before it creates one itself.
SEARCH_SETTLE = timedelta(seconds=60)


class SyncDeps(msgspec.Struct):
    settings: Settings
    tracker: Tracker
    peer: PeerClient
    fetch: Fetcher
    blobs: BlobStore
    blob_fetch: Fetcher | None = None
    send: Callable[..., None] = queues.send
    hooks: dict[str, Callable[..., Any]] = msgspec.field(default_factory=dict)
    search_settle: timedelta = SEARCH_SETTLE
    _integration_user: str | None = None
    _known_user: tuple[float, str | None] | None = None
    _projects: dict[str, tuple[float, Project]] = msgspec.field(default_factory=dict)

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
            _remember_integration_user(self._integration_user)
        return self._integration_user

    def known_integration_user_id(self) -> str | None:
        """The integration user's id without a tracker call (webhook intake, issue 19):
        what this container learnt, else what a worker remembered in the keys table (read
        at most every :data:`KNOWN_USER_TTL_S`); None while nobody knows it yet."""
        if self._integration_user is not None:
            return self._integration_user
        now = time.monotonic()
        if self._known_user is None or now - self._known_user[0] > KNOWN_USER_TTL_S:
            item = get_key(INTEGRATION_USER)
            self._known_user = (now, item.value if item and item.value else None)
        return self._known_user[1]

    def enqueue(self, queue_url: str, body: dict[str, Any], *, group: str, dedup: str) -> None:
        # catch-up work goes to the stage's catch-up queue (chalicelib.sync.lanes)
        url = lanes.route(queue_url, self.settings.resources)
        self.send(url, body, group_id=group, dedup_id=dedup, region=self.settings.region)

    def hook(self, name: str, **kwargs: Any) -> None:
        """Named seams where tests inject faults (e.g. a crash after a tracker write)."""
        callback = self.hooks.get(name)
        if callback is not None:
            callback(**kwargs)


def _remember_integration_user(user_id: str) -> None:
    """Once per container that asked the tracker: intake drops our own changes early."""
    try:
        set_key(INTEGRATION_USER, user_id)
    except Exception:  # intake then queues them, and ingest skips them as before
        log.warning("could not remember the integration user", exc_info=True)
