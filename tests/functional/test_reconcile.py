"""The reconcile sweep: what no webhook announced is found, and only what needs it."""

from __future__ import annotations

import pytest

from chalicelib.ops import triggers
from chalicelib.runtime import ready
from chalicelib.store.models import TwinModel
from chalicelib.sync.deps import build_deps
from chalicelib.sync.reconcile import reconcile_all
from chalicelib.trackers.base import IssueFields
from tests.factories.connections import saved_connection
from tests.factories.memory_tracker import MemoryTracker


class Sent(list):
    def __call__(self, url, body, *, group_id, dedup_id, region):
        self.append(body)


@pytest.fixture
def sweep(node):
    tracker = MemoryTracker.with_projects("OPS")
    sent = Sent()
    deps = build_deps(ready(), tracker=tracker, send=sent, fetch=lambda *a, **k: None)
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


def test_a_sweep_waits_for_its_interval(sweep):
    _, deps = sweep
    reconcile_all(deps=deps)
    assert reconcile_all(deps=deps)["skipped"] is True
