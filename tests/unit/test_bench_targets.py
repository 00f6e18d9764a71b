"""`make bench` ends with issue 19's targets and the figures measured beside them."""

from __future__ import annotations

import pytest

from bench import _targets


def test_a_figure_is_judged_against_its_bound_in_either_direction():
    calls = _targets.BY_KEY["field_tracker_calls"]
    rate = _targets.BY_KEY["bulk_issues_per_hour"]
    assert calls.met(2.0) and not calls.met(3.0)
    assert rate.met(3_000) and not rate.met(2_999)
    assert not calls.met(float("nan"))


def test_the_table_lists_every_target_measured_or_not():
    shown = _targets.table({"field_tracker_calls": 3.0, "bulk_issues_per_hour": 4200.0})
    lines = shown.splitlines()
    assert len(lines) == 1 + len(_targets.TARGETS)
    assert "tracker calls per field change | 3.00 | <= 2.00 | NO | bench/pipeline.py" in lines
    assert "bulk job issues per hour | 4,200 | >= 3,000 | yes | bench/bulk.py" in lines
    assert sum("not measured" in line for line in lines) == len(_targets.TARGETS) - 2


def test_an_unknown_figure_is_refused():
    with pytest.raises(KeyError):
        _targets.record("tracker_calls_per_change", 1.0)


def test_a_figure_without_a_bound_is_shown_apart():
    shown = _targets.table({"field_api_invocations": 3.0, "field_invocations": 1.0})
    assert (
        "api_handler invocations per field change (webhooks, peer calls) | 3.00 | - "
        "| shown apart | bench/pipeline.py"
    ) in shown.splitlines()
    assert "function invocations per field change (the workers) | 1.00 | <= 3.00 | yes" in shown
