"""Upgrading a stack made before 2026-12-04: the twins' lookup indexes, one per update.

The twins table's ``by_local_key`` and ``by_remote_key`` indexes projected every attribute,
so every write of a twin was billed again in each (issue 19); they are replaced by
``by_local_key_keys`` and ``by_remote_key_keys``, keys only. CloudFormation cannot change
an index in place and adds or drops one index per stack update, so a stack made before
goes through :data:`STEPS` updates (``python -m infra.package --upgrade-step N``, N = 1..3,
then the plain package): add the first new index, add the second, drop the first old one,
drop the second. The code of this release reads the old index while its replacement is
missing or backfilling (``chalicelib.sync.store``), so each step deploys the same code.
"""

from __future__ import annotations

import copy
from typing import Any

TABLE = "TwinsTable"
# the new index (keys only) -> the one it replaces (every attribute), in upgrade order
REPLACES = {"by_local_key_keys": "by_local_key", "by_remote_key_keys": "by_remote_key"}
STEPS = 2 * len(REPLACES)  # each new index added, then each old one dropped


def before(resources: dict[str, Any]) -> dict[str, Any]:
    """The template's resources as a stack made before this change has them."""
    return at_step(resources, 0)


def at_step(resources: dict[str, Any], step: int) -> dict[str, Any]:
    """The resources of upgrade step ``step`` (0: before, :data:`STEPS`: the template)."""
    if not 0 <= step <= STEPS:
        raise ValueError(f"an upgrade step is 1 to {STEPS}, not {step}")
    changed = copy.deepcopy(resources)
    properties = changed["Resources"][TABLE]["Properties"]
    current = {i["IndexName"]: i for i in properties["GlobalSecondaryIndexes"]}
    new_names = list(REPLACES)
    added = new_names[: min(step, len(new_names))]
    dropped = new_names[: max(0, step - len(new_names))]
    indexes = []
    for name, index in current.items():
        if name not in REPLACES:
            indexes.append(index)
            continue
        if name not in dropped:  # its old index is still there
            indexes.append(
                {**index, "IndexName": REPLACES[name], "Projection": {"ProjectionType": "ALL"}}
            )
        if name in added:
            indexes.append(index)
    properties["GlobalSecondaryIndexes"] = indexes
    return changed
