"""The reconcile sweep: what no webhook announced is found, and only what needs it."""

from __future__ import annotations

import pytest

from chalicelib.ops import triggers
from chalicelib.root import build_sync, root
from chalicelib.store.models import TwinModel
from chalicelib.sync.reconcile import reconcile_all
from chalicelib.trackers.base import IssueFields, Project, Unavailable
from tests.factories.connections import saved_connection
from tests.factories.memory_tracker import MemoryTracker
from tests.factories.paging import PagingHook


class Sent(list):
    def __call__(self, url, body, *, group_id, dedup_id, region):
        self.append(body)


@pytest.fixture
def sweep(node):
    tracker = MemoryTracker.with_projects("OPS")
    sent = Sent()
    deps = build_sync(root().settings, tracker=tracker, send=sent, fetch=lambda *a, **k: None)
    synced = tracker.create_issue("OPS", IssueFields(summary="under sync"))
    tracker.create_issue("OPS", IssueFields(summary="not under sync"))
    TwinModel(connection_id="conn-r", local_key=synced.key, remote_key="X-1").save()
    return sent, deps


def swept_keys(sent):
    return sorted(m["issue_key"] for m in sent if m.get("source") == "reconcile")


def test_only_issues_under_sync_are_read_again(sweep):
    sent, deps = sweep
    reconcile_all(deps=deps)
    assert swept_keys(sent) == ["OPS-1"]


def test_with_an_active_trigger_every_changed_issue_is_looked_at(sweep):
    sent, deps = sweep
    connection = saved_connection("conn-r")
    triggers.create(connection, {"jql": "project = OPS"}, deps=deps)
    reconcile_all(deps=deps)
    assert swept_keys(sent) == ["OPS-1", "OPS-2"]


def test_a_new_nodes_first_sweep_does_not_crawl_the_trackers_history(node):
    """300 issues changed half an hour before the connection was made: the first sweep
    looks back to the connection, so only the change made since is queued."""
    tracker = MemoryTracker.with_projects("OPS")
    sent = Sent()
    deps = build_sync(root().settings, tracker=tracker, send=sent, fetch=lambda *a, **k: None)
    for n in range(300):
        tracker.add_issue("OPS", f"history {n}", labels=("sync",))
    tracker.advance(30 * 60)
    triggers.create(saved_connection("conn-new"), {"jql": "labels = sync"}, deps=deps)
    new = tracker.add_issue("OPS", "made after the connection", labels=("sync",))

    result = reconcile_all(deps=deps)

    assert swept_keys(sent) == [new.key]
    assert result["checked"] == 1


def test_a_sweep_waits_for_its_interval(sweep):
    _, deps = sweep
    reconcile_all(deps=deps)
    assert reconcile_all(deps=deps)["skipped"] is True


# --- paging: a sweep reads every changed issue, across pages and runs ---------------------


@pytest.fixture
def many(node):
    """45 issues under sync on a tracker that pages by offset, and what the sweep queues."""
    tracker = MemoryTracker(projects=[Project("OPS", "Ops", ("Task",))])
    for n in range(45):
        key = tracker.add_issue("OPS", f"issue {n + 1}").key
        TwinModel(connection_id="conn-r", local_key=key, remote_key=f"X-{n + 1}").save()
    return tracker, Sent()


def sweeper(tracker, sent, **hooks):
    hooked = PagingHook(tracker, **hooks)
    return hooked, build_sync(
        root().settings, tracker=hooked, send=sent, fetch=lambda *a, **k: None
    )


def all_keys(count):
    return sorted(f"OPS-{n}" for n in range(1, count + 1))


def test_a_sweep_over_its_page_budget_continues_at_the_next_run(many):
    tracker, sent = many
    _, deps = sweeper(tracker, sent)

    first = reconcile_all(deps=deps, max_pages=2, page_size=10)
    assert first["more"] is True
    assert swept_keys(sent) == sorted(f"OPS-{n}" for n in range(1, 21))

    second = reconcile_all(deps=deps, max_pages=2, page_size=10)  # no wait for the interval
    assert second["more"] is True
    third = reconcile_all(deps=deps, max_pages=2, page_size=10)
    assert "more" not in third

    assert sorted(set(swept_keys(sent))) == all_keys(45)
    assert "OPS-45" in swept_keys(sent)  # the newest changes are reached
    assert len(sent) == 45  # each read once: the runs continue, they do not start over
    assert reconcile_all(deps=deps, max_pages=2, page_size=10)["skipped"] is True


def test_a_tracker_error_mid_sweep_keeps_the_cursor_where_it_was_read_to(many):
    tracker, sent = many
    _, deps = sweeper(tracker, sent, fail_on={3: Unavailable("Jira is down", status=503)})

    failed = reconcile_all(deps=deps, page_size=10)
    assert "Jira is down" in failed["error"]
    assert swept_keys(sent) == sorted(f"OPS-{n}" for n in range(1, 21))

    sent.clear()
    again = reconcile_all(deps=deps, page_size=10)  # the next scheduled run
    assert "error" not in again
    assert swept_keys(sent) == sorted(f"OPS-{n}" for n in range(21, 46))
