"""Search may lag, as Atlassian documents for Cloud's ``search/jql``: a created or updated
issue shows in JQL results only ``search_lag_ms`` after the change (0, the default: at once).

The sandbox runs on a clock the tests move, so "before the lag is over" is certain; one
test uses the real clock and polls until the issue shows, with a deadline.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from devstack.sandbox_jira import SandboxJira
from devstack.sandbox_jira.admin import SandboxAdminError

from .conftest import Env

LAG_MS = 300


class Clock:
    def __init__(self) -> None:
        self.now = int(time.time() * 1000)

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def lagging(flavour: str, clock: Clock) -> Iterator[Env]:
    with SandboxJira(flavour, webhook_backoff=(0.05,), clock=clock) as site:
        env = Env(site)
        env.admin.settings(search_lag_ms=LAG_MS)
        yield env


def found(env: Env, jql: str) -> list[str]:
    path = "search/jql" if env.bot.cloud else "search"
    answer = env.bot.get(path, params={"jql": jql, "fields": "key"})
    assert answer.status_code == 200, answer.text
    return [i["key"] for i in answer.json()["issues"]]


def test_a_new_issue_shows_only_after_the_lag(lagging: Env, clock: Clock) -> None:
    key = lagging.bot.create_issue("Fresh")["key"]
    assert found(lagging, "project = ABC") == []
    assert lagging.bot.get(f"issue/{key}").status_code == 200  # reading by key: at once
    clock.now += LAG_MS - 1
    assert found(lagging, "project = ABC") == []
    clock.now += 1
    assert found(lagging, "project = ABC") == [key]


def test_an_update_shows_the_old_version_until_the_lag_is_over(lagging: Env, clock: Clock) -> None:
    key = lagging.bot.create_issue("Before")["key"]
    clock.now += LAG_MS
    assert lagging.bot.put(f"issue/{key}", json={"fields": {"summary": "After"}}).ok
    lagging.bot.put(f"issue/{key}/properties/twin", json={"remote": "X-1"})
    assert found(lagging, "summary ~ Before") == [key]
    assert found(lagging, "summary ~ After") == []
    assert found(lagging, "issue.property[twin].remote = X-1") == []
    clock.now += LAG_MS
    assert found(lagging, "summary ~ Before") == []
    assert found(lagging, "summary ~ After") == [key]
    assert found(lagging, "issue.property[twin].remote = X-1") == [key]


def test_issues_from_before_the_lag_was_set_show_at_once(env: Env) -> None:
    key = env.bot.create_issue("Old")["key"]
    env.admin.settings(search_lag_ms=60_000)
    assert found(env, "project = ABC") == [key]
    env.admin.settings(search_lag_ms=0)
    fresh = env.bot.create_issue("New")["key"]
    assert set(found(env, "project = ABC")) == {key, fresh}  # no lag: at once


def test_on_the_real_clock_a_poll_finds_the_issue_before_its_deadline(env: Env) -> None:
    env.admin.settings(search_lag_ms=LAG_MS)
    key = env.bot.create_issue("Polled")["key"]
    deadline = time.monotonic() + 10
    while key not in found(env, "project = ABC"):
        assert time.monotonic() < deadline, "the issue never showed in search"
        time.sleep(0.05)  # a poll interval, not a wait standing in for an event


def test_the_lag_setting_is_checked(env: Env) -> None:
    for bad in (-1, "300", 1.5, True):
        with pytest.raises(SandboxAdminError) as refused:
            env.admin.settings(search_lag_ms=bad)
        assert refused.value.status == 400
    assert env.admin.settings(search_lag_ms=250)["search_lag_ms"] == 250


def test_the_config_may_set_a_lag(clock: Clock) -> None:
    config = {
        "users": [{"display_name": "Bot", "email": "b@x.test", "name": "b", "token": "t"}],
        "projects": [{"key": "ABC", "name": "Alpha"}],
        "search_lag_ms": LAG_MS,
    }
    with SandboxJira("cloud", config=config, clock=clock) as site:
        assert site.store.index.lag_ms == LAG_MS
        site.reset()
        assert site.store.index.lag_ms == LAG_MS
