"""What the ADF -> wiki writer produces for each node and mark."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.trackers.formats import adf_to_wiki, wiki_to_adf


def _doc(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"type": "doc", "version": 1, "content": list(blocks)}


def _p(*inline: dict[str, Any]) -> dict[str, Any]:
    return {"type": "paragraph", "content": list(inline)}


def _t(text: str, *marks: str | dict[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": text}
    if marks:
        node["marks"] = [{"type": m} if isinstance(m, str) else m for m in marks]
    return node


@pytest.mark.parametrize(
    ("mark", "wiki"),
    [
        ("strong", "*x*"),
        ("em", "_x_"),
        ("underline", "+x+"),
        ("strike", "-x-"),
        ("code", "{{x}}"),
        ({"type": "subsup", "attrs": {"type": "sub"}}, "~x~"),
        ({"type": "subsup", "attrs": {"type": "sup"}}, "^x^"),
        ({"type": "textColor", "attrs": {"color": "#ff5630"}}, "{color:#ff5630}x{color}"),
        ({"type": "link", "attrs": {"href": "https://e.com"}}, "[x|https://e.com]"),
    ],
)
def test_each_mark(mark: Any, wiki: str) -> None:
    assert adf_to_wiki(_doc(_p(_t("x", mark)))) == wiki


def test_neighbouring_marks_share_delimiters_and_whitespace_moves_out() -> None:
    doc = _doc(_p(_t("a ", "strong"), _t("b", "strong", "em"), _t(" c ", "strong"), _t("d")))
    assert adf_to_wiki(doc) == "*a _b_ c* d"


def test_marks_inside_a_word_use_the_brace_form() -> None:
    assert (
        adf_to_wiki(_doc(_p(_t("un"), _t("believ", "strong"), _t("able")))) == "un{*}believ{*}able"
    )


def test_unknown_marks_keep_their_text() -> None:
    doc = _doc(_p(_t("x", {"type": "annotation", "attrs": {"id": "1"}}, {"type": "glow"})))
    assert adf_to_wiki(doc) == "x"


def test_text_that_looks_like_markup_is_escaped_and_reads_back() -> None:
    tricky = "*a* _b_ {c} [d|e] |f| !g.png! -h- ~i~ ^j^ +k+ \\ \\\\ &#92; --- a_b e-mail"
    wiki = adf_to_wiki(_doc(_p(_t(tricky))))
    assert wiki_to_adf(wiki)["content"][0]["content"] == [_t(tricky)]


@pytest.mark.parametrize(
    "line", ["h1. no", "bq. no", "* no", "# no", "- no", "----", "|no|", "{code}", "||x||"]
)
def test_text_lines_that_look_like_blocks_stay_text(line: str) -> None:
    doc = _doc(_p(_t("first"), {"type": "hardBreak"}, _t(line)))
    back = wiki_to_adf(adf_to_wiki(doc))
    assert back["content"] == [_p(_t("first"), {"type": "hardBreak"}, _t(line))]


def test_headings_and_rule() -> None:
    doc = _doc(
        *(
            {"type": "heading", "attrs": {"level": n}, "content": [_t(f"H{n}")]}
            for n in range(1, 7)
        ),
        {"type": "rule"},
    )
    assert adf_to_wiki(doc) == "h1. H1\n\nh2. H2\n\nh3. H3\n\nh4. H4\n\nh5. H5\n\nh6. H6\n\n----"


def _item(text: str, *nested: dict[str, Any]) -> dict[str, Any]:
    return {"type": "listItem", "content": [_p(_t(text)), *nested]}


def test_nested_mixed_lists() -> None:
    inner = {"type": "orderedList", "content": [_item("b1"), _item("b2")]}
    doc = _doc({"type": "bulletList", "content": [_item("a", inner), _item("c")]})
    assert adf_to_wiki(doc) == "* a\n*# b1\n*# b2\n* c"


def test_list_item_with_two_paragraphs_joins_them_with_a_line_break() -> None:
    item = {"type": "listItem", "content": [_p(_t("one")), _p(_t("two"))]}
    assert adf_to_wiki(_doc({"type": "bulletList", "content": [item]})) == "* one\\\\two"


def test_code_block_with_language_and_quote_and_panels() -> None:
    code = {"type": "codeBlock", "attrs": {"language": "java"}, "content": [_t("int x;")]}
    quote = {"type": "blockquote", "content": [_p(_t("q"))]}
    panels = [
        {"type": "panel", "attrs": {"panelType": kind}, "content": [_p(_t(kind))]}
        for kind in ("info", "note", "warning", "tip", "success", "error")
    ]
    wiki = adf_to_wiki(_doc(code, quote, *panels))
    assert wiki.split("\n\n") == [
        "{code:java}\nint x;\n{code}",
        "{quote}\nq\n{quote}",
        "{info}\ninfo\n{info}",
        "{note}\nnote\n{note}",
        "{warning}\nwarning\n{warning}",
        "{tip}\ntip\n{tip}",
        "{tip}\nsuccess\n{tip}",
        "{warning}\nerror\n{warning}",
    ]


def test_table_header_and_normal_cells() -> None:
    def cell(kind: str, text: str) -> dict[str, Any]:
        return {"type": kind, "content": [_p(_t(text))] if text else [_p()]}

    rows = [
        {"type": "tableRow", "content": [cell("tableHeader", "h1"), cell("tableHeader", "h2")]},
        {"type": "tableRow", "content": [cell("tableCell", "a|b"), cell("tableCell", "")]},
    ]
    assert adf_to_wiki(_doc({"type": "table", "content": rows})) == "||h1||h2||\n|a\\|b| |"


def test_atoms_degrade_to_text() -> None:
    doc = _doc(
        _p(
            {"type": "mention", "attrs": {"id": "acc-1", "text": "@Ann"}},
            _t(" "),
            {"type": "emoji", "attrs": {"shortName": ":smile:", "text": "😄"}},
            _t(" "),
            {"type": "date", "attrs": {"timestamp": "1767225600000"}},
            _t(" "),
            {"type": "status", "attrs": {"text": "IN PROGRESS", "color": "blue"}},
            _t(" "),
            {"type": "inlineCard", "attrs": {"url": "https://e.com/x"}},
        )
    )
    expected = "[~accountid:acc-1] :smile: 2026-01-01 IN PROGRESS [https://e.com/x|https://e.com/x|smart-link]"
    assert adf_to_wiki(doc) == expected


def test_media_is_a_reference_by_file_name() -> None:
    def single(attrs: dict[str, Any]) -> dict[str, Any]:
        return {"type": "mediaSingle", "content": [{"type": "media", "attrs": attrs}]}

    doc = _doc(
        single({"type": "file", "id": "m-1", "collection": "c", "alt": "shot.png"}),
        single({"type": "file", "id": "m-2", "collection": "c", "alt": "report.pdf"}),
        single({"type": "file", "id": "m-3", "collection": "c"}),
        single({"type": "external", "url": "https://e.com/a.png"}),
    )
    assert adf_to_wiki(doc) == "!shot.png!\n\n[^report.pdf]\n\n!https://e.com/a.png!"
    named = adf_to_wiki(doc, media_names={"m-3": "found.jpg"})
    assert "!found.jpg!" in named


def test_expand_and_task_list() -> None:
    expand = {"type": "expand", "attrs": {"title": "More"}, "content": [_p(_t("inside"))]}
    tasks = {
        "type": "taskList",
        "content": [
            {"type": "taskItem", "attrs": {"state": "DONE"}, "content": [_t("done")]},
            {"type": "taskItem", "attrs": {"state": "TODO"}, "content": [_t("todo")]},
        ],
    }
    assert adf_to_wiki(_doc(expand, tasks)) == "*More*\n\ninside\n\n\\[x\\] done\n\\[ \\] todo"


def test_unknown_nodes_degrade_to_their_content_or_text() -> None:
    doc = _doc(
        {"type": "bodiedExtension", "content": [_p(_t("kept"))]},
        {"type": "decisionList", "content": [{"type": "decisionItem", "content": [_t("decided")]}]},
        {"type": "extension", "attrs": {"text": "macro text"}},
        {"type": "somethingNew", "content": [_t("inline child")]},
    )
    assert adf_to_wiki(doc) == "kept\n\ndecided\n\nmacro text\n\ninline child"


@pytest.mark.parametrize(
    "junk",
    [
        None,
        42,
        "not json",
        [],
        {},
        {"type": "doc"},
        {"type": "doc", "content": "nope"},
        {"type": "doc", "content": [None, 3, {"type": "paragraph", "content": [{"text": 5}]}]},
        {
            "type": "doc",
            "content": [{"type": "heading", "attrs": {"level": "x"}, "content": [_t("h")]}],
        },
        {
            "type": "doc",
            "content": [{"type": "paragraph", "content": [{"type": "text", "marks": 7}]}],
        },
        {"type": "doc", "content": [{"type": "table", "content": [{"type": "tableRow"}]}]},
        {"type": "doc", "content": [{"type": "mention", "attrs": None}]},
        {"type": "doc", "content": [{"type": "date", "attrs": {"timestamp": "soon"}}]},
    ],
)
def test_malformed_input_never_raises(junk: Any) -> None:
    assert isinstance(adf_to_wiki(junk), str)


def test_a_json_string_is_accepted() -> None:
    assert (
        adf_to_wiki(
            '{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"hi"}]}]}'
        )
        == "hi"
    )
