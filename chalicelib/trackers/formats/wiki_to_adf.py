"""Jira wiki markup (Jira Server REST v2 bodies) to ADF (Jira Cloud REST v3 bodies).

Line-oriented: at each line the first parser in ``_PARSERS`` that recognises a block
(blank line, ``{code}``/``{noformat}``/``{quote}``/panel macros, ``hN.``, ``bq.``,
``----``, list lines, table rows) consumes its lines; anything else is a paragraph that
runs to the next blank line or block start. Inline markup is ``wiki_inline``'s job.
Containers keep only children ADF allows there (``fit``); the rest degrades to
paragraphs of the same text rather than producing a body Jira Cloud would reject.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .adf import Node, block, children, doc, is_inline, node_type, paragraph, text
from .text import adf_to_text
from .wiki_inline import find_unescaped, lift, merge_text, parse_inline, trim_inline
from .wiki_syntax import (
    HEADING,
    LIST_ITEM,
    MACRO_OPEN,
    MACRO_TO_PANEL,
    QUOTE_LINE,
    RULE,
    TABLE_ROW,
    starts_block,
)

Parsed = tuple[list[Node], int] | None

_QUOTE_CHILDREN = frozenset({"paragraph", "bulletList", "orderedList", "codeBlock", "mediaSingle"})
_PANEL_CHILDREN = frozenset(
    {"paragraph", "heading", "bulletList", "orderedList", "codeBlock", "mediaSingle", "rule"}
)
_HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


def wiki_to_adf(value: Any) -> Node:
    """Wiki markup to an ADF document. Never raises: ``None`` or a non-string gives an
    empty document or the value's ``str``; unknown macros stay as text."""
    if value is None:
        return doc()
    source = value if isinstance(value, str) else str(value)
    lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return doc(parse_blocks(lines))


def parse_blocks(lines: list[str]) -> list[Node]:
    """Parse lines into ADF blocks (``lines`` may be rewritten when a macro closes
    mid-line: the rest of that line is parsed as a new line)."""
    lines = list(lines)
    blocks: list[Node] = []
    pos = 0
    while pos < len(lines):
        nodes, pos = next(r for parser in _PARSERS if (r := parser(lines, pos)) is not None)
        blocks.extend(nodes)
    return blocks


def _blank(lines: list[str], pos: int) -> Parsed:
    return ([], pos + 1) if not lines[pos].strip() else None


def _macro_body(lines: list[str], pos: int, name: str, rest: str) -> tuple[list[str], int]:
    """Lines up to the closing ``{name}``; the text after it is left in ``lines``."""
    closing = "{" + name + "}"
    body: list[str] = []
    current = rest
    while True:
        end = (
            current.find(closing)
            if name in ("code", "noformat")
            else find_unescaped(current, closing, 0)
        )
        if end >= 0:
            body.append(current[:end])
            after = current[end + len(closing) :]
            if after.strip():
                lines[pos] = after
                return body, pos
            return body, pos + 1
        body.append(current)
        pos += 1
        if pos >= len(lines):
            return body, pos
        current = lines[pos]


def _code_block(name: str, params: str, body: list[str]) -> Node:
    if body and not body[0].strip():
        body = body[1:]
    if body and not body[-1].strip():
        body = body[:-1]
    content = "\n".join(body)
    language = (
        params.split("|")[0].strip() if name == "code" and "=" not in params.split("|")[0] else ""
    )
    node: Node = {"type": "codeBlock", "content": [text(content)] if content else []}
    if language:
        node["attrs"] = {"language": language}
    return node


def _panel(name: str, params: str, body: list[str]) -> Node:
    options = dict(p.partition("=")[::2] for p in params.split("|") if "=" in p)
    options = {k.strip(): v.strip() for k, v in options.items()}
    content = parse_blocks(body)
    title = options.get("title")
    if title:
        content.insert(0, paragraph(_strong(parse_inline(title))))
    node_attrs: dict[str, str] = {"panelType": MACRO_TO_PANEL[name]}
    color = options.get("bgColor", "")
    if name == "panel" and _HEX_COLOR.fullmatch(color):
        node_attrs["panelColor"] = color.lower()
    return block("panel", fit(content, _PANEL_CHILDREN) or [paragraph()], **node_attrs)


def _strong(nodes: list[Node]) -> list[Node]:
    for node in nodes:
        if node_type(node) == "text":
            node.setdefault("marks", []).append({"type": "strong"})
    return merge_text(nodes)


def _macro(lines: list[str], pos: int) -> Parsed:
    match = MACRO_OPEN.match(lines[pos])
    if not match:
        return None
    name, params = match.group(1), match.group(2) or ""
    body, pos = _macro_body(lines, pos, name, match.group(3))
    if name in ("code", "noformat"):
        return [_code_block(name, params, body)], pos
    if name == "quote":
        content = fit(parse_blocks(body), _QUOTE_CHILDREN)
        return [block("blockquote", content or [paragraph()])], pos
    return [_panel(name, params, body)], pos


