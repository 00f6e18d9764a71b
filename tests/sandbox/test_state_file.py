"""The sandbox's state file: a flush writes what changed, not the whole site, and a
restart reads back the snapshot and the journal, whatever a crash left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.sandbox_jira import SandboxJira
from devstack.sandbox_jira.store import Store, UserRec


def site_with_history(path: Path, issues: int) -> tuple[SandboxJira, UserRec]:
    site = SandboxJira("cloud", persist_path=path)  # not started: save() is called by hand
    store = site.store
    alice = store.add_user(display_name="Alice", email="alice@example.test")
    project = store.add_project(key="HIST", name="History")
    for n in range(issues):
        issue = store.create_issue(alice, project, {"issuetype": "Task", "summary": f"old {n}"})
        store.add_comment(alice, issue, f"comment {n}", None)
    site.save()
    return site, alice


def edit_cost(site: SandboxJira, alice: UserRec, edits: int) -> int:
    """Bytes written to persist ``edits`` edits of one issue, each flushed on its own."""
    assert site.state_file is not None
    store = site.store
    issue = store.issue("HIST-1")
    assert issue is not None
    before = site.state_file.bytes_written
    for n in range(edits):
        store.edit_issue(alice, issue, {"summary": f"edit {n}"})
        store.add_comment(alice, issue, f"reply {n}", None)
        site.save()
    return site.state_file.bytes_written - before


def test_a_flush_writes_what_changed_however_large_the_site(tmp_path: Path) -> None:
    small, alice_small = site_with_history(tmp_path / "small.json", issues=20)
    large, alice_large = site_with_history(tmp_path / "large.json", issues=500)
    assert (tmp_path / "large.json").stat().st_size > 10 * (tmp_path / "small.json").stat().st_size

    small_cost = edit_cost(small, alice_small, edits=10)
    large_cost = edit_cost(large, alice_large, edits=10)

    # the same edits cost the same bytes on a site 25 times the size (give or take the
    # counters' digits), and far less than one copy of the large site's state
    assert large_cost <= 1.2 * small_cost
    assert large_cost < (tmp_path / "large.json").stat().st_size / 10


def test_a_restart_reads_the_snapshot_and_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "jira.json"
    site, alice = site_with_history(path, issues=5)
    edit_cost(site, alice, edits=3)
    issue = site.store.issue("HIST-2")
    assert issue is not None
    site.store.delete_comment(alice, issue, site.store.issue_comments(issue)[0])
    site.save()
    assert path.with_name("jira.json.journal").stat().st_size > 0

    again = SandboxJira("cloud", persist_path=path)
    data, entries = again.state_file.load() if again.state_file else (None, [])
    assert data is not None and entries
    restored = Store("cloud")
    restored.load(data)
    for entry in entries:
        restored.apply_changes(entry)
    assert restored.dump() == site.store.dump()


@pytest.mark.parametrize("damage", ["torn last line", "lines of an older snapshot"])
def test_what_a_crash_leaves_in_the_journal_is_ignored(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "jira.json"
    site, alice = site_with_history(path, issues=3)
    edit_cost(site, alice, edits=1)
    kept = site.store.dump()
    journal = path.with_name("jira.json.journal")
    if damage == "torn last line":
        with journal.open("ab") as handle:
            handle.write(b'{"put": {"issues": [{"id": "10')  # the crash came mid-append
    else:
        stale = journal.read_bytes()
        assert site.state_file is not None
        site.state_file.write_snapshot(site.store.dump())  # a new generation…
        journal.write_bytes(stale.replace(b"HIST-1", b"HIST-9"))  # …and a journal not cut

    restarted = SandboxJira("cloud", persist_path=path)
    restarted.start()
    try:
        assert restarted.store.dump()["issues"] == kept["issues"]
    finally:
        restarted.stop()
