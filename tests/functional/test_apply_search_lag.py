"""Crash recovery of apply against a Jira whose search lags, as Atlassian documents for
Cloud's ``search/jql``: the issue an earlier attempt created may not be found at once.

The real Cloud adapter talks to a sandbox Jira with a search lag of a few hundred
milliseconds, on a clock the test moves (so "before the lag is over" is certain, not a
race). An apply crashes right after creating the twin issue; the queue's retry runs while
the search cannot see that issue yet. It must not create a second one: it asks to be
retried, and a retry once the lag is over finds the issue by its property.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from msgspec.structs import replace

from chalicelib.queues import RetryLater
from chalicelib.root import build_sync, root
from chalicelib.sync.apply import PROPERTY
from chalicelib.sync.store import twin_by_remote
from chalicelib.trackers.jira_cloud import JiraCloud
from devstack.sandbox_jira import SandboxAdmin, SandboxJira
from tests.factories.connections import saved_connection
from tests.functional.test_apply import Env, Sent, apply_all, receive, replica

LAG_MS = 400
DEADLINE_S = 15


class Clock:
    """The sandbox's clock (epoch ms): real time when started, then moved by the test."""

    def __init__(self) -> None:
        self.now = int(time.time() * 1000)

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def lagging_site(clock: Clock) -> Iterator[SandboxJira]:
    with SandboxJira("cloud", webhook_backoff=(0.05,), clock=clock) as site:
        admin = SandboxAdmin(site.url)
        admin.create_project("OPS", "Operations", issue_types=["Task", "Bug"])
        admin.create_user(display_name="Bot", email="bot@a.test", token="t")
        admin.settings(search_lag_ms=LAG_MS)
        yield site


@pytest.fixture
def env(node, lagging_site: SandboxJira) -> Env:
    tracker = JiraCloud(lagging_site.url, "bot@a.test", "t")
    sent = Sent()
    deps = build_sync(root().settings, tracker=tracker, send=sent, fetch=lambda *a, **k: None)
    return Env(tracker, sent, deps, saved_connection("conn-1"))  # type: ignore[arg-type]


def issues_in_ops(site: SandboxJira) -> list[str]:
    return sorted(i.key for i in site.store.issues.values())


def noop(**_: object) -> None:
    return None


def crash(**_: object) -> None:
    raise RuntimeError("injected crash after the tracker write")


def retry_until_twin(env: Env, messages: list) -> int:
    """Run the queue's retries until the twin is recorded; how many said "later"."""
    later = 0
    deadline = time.monotonic() + DEADLINE_S
    while twin_by_remote("conn-1", "ALPHA-1") is None:
        assert time.monotonic() < deadline, "the twin was never recorded"
        try:
            apply_all(env, messages, after_create=noop, before_create=noop)
        except RetryLater:
            later += 1
    return later


def test_a_retry_while_search_lags_waits_instead_of_creating_a_duplicate(
    env: Env, lagging_site: SandboxJira, clock: Clock
) -> None:
    messages = receive(env, replica())
    with pytest.raises(RuntimeError):
        apply_all(env, messages, after_create=crash)
    [created] = issues_in_ops(lagging_site)
    marker = {"connection_id": "conn-1", "remote_key": "ALPHA-1"}
    # the search does not show the new issue yet: the recovery cannot find it now
    assert env.tracker.find_issues_with_property("OPS", PROPERTY, marker) == []
    with pytest.raises(RetryLater):
        apply_all(env, messages, after_create=noop)
    assert issues_in_ops(lagging_site) == [created]  # no duplicate
    clock.now += LAG_MS  # the index catches up
    assert env.tracker.find_issues_with_property("OPS", PROPERTY, marker) == [created]
    apply_all(env, messages, after_create=noop)
    assert issues_in_ops(lagging_site) == [created]
    assert twin_by_remote("conn-1", "ALPHA-1").local_key == created


def test_once_the_settle_time_is_over_a_missing_issue_is_created(
    env: Env, lagging_site: SandboxJira
) -> None:
    """The earlier attempt stopped before creating anything: after the settle time the
    retry creates the twin (here the settle time is zero)."""
    env.deps = replace(env.deps, search_settle=timedelta(0))
    messages = receive(env, replica())
    with pytest.raises(RuntimeError):
        apply_all(env, messages, before_create=crash)
    assert issues_in_ops(lagging_site) == []
    assert retry_until_twin(env, messages) == 0
    assert len(issues_in_ops(lagging_site)) == 1
