"""Upgrading a stack made before 2026-12-04: each step changes one index, as CloudFormation
requires, and the last step is the template itself."""

from __future__ import annotations

import pytest

from infra.package import load_resources
from infra.upgrade import STEPS, at_step, before


def indexes(resources: dict) -> dict[str, dict]:
    table = resources["Resources"]["TwinsTable"]["Properties"]
    return {i["IndexName"]: i for i in table["GlobalSecondaryIndexes"]}


def test_a_stack_made_before_had_both_lookups_projecting_every_attribute():
    old = indexes(before(load_resources()))
    assert set(old) == {"by_local_key", "by_remote_key", "by_created"}
    assert old["by_local_key"]["Projection"] == {"ProjectionType": "ALL"}
    assert old["by_remote_key"]["Projection"] == {"ProjectionType": "ALL"}


def test_each_step_adds_or_drops_one_index_and_changes_no_other():
    resources = load_resources()
    for step in range(1, STEPS + 1):
        previous, current = indexes(at_step(resources, step - 1)), indexes(at_step(resources, step))
        assert len(set(previous) ^ set(current)) == 1, step
        for name in set(previous) & set(current):
            assert previous[name] == current[name], (step, name)


def test_the_last_step_is_the_template_and_its_lookups_project_keys_only():
    resources = load_resources()
    assert at_step(resources, STEPS) == resources
    final = indexes(resources)
    assert final["by_local_key_keys"]["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    assert final["by_remote_key_keys"]["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    with pytest.raises(ValueError, match="an upgrade step is 1 to 4"):
        at_step(resources, STEPS + 1)
