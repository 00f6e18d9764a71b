"""Our copies of the other side's links, noted on the twins (issue 18; an edit made during
an apply, issue 1): which reads mark a link ``copied``, anchor a note, or forget it."""

from __future__ import annotations

from chalicelib.sync.relations_apply import _marked

LINK = ["blocks", "outward", "SUP-2"]
SHOWN = {"type": "Blocks", "direction": "outward", "key": "SUP-2"}


def read(updated: str, *links: dict) -> dict:
    return {"updated": updated, "links": [dict(x) for x in links]}


def test_a_pending_copy_survives_a_read_from_before_the_link_and_is_marked_when_shown():
    pending = [[*LINK, None]]
    assert _marked(pending, read("2026-12-04T10:00:00.000+0000")) == pending  # older read
    replica = read("2026-12-04T10:00:05.000+0000", SHOWN)
    assert _marked(pending, replica) == [[*LINK, "2026-12-04T10:00:05.000Z"]]  # UTC
    assert replica["links"][0]["copied"] is True


def test_an_anchored_copy_is_forgotten_by_a_newer_read_without_it_only():
    anchored = [[*LINK, "2026-12-04T10:00:05.000Z"]]
    assert _marked(anchored, read("2026-12-04T10:00:04.000+0000")) == anchored  # older
    assert _marked(anchored, read("2026-12-04T10:00:05.000+0000")) == anchored  # the same
    assert _marked(anchored, read("2026-12-04T11:00:00.000+0200")) == anchored  # 09:00 UTC
    assert _marked(anchored, read("2026-12-04T10:00:06.000+0000")) == []  # a person removed it
    shown = read("2026-12-04T10:09:00.000+0000", SHOWN)
    assert _marked(anchored, shown) == anchored  # the first read that showed it stays
    assert shown["links"][0]["copied"] is True


def test_a_note_from_before_anchors_is_kept_while_shown_only():
    legacy = [list(LINK)]
    assert _marked(legacy, read("2026-12-04T10:00:00.000+0000", SHOWN)) == legacy
    assert _marked(legacy, read("2026-12-04T10:00:00.000+0000")) == []


def test_a_link_nobody_noted_is_not_marked():
    replica = read("2026-12-04T10:00:00.000+0000", SHOWN)
    assert _marked([["relates", "outward", "SUP-2", None]], replica) == [
        ["relates", "outward", "SUP-2", None]
    ]
    assert "copied" not in replica["links"][0]
