"""The link back: a synced issue carries a remote link to its twin in the other tracker.

People in Jira see where an issue's twin lives ("Synced with OPS-12 by Twinsync", a link
to OPS-12) without installing anything. Each end links its own issue, once it knows its
twin's key and URL (the first replica it applies from the other end), and moves the link
when that key changes. A link is named ``twinsync:<connection id>`` (Jira's ``globalId``), so
placing it again updates it in place and two connections give an issue two links. When
syncing stops (an admin, the other end, a deletion) the link goes.

The link is a courtesy, never a condition: a tracker that refuses it (a permission, an
outage) does not fail or delay a sync; the next apply of this twin tries again.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from chalicelib.store.models import ConnectionModel, TwinModel
from chalicelib.sync.services import SyncDeps
from chalicelib.trackers.errors import TrackerError

if TYPE_CHECKING:  # the adapters' value types load with the adapter (cold start, issue 19)
    from chalicelib.trackers.base import RemoteLink

log = logging.getLogger("twinsync.link_back")

APPLICATION = "Twinsync"
RELATIONSHIP = "synced with"


def global_id(connection_id: str) -> str:
    return f"twinsync:{connection_id}"


def link_to(connection: ConnectionModel, remote_key: str, remote_url: str) -> RemoteLink:
    """The remote link an issue of ``connection`` carries to its twin ``remote_key``."""
    from chalicelib.trackers.base import RemoteLink

    other = connection.remote_short_name or "the other side"
    return RemoteLink(
        global_id=global_id(connection.id),
        url=remote_url,
        title=f"Synced with {remote_key} by Twinsync",
        summary=f"{other}, connection \u201c{connection.name}\u201d",
        relationship=RELATIONSHIP,
        application=APPLICATION,
    )


def wanted(twin: TwinModel, remote_key: str | None, remote_url: str | None) -> bool:
    """Whether this twin's issue lacks its link to ``remote_key`` (or points elsewhere)."""
    return bool(remote_key and remote_url) and twin.linked_back != remote_key


def place(
    connection: ConnectionModel,
    twin: TwinModel,
    remote_key: str,
    remote_url: str,
    *,
    deps: SyncDeps,
) -> bool:
    """Put the link on the twin's issue; False (and a log line) when the tracker refused."""
    try:
        deps.tracker.put_remote_link(twin.local_key, link_to(connection, remote_key, remote_url))
    except TrackerError as exc:
        log.warning("link back from %s to %s not placed: %s", twin.local_key, remote_key, exc)
        return False
    return True


def take_down(twin: TwinModel, *, deps: SyncDeps) -> None:
    """Remove the twin's link (best effort: a deleted issue has none left to remove)."""
    if not twin.linked_back:
        return
    try:
        deps.tracker.delete_remote_link(twin.local_key, global_id(twin.connection_id))
    except TrackerError as exc:
        log.warning("link back on %s not removed: %s", twin.local_key, exc)
        return
    twin.update(actions=[TwinModel.linked_back.remove()])
