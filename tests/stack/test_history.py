"""A node started beside a tracker with history: the history is not crawled, and a new
issue's first sync goes through as on a fresh site.

Its own stack (not the session's), started over a sandbox state made beforehand: project
ALPHA with 500 issues, each with a comment, all changed half an hour ago (well inside the
hour a first sweep used to read). The connection has a trigger, so every issue the sweep
brought would be read by the node to see whether it matches.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from devstack.sandbox_jira import SandboxJira
from devstack.sandbox_jira.timefmt import system_clock
from devstack.stack import LocalStack
from tests.stack.conftest import (
    NodeClient,
    connect,
    eventually,
    stack_spec_for_tests,
    tracker_as,
    twin_key,
)

HISTORY = 500
HALF_AN_HOUR_MS = 30 * 60 * 1000


def seed_history(state: Path) -> None:
    site = SandboxJira("cloud", persist_path=state, clock=lambda: system_clock() - HALF_AN_HOUR_MS)
    store = site.store
    old_timer = store.add_user(display_name="Old Timer", email="old@history.test")
    project = store.add_project(
        key="ALPHA",
        name="Alpha",
        issue_types=["Task", "Bug", "Story", "Epic"],
        default_issue_type="Task",
    )
    for n in range(HISTORY):
        values = {"issuetype": "Task", "summary": f"history {n}", "labels": ["old"]}
        issue = store.create_issue(old_timer, project, values)
        store.add_comment(old_timer, issue, f"comment {n}", None)
    site.save()


@pytest.fixture(scope="module")
def history_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    workdir = Path(tmp_path_factory.mktemp("devstack-history"))
    seed_history(workdir / "sandbox-a.json")
    # the first sweep comes 20 s after the nodes start: after the connection and its trigger
    spec = replace(stack_spec_for_tests(), reconcile_every=20.0)
    stack = LocalStack(spec, workdir=workdir)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


def test_a_new_node_beside_a_long_history_does_not_crawl_it(history_stack: LocalStack) -> None:
    info: dict[str, Any] = json.loads((history_stack.workdir / "stack.json").read_text())
    node_a, node_c = NodeClient(info["nodes"]["a"]), NodeClient(info["nodes"]["c"])
    cid = connect(node_a, node_c, initiator_project="ALPHA", acceptor_project="OPS")
    trigger = node_a.post(f"/api/v1/connections/{cid}/triggers", {"jql": "labels = sync"})
    assert trigger.status_code == 201, trigger.text
    made_at = datetime.fromisoformat(trigger.json()["created_at"])

    def swept() -> bool:
        reconcile = node_a.get("/api/v1/health").json()["reconcile"]
        last = reconcile.get("last_sweep_at")
        return bool(last) and datetime.fromisoformat(last) > made_at

    eventually(swept, timeout=90)  # a whole sweep ran with the trigger on

    alice = tracker_as(info, "a")
    from chalicelib.trackers.base import IssueFields

    new = alice.create_issue("ALPHA", IssueFields(summary="made today", issue_type="Task"))
    assert node_a.post(f"/api/v1/connections/{cid}/sync", {"issue_key": new.key}).ok
    eventually(lambda: twin_key(node_a, cid, new.key), timeout=60)

    bot = tracker_as(info, "a", "integration_user").myself().id
    old = re.compile(r"/issue/ALPHA-(\d+)(?:/|$)")
    read = {
        int(m.group(1))
        for r in history_stack.trackers["a"].admin.requests()
        if r["user"] == bot and (m := old.search(r["path"]))
    }
    assert sorted(n for n in read if n <= HISTORY) == []  # no issue of the history was read
    assert new.key.split("-")[1] == str(HISTORY + 1)
