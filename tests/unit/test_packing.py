"""Packed JSON: deflated against a preset dictionary, and every earlier form still reads."""

from __future__ import annotations

import json
import zlib

import pytest

from chalicelib.rules.merge import Register, Stamp, dump
from chalicelib.rules.replica import FIELDS, body_hash, field_hashes
from chalicelib.store import packing
from chalicelib.store.packing import DICTIONARIES, pack, unpack

# A dictionary is never changed once values are stored with it: they name it by checksum.
DICTIONARY_1 = 0xA35845C8


def a_replica(key: str = "ALPHA-7", connection: str = "9c4e2f1a-0d6b-4e7a-9b1c-2f3e4d5c6b7a"):
    at, origin = "2026-11-30T08:15:02.117Z", f"node-x#{connection}"
    return {
        "id": f"{connection}:{key}:4",
        "connection_id": connection,
        "entity": "issue",
        "key": key,
        "url": f"https://acme.atlassian.net/browse/{key}",
        "version": 4,
        "updated": "2026-11-30T08:15:02.117+0000",
        "summary": "Printer on fire in building 4",
        "description": {"format": "wiki", "value": "It *smokes*."},
        "type": {"name": "Bug"},
        "comments": [],
        "attachments": [],
        "labels": ["hardware"],
        "priority": {"name": "High"},
        "status": None,
        "fields": {},
        "removed": False,
        "stamps": {n: {"at": at, "origin": origin, "after": None} for n in sorted(FIELDS)},
    }


def test_the_dictionaries_never_change():
    first = zlib.adler32(packing._dictionary_1())
    assert first == DICTIONARY_1 and DICTIONARIES[first] == packing._dictionary_1(), (
        f"dictionary 1 changed (Adler-32 {first:#010x}): values stored with it would "
        "no longer read; add a new dictionary instead of editing one"
    )
    assert zlib.adler32(packing.CURRENT) in DICTIONARIES


def test_its_empty_value_hashes_are_the_replicas():
    assert body_hash(None) == packing._NULL
    assert body_hash([]) == packing._EMPTY_LIST
    assert body_hash({}) == packing._EMPTY_MAP


@pytest.mark.parametrize(
    "value",
    [
        a_replica(),
        field_hashes(a_replica()),
        dump(
            {"summary": Register(value="h", stamp=Stamp(at="2026-11-30T08:15:02.117Z", origin="a"))}
        ),
        [],
        {},
        {"text": "ünïcödé ✓", "n": 1.5, "none": None},
    ],
)
def test_a_value_reads_back_as_it_was_packed(value):
    assert unpack(pack(value)) == value


def test_the_dictionary_packs_a_replica_smaller_than_deflate_alone():
    replica = a_replica()
    plain = zlib.compress(json.dumps(replica, separators=(",", ":")).encode(), 9)
    assert len(pack(replica)) < 0.7 * len(plain)


def test_values_stored_before_read_the_same():
    value = a_replica()
    assert unpack(json.dumps(value)) == value  # the JSON string, before packing
    assert unpack(zlib.compress(json.dumps(value).encode())) == value  # deflate alone


def test_a_value_naming_an_unknown_dictionary_is_refused_not_misread():
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS, 9, zdict=b"some other dictionary")
    stored = packer.compress(b'{"a":1}') + packer.flush()
    with pytest.raises(ValueError, match="dictionary"):
        unpack(stored)