def _heading(lines: list[str], pos: int) -> Parsed:
    match = HEADING.match(lines[pos])
    if not match:
        return None
    parsed = parse_inline(match.group(2) or "")
    inline = trim_inline([n for n in parsed if is_inline(n)])
    lifted = [n for n in parsed if not is_inline(n)]  # images cannot live in a heading
    return [block("heading", inline, level=int(match.group(1))), *lifted], pos + 1


def _quote_line(lines: list[str], pos: int) -> Parsed:
    match = QUOTE_LINE.match(lines[pos])
    if not match:
        return None
    content = fit(lift(parse_inline(match.group(1) or "")), _QUOTE_CHILDREN)
    return [block("blockquote", content or [paragraph()])], pos + 1


def _rule(lines: list[str], pos: int) -> Parsed:
    return ([{"type": "rule"}], pos + 1) if RULE.match(lines[pos]) else None


def _list(lines: list[str], pos: int) -> Parsed:
    items: list[tuple[str, str]] = []
    while pos < len(lines) and not RULE.match(lines[pos]) and (m := LIST_ITEM.match(lines[pos])):
        items.append((m.group(1).replace("-", "*"), m.group(2)))
        pos += 1
    return (build_lists(items, 1), pos) if items else None


def build_lists(items: list[tuple[str, str]], depth: int) -> list[Node]:
    """Nested ADF lists from (markers, inline text) pairs, all at least ``depth`` deep."""
    lists: list[Node] = []
    for markers, body in items:
        at_depth = len(markers) == depth
        if not at_depth and lists:
            lists[-1]["content"][-1]["_deeper"].append((markers, body))
            continue
        kind = "orderedList" if markers[depth - 1] == "#" else "bulletList"
        if not lists or lists[-1]["type"] != kind:
            lists.append({"type": kind, "content": []})
        content = lift(parse_inline(body)) if at_depth else []
        deeper = [] if at_depth else [(markers, body)]
        lists[-1]["content"].append({"type": "listItem", "content": content, "_deeper": deeper})
    for node in lists:
        for item in node["content"]:
            deeper = item.pop("_deeper")
            item["content"] = (item["content"] or [paragraph()]) + build_lists(deeper, depth + 1)
    return lists


def _split_row(line: str) -> list[tuple[bool, str]]:
    """Cells of one table row as (is_header, raw inline markup)."""
    cells: list[tuple[bool, list[str]]] = []
    pos = line.index("|")
    while pos < len(line):
        if line.startswith("||", pos):
            cells.append((True, []))
            pos += 2
        elif line[pos] == "|":
            cells.append((False, []))
            pos += 1
        else:
            end = _span_end(line, pos)
            cells[-1][1].append(line[pos:end])
            pos = end
    if cells and not "".join(cells[-1][1]).strip():
        cells.pop()
    return [(header, "".join(parts)) for header, parts in cells]


def _span_end(line: str, pos: int) -> int:
    """End of the cell text starting at ``pos`` that cannot hold a cell separator."""
    for opener, closer in (("\\", None), ("{{", "}}"), ("[", "]")):
        if line.startswith(opener, pos):
            if closer is None:
                return min(pos + 2, len(line))
            end = find_unescaped(line, closer, pos + len(opener))
            return end + len(closer) if end >= 0 else pos + 1
    return pos + 1


def _table(lines: list[str], pos: int) -> Parsed:
    if not TABLE_ROW.match(lines[pos]):
        return None
    rows: list[Node] = []
    while pos < len(lines) and TABLE_ROW.match(lines[pos]):
        cells = [
            block("tableHeader" if header else "tableCell", lift(trim_inline(parse_inline(raw))))
            for header, raw in _split_row(lines[pos])
        ]
        if cells:
            rows.append(block("tableRow", cells))
        pos += 1
    return [block("table", rows)] if rows else [], pos


def _paragraph(lines: list[str], pos: int) -> Parsed:
    start = pos
    pos += 1
    while pos < len(lines) and lines[pos].strip() and not starts_block(lines[pos]):
        pos += 1
    return lift(parse_inline("\n".join(lines[start:pos]))), pos


_PARSERS: tuple[Callable[[list[str], int], Parsed], ...] = (
    _blank,
    _macro,
    _heading,
    _quote_line,
    _rule,
    _list,
    _table,
    _paragraph,
)


def fit(nodes: list[Node], allowed: frozenset[str]) -> list[Node]:
    """Keep the nodes a container allows; unwrap or flatten the rest to paragraphs."""
    fitted: list[Node] = []
    for node in nodes:
        kind = node_type(node)
        if kind in allowed:
            fitted.append(node)
        elif kind == "heading" and "paragraph" in allowed:
            fitted.append(paragraph(children(node)))
        elif kind in ("panel", "blockquote", "expand"):
            fitted.extend(fit(children(node), allowed))
        elif adf_to_text(node).strip():
            fitted.extend(paragraph([text(line)]) for line in adf_to_text(node).split("\n") if line)
    return fitted
