"""The sandbox's ``issue_write_caps`` fault answers like Jira Cloud's per-issue limits."""

from __future__ import annotations

import pytest

from devstack.sandbox_jira.errors import JiraError
from devstack.sandbox_jira.faults import Faults


def test_writes_to_one_issue_over_the_cap_are_answered_429_with_retry_after():
    faults = Faults("cloud")
    faults.update({"issue_write_caps": True})
    for _ in range(20):
        faults.check("POST", "/rest/api/3/issue/ALPHA-1/comment")
    with pytest.raises(JiraError) as caught:
        faults.check("PUT", "/rest/api/3/issue/ALPHA-1")
    assert caught.value.status == 429
    assert caught.value.headers["RateLimit-Reason"] == "jira-per-issue-on-write"
    assert int(caught.value.headers["Retry-After"]) >= 1
    # reads, other issues and issue creation are not affected
    faults.check("GET", "/rest/api/3/issue/ALPHA-1")
    faults.check("POST", "/rest/api/3/issue/ALPHA-2/comment")
    faults.check("POST", "/rest/api/3/issue")


def test_off_by_default():
    faults = Faults("cloud")
    for _ in range(50):
        faults.check("POST", "/rest/api/3/issue/ALPHA-1/comment")
