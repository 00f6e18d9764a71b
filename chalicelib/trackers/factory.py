"""Build the tracker adapter a node's settings describe."""

from __future__ import annotations

import urllib3

from chalicelib.config import TrackerSettings
from chalicelib.trackers.base import Tracker


def make_tracker(settings: TrackerSettings, *, pool: urllib3.PoolManager | None = None) -> Tracker:
    """The adapter for ``settings.kind`` ("jira_cloud" | "jira_server").

    ``pool`` replaces the HTTP transport (tests); by default each tracker has its own.
    """
    if settings.kind == "jira_cloud":
        from chalicelib.trackers.jira_cloud import JiraCloud

        if not settings.user:
            raise ValueError("a Jira Cloud tracker needs the account's e-mail address as user")
        return JiraCloud(settings.url, settings.user, settings.token, pool=pool)
    if settings.kind == "jira_server":
        from chalicelib.trackers.jira_server import JiraServer

        return JiraServer(settings.url, settings.token, user=settings.user, pool=pool)
    raise ValueError(f"unknown tracker kind {settings.kind!r}")
