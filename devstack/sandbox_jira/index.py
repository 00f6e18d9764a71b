"""The search index: what JQL sees of each issue, which may lag behind the issue itself.

Atlassian documents that Jira Cloud's ``search/jql`` is eventually consistent: an issue just
created or updated may not appear in results (or appear as it was) for a moment. With
``lag_ms`` above 0 every change to an issue is indexed ``lag_ms`` after it happens; until
then a search sees the version indexed before (a new issue: nothing). With ``lag_ms = 0``
(the default) searches see every change at once and nothing is tracked.

Reading an issue by key is never delayed, as in Jira. A deleted issue leaves results at once
(the sandbox does not imitate stale hits that 404 when read).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable

from .jql_eval import IssueDoc


class SearchIndex:
    """Per issue, the docs indexed so far and when each becomes searchable."""

    def __init__(self) -> None:
        self.lag_ms = 0
        self.entries: dict[int, list[tuple[int, IssueDoc]]] = {}  # id -> [(due ms, doc)]

    def set_lag(self, lag_ms: int, current: Iterable[IssueDoc]) -> None:
        """Change the lag; what exists now is indexed already (searchable at once)."""
        self.lag_ms = max(0, int(lag_ms))
        self.entries = {d.id: [(0, copy.deepcopy(d))] for d in current} if self.lag_ms else {}

    def touch(self, doc: IssueDoc, now_ms: int) -> None:
        """An issue changed (or was created): index this version ``lag_ms`` from now."""
        if self.lag_ms:
            # a copy: the doc shares the issue's property and custom field dicts
            self.entries.setdefault(doc.id, []).append((now_ms + self.lag_ms, copy.deepcopy(doc)))

    def view(
        self, ids: Iterable[int], current: Callable[[int], IssueDoc], now_ms: int
    ) -> list[IssueDoc]:
        """The docs a search sees now, for the issues that exist (``ids``)."""
        if not self.lag_ms:
            return [current(i) for i in ids]
        out = []
        for issue_id in ids:
            entries = self.entries.get(issue_id)
            if entries is None:  # never changed since the lag was set
                out.append(current(issue_id))
                continue
            ready = [e for e in entries if e[0] <= now_ms]
            if ready:  # keep the newest indexed version and what is still pending
                del entries[: entries.index(ready[-1])]
                out.append(ready[-1][1])
        return out
