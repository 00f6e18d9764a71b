"""What a DynamoDB write bills (devstack.capacity): the benchmarks price writes on it."""

from __future__ import annotations

from devstack.capacity import Index, item_size, value_size, write_units

KEYS = ("connection_id", "local_key")


def item(**attrs: str) -> dict:
    return {k: {"S": v} for k, v in attrs.items()}


def test_sizes_follow_the_developer_guide():
    assert value_size({"S": "héllo"}) == 6  # UTF-8 bytes
    assert value_size({"N": "123.45"}) == 4  # 1 byte + a byte per two significant digits
    assert value_size({"BOOL": True}) == 1
    assert value_size({"L": [{"S": "ab"}, {"NULL": True}]}) == 3 + (1 + 2) + (1 + 1)
    assert value_size({"M": {"k": {"S": "ab"}}}) == 3 + 1 + 1 + 2
    assert item_size(item(name="abc")) == 4 + 3
    assert item_size(None) == 0


def test_a_write_bills_a_unit_per_started_kb_of_the_larger_item():
    small, big = item(pk="a", v="x"), item(pk="a", v="x" * 2500)
    assert write_units(None, small) == 1
    assert write_units(small, big) == 3  # 2.5 KB after
    assert write_units(big, small) == 3  # the larger of before and after
    assert write_units(big, None) == 3  # a delete: the item it deleted
    assert write_units(big, big) == 3  # a failed condition still bills the item


def test_an_index_that_projects_everything_bills_every_change_again():
    everything = Index(keys=("local_key",), projection="ALL")
    keys_only = Index(keys=("local_key",), projection="KEYS_ONLY")
    before = item(connection_id="c", local_key="A-1", lease="1", blob="x" * 3000)
    after = {**before, "lease": {"S": "2"}}
    assert write_units(before, after, indexes=[everything], table_keys=KEYS) == 3 + 3
    # the keys did not change: a keys-only index is not written
    assert write_units(before, after, indexes=[keys_only], table_keys=KEYS) == 3
    # a new item is put in every index whose keys it has
    assert write_units(None, after, indexes=[keys_only], table_keys=KEYS) == 3 + 1


def test_an_index_entry_that_moves_bills_its_delete_and_its_put():
    by_remote = Index(keys=("remote_key",), projection="KEYS_ONLY")
    before = item(connection_id="c", local_key="A-1", remote_key="B-1")
    after = {**before, "remote_key": {"S": "B-2"}}
    assert write_units(before, after, indexes=[by_remote], table_keys=KEYS) == 1 + 2
    unlinked = {k: v for k, v in before.items() if k != "remote_key"}
    assert write_units(unlinked, before, indexes=[by_remote], table_keys=KEYS) == 1 + 1
    # an item without the index's key is not in the index: nothing to write there
    assert write_units(unlinked, unlinked, indexes=[by_remote], table_keys=KEYS) == 1


def test_an_include_index_is_written_when_what_it_projects_changes():
    index = Index(keys=("local_key",), projection="INCLUDE", include=("status",))
    before = item(connection_id="c", local_key="A-1", status="active", other="x")
    other = {**before, "other": {"S": "y"}}
    assert write_units(before, other, indexes=[index], table_keys=KEYS) == 1
    changed = {**before, "status": {"S": "stopped"}}
    assert write_units(before, changed, indexes=[index], table_keys=KEYS) == 2
