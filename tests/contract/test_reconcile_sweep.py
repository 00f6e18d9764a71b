"""The reconcile sweep against the sandbox Jira: an edit while it pages lets nothing slip.

Both flavours, through the real adapters: Cloud pages with ``nextPageToken``, Server with
``startAt``. 150 issues changed in the window, pages of 100; between page 1 and page 2
someone edits an issue of page 1, which moves it to the end of ``ORDER BY updated``.
"""

from __future__ import annotations

from chalicelib.root import build_sync, root
from chalicelib.store.models import TwinModel
from chalicelib.sync.reconcile import reconcile_all
from chalicelib.trackers.base import IssueFields
from tests.contract.conftest import PROJECT, Jira
from tests.factories.paging import PagingHook

COUNT = 150


class Sent(list):
    def __call__(self, url, body, *, group_id, dedup_id, region):
        self.append(body)


def test_an_issue_edited_between_pages_lets_no_other_issue_slip(jira: Jira, node):
    keys = []
    for n in range(COUNT):
        key = jira.alice.create_issue(
            PROJECT, IssueFields(summary=f"issue {n + 1}", issue_type="Task")
        ).key
        TwinModel(connection_id="conn-s", local_key=key, remote_key=f"X-{n + 1}").save()
        keys.append(key)

    def edit_between_pages(number, page):
        if number == 1:
            jira.alice.update_issue(page.issues[4].key, IssueFields(summary="edited meanwhile"))

    hooked = PagingHook(jira.bot, after_page=edit_between_pages)
    sent = Sent()
    deps = build_sync(root().settings, tracker=hooked, send=sent, fetch=lambda *a, **k: None)

    result = reconcile_all(deps=deps)

    assert hooked.pages >= 2  # it did page, and the edit happened in between
    assert "error" not in result
    queued = {m["issue_key"] for m in sent if m.get("source") == "reconcile"}
    assert sorted(set(keys) - queued) == []
