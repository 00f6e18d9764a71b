"""JSON kept deflated against a preset dictionary: the bulk of the items written most.

DynamoDB bills a write one unit per started KB of the whole item, however little of it
changed (issue 19). A twin's registers, last replica and sent hashes, and an outbox or
inbox entry's replica, are small JSON documents that repeat the same keys, field names and
hashes of empty values in every item: deflate alone cannot reuse what it has not yet seen
in the same value, so a preset dictionary (RFC 1950's FDICT) holding those strings halves
what is left (a replica of about 2.4 KB: 560 bytes deflated, 300 with the dictionary).

A stored value names its dictionary (the Adler-32 in its zlib header), so a value stays
readable after a dictionary is added: :data:`DICTIONARIES` only grows, and a dictionary in
it never changes (``tests/unit/test_packing.py`` pins each one's checksum). Values stored
before the dictionary (plain deflate) and before packing (a JSON string) read the same.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

_T = "2026-01-01T00:00:00.000Z"
_CONNECTION = "00000000-0000-0000-0000-000000000000"
_ORIGIN = "#".join(("local-a", _CONNECTION))  # an end's origin (not a key): node#connection
# truncated SHA-256 of the canonical JSON null, [] and {} (chalicelib.rules.replica.body_hash):
# the hash of most fields of most issues
_NULL = "74234e98afe7498fb5daf1f36ac2d78a"
_EMPTY_LIST = "4f53cda18c2baa0c0354bb5f9a3ecbe5"
_EMPTY_MAP = "44136fa355b3678a1146ad16f7e8649e"
# the replica's fields as of dictionary 1 (frozen here: a later field needs no change)
_FIELDS = (
    "summary",
    "description",
    "type",
    "labels",
    "priority",
    "status",
    "fields",
    "components",
    "fix_versions",
    "affects_versions",
    "due_date",
    "environment",
    "resolution",
    "assignee",
    "reporter",
    "parent",
)
_SETS = ("labels", "components", "fix_versions", "affects_versions")


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _dictionary_1() -> bytes:
    """Samples of what is packed, most common last (deflate reaches back 32 KB): a
    conflict, sent hashes, a replica with its stamps, merge registers."""
    conflict = [{"field": "summary", "kept": "", "lost": "", "at": _T, "origin": _ORIGIN}]
    hashes: dict[str, str] = dict.fromkeys(_FIELDS, _NULL)
    hashes.update(labels=_EMPTY_LIST, fields=_EMPTY_MAP)
    hashes.update({"comment:10000": _NULL, "attachment:10000": "0" * 64})
    stamps: dict[str, Any] = {}
    registers: dict[str, Any] = {}
    for name in sorted(_FIELDS):
        stamp: dict[str, Any] = {"at": _T, "origin": _ORIGIN, "after": None}
        register: dict[str, Any] = {"v": _NULL, "s": [_T, _ORIGIN], "p": None, "l": _NULL}
        register["show"] = "null"
        if name in _SETS:
            stamp["set"] = register["o"] = {"adds": {}, "gone": []}
        stamps[name] = stamp
        registers[name] = register
    adf = {
        "format": "adf",
        "value": {
            "type": "doc",
            "version": 1,
            "content": [{"type": "paragraph", "content": [{"type": "text", "text": ""}]}],
        },
    }
    moment = "2026-01-01T00:00:00.000+0000"
    replica = {
        "id": f"{_CONNECTION}:KEY-1:1",
        "connection_id": _CONNECTION,
        "entity": "issue",
        "key": "KEY-1",
        "url": "https://example.atlassian.net/browse/KEY-1",
        "version": 1,
        "updated": moment,
        "summary": "",
        "description": adf,
        "type": {"name": "Task"},
        "comments": [
            {
                "id": "10000",
                "author": {"name": ""},
                "created": moment,
                "updated": moment,
                "body": {"format": "wiki", "value": ""},
                "public": True,
            }
        ],
        "attachments": [
            {
                "id": "10000",
                "filename": ".txt",
                "size": 0,
                "mime_type": "text/plain",
                "sha256": "",
            }
        ],
        "labels": [],
        "priority": None,
        "status": None,
        "fields": {},
        "removed": False,
        "stamps": stamps,
        "twin_key": "KEY-1",
    }
    return "".join(map(_compact, (conflict, hashes, replica, registers))).encode()


# Adler-32 -> dictionary; only ever added to (a stored value names the one it was packed with)
DICTIONARIES: dict[int, bytes] = {zlib.adler32(d): d for d in (_dictionary_1(),)}
CURRENT = _dictionary_1()
_FDICT = 0x20  # the zlib header's flag: a preset dictionary's Adler-32 follows


def pack(value: Any) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS, 9, zdict=CURRENT)
    return packer.compress(_compact(value).encode()) + packer.flush()


def unpack(value: bytes | str) -> Any:
    if isinstance(value, str):  # a JSON string, stored before packing
        return json.loads(value)
    if len(value) > 6 and value[1] & _FDICT:
        dictionary = DICTIONARIES.get(int.from_bytes(value[2:6], "big"))
        if dictionary is None:
            raise ValueError("a packed value names a dictionary this version does not know")
        unpacker = zlib.decompressobj(zlib.MAX_WBITS, zdict=dictionary)
        return json.loads(unpacker.decompress(value) + unpacker.flush())
    return json.loads(zlib.decompress(value))  # deflated without a dictionary, stored before
