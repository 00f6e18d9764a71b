"""A small chaos soak (``tests/stack/soak.py``, the code ``bench/soak.py`` runs at size):
150 changes over 20 twins, both ways, with every fault kind of the benchmark; then the
twins compared through both sandbox trackers. Nothing doubled, nothing lost, no drift,
and each conflict both ends met recorded alike on both. ``TWINSYNC_SOAK_SEED`` (11) picks
another plan; a finding prints both ends' evidence (``evidence_text``).
"""

from __future__ import annotations

import os

import pytest

from tests.stack.soak import SoakPlan, evidence_text, run_soak

pytestmark = [pytest.mark.stack, pytest.mark.slow]


@pytest.mark.timeout(900)
def test_a_small_chaos_soak_ends_with_nothing_doubled_lost_or_drifted(local_stack, stack_info):
    seed = int(os.environ.get("TWINSYNC_SOAK_SEED", "11"))  # another run: another seed
    plan = SoakPlan(changes=150, twins=20, seed=seed, rate=5.0, min_window_s=5.0)
    result = run_soak(local_stack, stack_info, plan)
    evidence = evidence_text(result)
    if evidence:
        print(evidence)
    for line in result.explained:  # documented limits (ADR 0004), shown, not failed
        print(f"explained: {line}")

    assert result.quiet, f"the pipeline did not go quiet in {plan.quiet_timeout_s} s"
    assert result.changes_made >= plan.changes
    assert sum(result.duplicates.values()) == 0, result.duplicates
    assert result.lost == [], evidence or result.lost
    assert result.drift == [], evidence or result.drift
    # every planned conflict is recorded alike on both ends (below); an end may also record
    # a value the other end had itself replaced before the two met (a transient record,
    # one-sided): counted and shown by the bench, not a loss (issue 11 note). A planned
    # conflict one of whose edits was replaced on its own side by a newer edit before the
    # other edit arrived there was compared on one end at most: no pair to record alike
    assert result.conflicts_made > 0
    assert (
        result.conflicts_recorded_alike
        + result.conflicts_not_concurrent
        + result.conflicts_superseded
        == result.conflicts_made
    ), evidence
    for fault in ("webhooks dropped", "webhooks delivered 2-3 times"):
        assert result.faults[fault] > 0, fault
