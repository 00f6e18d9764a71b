"""A twin's bulk and an entry's replica are kept deflated; what was saved before reads."""

from __future__ import annotations

import json
import os

import boto3

from chalicelib.store.models import EntryModel, TwinModel


def raw_item(table: str, key: dict) -> dict:
    db = boto3.client("dynamodb", region_name="us-east-1")
    return db.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]


def test_a_twin_keeps_its_registers_deflated_and_reads_them_back(node):
    registers = {"summary": {"value": "Printer on fire " * 40, "at": 1, "origin": "a"}}
    replica = {"key": "B-1", "fields": {"description": "the same words " * 100}}
    TwinModel("conn-1", "A-1", merge_state=registers, last_applied_replica=replica).save()
    stored = raw_item(
        os.environ["TWINSYNC_TABLE_TWINS"],
        {"connection_id": {"S": "conn-1"}, "local_key": {"S": "A-1"}},
    )
    assert set(stored["merge_state"]) == {"B"}  # deflated, not the JSON text
    assert len(stored["last_applied_replica"]["B"]) < len(json.dumps(replica)) / 4
    twin = TwinModel.get("conn-1", "A-1", consistent_read=True)
    assert twin.merge_state == registers and twin.last_applied_replica == replica


def test_a_twin_saved_before_reads_the_same_and_is_deflated_by_its_next_write(node):
    table = os.environ["TWINSYNC_TABLE_TWINS"]
    key = {"connection_id": {"S": "conn-1"}, "local_key": {"S": "A-2"}}
    registers = {"summary": {"value": "old", "at": 1}}
    boto3.client("dynamodb", region_name="us-east-1").put_item(  # as JSONAttribute saved it
        TableName=table,
        Item={
            **key,
            "status": {"S": "synced"},
            "merge_state": {"S": json.dumps(registers)},
            "sent_hashes": {"S": json.dumps({"summary": "abc"})},
            "conflicts": {"S": "[]"},
        },
    )
    twin = TwinModel.get("conn-1", "A-2", consistent_read=True)
    assert twin.merge_state == registers
    assert twin.sent_hashes == {"summary": "abc"} and twin.conflicts == []
    twin.update(actions=[TwinModel.merge_state.set({"summary": {"value": "new", "at": 2}})])
    assert set(raw_item(table, key)["merge_state"]) == {"B"}
    again = TwinModel.get("conn-1", "A-2", consistent_read=True)
    assert again.merge_state["summary"]["value"] == "new"
    assert again.sent_hashes == {"summary": "abc"}  # untouched: still the old form, read


def test_an_entry_keeps_its_replica_deflated(node):
    replica = {"key": "A-1", "version": 3, "fields": {"summary": "x" * 500}}
    EntryModel(pk="conn-1#out", seq=7, replica_id="r", issue_key="A-1", replica=replica).save()
    assert EntryModel.get("conn-1#out", 7, consistent_read=True).replica == replica
