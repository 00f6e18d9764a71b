"""A stack made before 2026-12-04 keeps finding its twins through every upgrade step.

The twins' two lookup indexes now project keys only (issue 19: an index projecting every
attribute bills every write of a twin again). CloudFormation adds or drops one index per
update, so an upgrade goes in steps (docs/deploy.md, "Upgrading"); until the new index is
there, the one it replaces is read."""

from __future__ import annotations

import json

import boto3
import pytest

from chalicelib.store.models import TwinModel
from chalicelib.sync.store import twin_by_remote, twins_of_issue
from devstack.aws import TEMPLATE

OLD = {"by_local_key_keys": "by_local_key", "by_remote_key_keys": "by_remote_key"}


def twins_table_with(index_names: set[str]) -> str:
    """A twins table like the template's, with these of its lookup indexes (old or new)."""
    spec = json.loads(TEMPLATE.read_text())["Resources"]["TwinsTable"]["Properties"]
    indexes = []
    for index in spec["GlobalSecondaryIndexes"]:
        for name, projection in ((index["IndexName"], None), (OLD.get(index["IndexName"]), "ALL")):
            if name in index_names:
                indexes.append(
                    {
                        **index,
                        "IndexName": name,
                        "Projection": {"ProjectionType": projection}
                        if projection
                        else index["Projection"],
                    }
                )
    name = "twins-" + "-".join(sorted(index_names))
    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName=name,
        AttributeDefinitions=spec["AttributeDefinitions"],
        KeySchema=spec["KeySchema"],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=indexes,
    )
    return name


@pytest.mark.parametrize(
    "indexes",
    [
        {"by_local_key", "by_remote_key", "by_created"},  # before the upgrade
        {"by_local_key", "by_remote_key", "by_created", "by_local_key_keys"},  # step 1
        {"by_local_key", "by_remote_key", "by_created", "by_local_key_keys", "by_remote_key_keys"},
        {"by_remote_key", "by_created", "by_local_key_keys", "by_remote_key_keys"},  # step 3
        {"by_created", "by_local_key_keys", "by_remote_key_keys"},  # step 4: the template
    ],
)
def test_twins_are_found_by_either_key_at_every_step(node, monkeypatch, indexes):
    monkeypatch.setattr(TwinModel.Meta, "table_name", twins_table_with(indexes))
    TwinModel("conn-1", "A-1", remote_key="B-7", status="synced").save()
    TwinModel("conn-2", "A-1", remote_key="C-3", status="synced").save()
    TwinModel("conn-3", "A-1", remote_key="D-1", status="stopped").save()

    found = twins_of_issue("A-1")
    assert sorted(t.connection_id for t in found) == ["conn-1", "conn-2"]
    assert {t.remote_key for t in found} == {"B-7", "C-3"}  # whole twins, not index keys
    twin = twin_by_remote("conn-2", "C-3")
    assert twin is not None and twin.local_key == "A-1" and twin.status == "synced"
    assert twin_by_remote("conn-2", "B-7") is None
    assert twins_of_issue("A-2") == []
