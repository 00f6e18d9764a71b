"""Plain text <-> ADF, the ``convert`` entry point, and random text through every format."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.trackers.formats import (
    adf_to_text,
    adf_to_wiki,
    convert,
    text_to_adf,
    wiki_to_adf,
)


def test_text_to_adf_paragraphs_and_breaks() -> None:
    doc = text_to_adf("one\ntwo\n\n  \nthree")
    assert doc == {
        "type": "doc",
        "version": 1,
        "content": [
            {
                "type": "paragraph",
                "content": [
                    {"type": "text", "text": "one"},
                    {"type": "hardBreak"},
                    {"type": "text", "text": "two"},
                ],
            },
            {"type": "paragraph", "content": [{"type": "text", "text": "three"}]},
        ],
    }
    assert adf_to_text(doc) == "one\ntwo\n\nthree"


def test_text_to_adf_takes_no_markup() -> None:
    node = text_to_adf("*not bold* [x|y]")["content"][0]["content"][0]
    assert node == {"type": "text", "text": "*not bold* [x|y]"}


def test_adf_to_text_of_structures() -> None:
    wiki = "h1. T\n\n* a\n** b\n# c\n\n||h||\n|x|\n\n{code}\nx = 1\n{code}"
    assert adf_to_text(wiki_to_adf(wiki)) == "T\n\n- a\n  - b\n\n1. c\n\nh\nx\n\nx = 1"


@pytest.mark.parametrize("junk", [None, 3, "{", [], {"type": "text"}, {"content": [1, None]}])
def test_adf_to_text_never_raises(junk: Any) -> None:
    assert isinstance(adf_to_text(junk), str)


def test_text_to_adf_of_non_strings() -> None:
    assert text_to_adf(None)["content"] == []
    assert adf_to_text(text_to_adf(12)) == "12"


def test_convert_between_all_formats() -> None:
    wiki = "h2. Title\n\n*bold* text"
    adf = convert("wiki", wiki, "adf")
    assert adf["content"][0]["type"] == "heading"
    assert convert("adf", adf, "wiki") == wiki
    assert convert("adf", adf, "text") == "Title\n\nbold text"
    assert convert("wiki", wiki, "text") == "Title\n\nbold text"
    assert convert("text", "a *b*", "wiki") == "a \\*b\\*"
    assert convert("text", "a\nb", "adf") == text_to_adf("a\nb")


def test_convert_same_format_and_bad_values() -> None:
    assert convert("wiki", "x", "wiki") == "x"
    assert convert("text", None, "text") == ""
    assert convert("adf", None, "adf") == {"type": "doc", "version": 1, "content": []}
    assert convert("wiki", None, "adf")["content"] == []
    assert convert("adf", "garbage", "wiki") == "garbage"


def test_convert_refuses_unknown_format_names() -> None:
    with pytest.raises(ValueError, match="unknown body format"):
        convert("markdown", "x", "wiki")
    with pytest.raises(ValueError, match="unknown body format"):
        convert("wiki", "x", "html")


# Text made mostly of the characters that mean something in wiki markup.
_ALPHABET = st.sampled_from(
    [
        *"ab1 .:/\n\t*_+-^~!#|{}[]\\&;?@é",
        *("h1. ", "bq. ", "----", "http://x.io/a_b ", "&#92;", "{{", "}}", "[~accountid:x]"),
        *("!a.png!", "{code}", "{quote}", "{info}", "{color:red}", "{color}", "{*}", "||"),
        *("\n* ", "\n# ", "\n|", "[x|http://y.z]", "[^f.pdf]", "\\\\"),
    ]
)
_TEXT = st.lists(_ALPHABET, max_size=60).map("".join)


def _normal(text: str) -> str:
    """Whitespace-insensitive form: what survives paragraphs, breaks and cell trimming."""
    return " ".join(text.split())


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_random_text_survives_text_adf_wiki_adf_text(value: str) -> None:
    wiki = adf_to_wiki(text_to_adf(value))
    assert _normal(adf_to_text(wiki_to_adf(wiki))) == _normal(value)


@settings(max_examples=200, deadline=None)
@given(_TEXT)
def test_random_wiki_never_raises_and_its_wiki_is_a_fixed_point(value: str) -> None:
    wiki = adf_to_wiki(wiki_to_adf(value))
    assert adf_to_wiki(wiki_to_adf(wiki)) == wiki


_MARKS = [
    {"type": "strong"},
    {"type": "em"},
    {"type": "underline"},
    {"type": "strike"},
    {"type": "subsup", "attrs": {"type": "sub"}},
    {"type": "subsup", "attrs": {"type": "sup"}},
    {"type": "textColor", "attrs": {"color": "#ff5630"}},
    {"type": "link", "attrs": {"href": "https://e.com/x"}},
    {"type": "code"},
]


def _valid_marks(chosen: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One mark per type; code only with link (the ADF rules)."""
    by_type = {m["type"]: m for m in chosen}
    if "code" in by_type:
        by_type = {k: v for k, v in by_type.items() if k in ("code", "link")}
    return list(by_type.values())


_MARKED_TEXT = st.builds(
    lambda value, chosen: {"type": "text", "text": value, "marks": _valid_marks(chosen)},
    st.lists(st.sampled_from(list("ab1 *_+-^~!#|{}[]\\&.:/")), min_size=1, max_size=8).map("".join),
    st.lists(st.sampled_from(_MARKS), max_size=3),
)


def _chars(nodes: list[dict[str, Any]]) -> list[tuple[str, frozenset[str]]]:
    """Each character with its marks (whitespace: no marks, edges trimmed)."""
    out = []
    for node in nodes:
        keys = frozenset(json.dumps(m, sort_keys=True) for m in node.get("marks", []))
        out.extend((ch, frozenset() if ch.isspace() else keys) for ch in node.get("text", ""))
    while out and out[0][0].isspace():
        out.pop(0)
    while out and out[-1][0].isspace():
        out.pop()
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(_MARKED_TEXT, min_size=1, max_size=6))
def test_random_marked_text_survives_adf_wiki_adf(nodes: list[dict[str, Any]]) -> None:
    doc = {"type": "doc", "content": [{"type": "paragraph", "content": copy.deepcopy(nodes)}]}
    back = wiki_to_adf(adf_to_wiki(doc))
    inline = [n for block in back["content"] for n in block.get("content", [])]
    assert _chars(inline) == _chars(nodes)


def test_bold_hash_at_a_line_start_is_not_read_back_as_a_list() -> None:
    """Found by the property above: ``*#* `` opens a nested list in wiki markup."""
    bold = {"type": "text", "text": "# ", "marks": [{"type": "strong"}]}
    doc = {"type": "doc", "content": [{"type": "paragraph", "content": [bold]}]}
    back = wiki_to_adf(adf_to_wiki(doc))
    assert [b["type"] for b in back["content"]] == ["paragraph"]
    assert _chars(back["content"][0]["content"]) == _chars([bold])
