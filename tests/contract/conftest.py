"""Contract fixtures: a started sandbox Jira of each flavour and the real adapters on it.

Everything talks over real HTTP on 127.0.0.1 (free ports); sites are stopped after use.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from chalicelib.config import TrackerSettings
from chalicelib.trackers.base import Body, Tracker
from chalicelib.trackers.factory import make_tracker
from devstack.sandbox_jira import SandboxAdmin, SandboxJira

PROJECT = "ABC"
OTHER = "XYZ"


def adf(text: str) -> dict[str, Any]:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


@dataclass
class Jira:
    """One sandbox site with projects, a bot (integration user) and a human, as adapters."""

    flavour: str
    site: SandboxJira
    admin: SandboxAdmin
    bot_user: dict[str, Any]
    alice_user: dict[str, Any]
    bot: Tracker
    alice: Tracker

    def body(self, text: str) -> Body:
        return Body("adf", adf(text)) if self.flavour == "cloud" else Body("wiki", text)

    def settings(self, user: dict[str, Any], *, token: str | None = None) -> TrackerSettings:
        return tracker_settings(self.site, user, token=token)


def tracker_settings(
    site: SandboxJira, user: dict[str, Any], *, token: str | None = None
) -> TrackerSettings:
    if site.flavour == "cloud":
        return TrackerSettings("jira_cloud", site.url, user["email"], token or user["token"])
    return TrackerSettings("jira_server", site.url, None, token or user["token"])


def make_user(admin: SandboxAdmin, flavour: str, name: str, display: str) -> dict[str, Any]:
    if flavour == "cloud":
        return admin.create_user(display_name=display, email=f"{name}@example.com")
    return admin.create_user(display_name=display, name=name)


@pytest.fixture(params=["cloud", "server"])
def jira(request: pytest.FixtureRequest) -> Iterator[Jira]:
    flavour = request.param
    with SandboxJira(flavour, webhook_backoff=(0.05, 0.1, 0.2)) as site:
        admin = SandboxAdmin(site.url)
        admin.create_project(
            PROJECT, "Alpha", issue_types=["Task", "Bug", "Story"], default_issue_type="Bug"
        )
        admin.create_project(OTHER, "Xylophone", issue_types=["Task"])
        bot_user = make_user(admin, flavour, "bot", "Sync Bot")
        alice_user = make_user(admin, flavour, "alice", "Alice")
        bot = make_tracker(tracker_settings(site, bot_user))
        alice = make_tracker(tracker_settings(site, alice_user))
        yield Jira(flavour, site, admin, bot_user, alice_user, bot, alice)
