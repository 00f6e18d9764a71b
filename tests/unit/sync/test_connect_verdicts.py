"""The other end's verdict before a connect: read from the wire, turned into refusals."""

from __future__ import annotations

import pytest

from chalicelib.errors import Conflict, NotFound
from chalicelib.sync.connect import Verdict, parse_verdict, refuse_at_once


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"key": "SUP-1", "verdict": "connectable", "message": None}, Verdict("connectable")),
        ({"verdict": "not_found", "message": "gone"}, Verdict("not_found", "gone")),
        ({"verdict": "already_synced", "message": 7}, Verdict("already_synced")),
        ({"verdict": "maybe"}, None),  # a verdict this node does not know: not asked
        ({}, None),
        ([], None),
        (None, None),
    ],
)
def test_an_answer_is_a_verdict_or_none(answer, expected):
    assert parse_verdict(answer) == expected


@pytest.mark.parametrize("verdict", [None, Verdict("connectable"), Verdict("unknown")])
def test_only_a_no_refuses(verdict):
    refuse_at_once(verdict)  # nothing raised: the connect goes on


def test_a_missing_remote_issue_is_404_and_an_already_synced_one_409():
    with pytest.raises(NotFound) as missing:
        refuse_at_once(Verdict("not_found", "SUP-9 does not exist in the other instance."))
    assert (missing.value.code, missing.value.field) == ("remote_issue_not_found", "remote_key")
    assert "SUP-9" in missing.value.message
    with pytest.raises(Conflict) as taken:
        refuse_at_once(Verdict("already_synced"))
    assert (taken.value.code, taken.value.field) == ("remote_issue_already_synced", "remote_key")
    assert taken.value.message  # a sentence even when the other end gave none
