"""Plain text to and from ADF, and the text each ADF atom stands for.

Plain text is the lowest common denominator: what a body becomes when its format is
unknown, and what "unknown nodes degrade to their text" means everywhere else. The atom
texts (mention, emoji, date, status, cards, media) are shared with the wiki writer so
both formats say the same thing for a node they cannot express.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .adf import Node, as_doc, attr_str, attrs, children, doc, node_type, paragraph, text, text_of

_BLANK_LINES = re.compile(r"\n[ \t\f\v\r]*\n(?:[ \t\f\v\r]*\n)*")


def mention_text(node: Node) -> str:
    """The display text of a mention: its ``text`` attr, else ``@`` and its id."""
    shown = attr_str(node, "text")
    return shown or "@" + attr_str(node, "id")


def emoji_text(node: Node) -> str:
    """An emoji as its short name (``:smile:``), which survives every format."""
    return attr_str(node, "shortName") or attr_str(node, "text")


def date_text(node: Node) -> str:
    """A date node (epoch milliseconds, as a string) as an ISO date, in UTC."""
    raw = attr_str(node, "timestamp")
    try:
        return datetime.fromtimestamp(int(float(raw)) / 1000, tz=UTC).date().isoformat()
    except (ValueError, OverflowError, OSError):
        return raw


def card_url(node: Node) -> str:
    """The URL of an inline/block/embed card."""
    return attr_str(node, "url") or str(attrs(attrs(node).get("data")).get("url") or "")


def media_name(node: Node) -> str:
    """What names a media node for people: its file name (``alt``) or external URL."""
    return attr_str(node, "alt") or attr_str(node, "url")


_INLINE: dict[str, Callable[[Node], str]] = {
    "text": text_of,
    "hardBreak": lambda _n: "\n",
    "mention": mention_text,
    "emoji": emoji_text,
    "date": date_text,
    "status": lambda n: attr_str(n, "text"),
    "inlineCard": card_url,
    "blockCard": card_url,
    "embedCard": card_url,
    "media": media_name,
    "mediaInline": media_name,
    "placeholder": lambda _n: "",
}


def _join_blocks(nodes: list[Node], depth: int = 0) -> str:
    parts = [_node_text(n, depth) for n in nodes]
    return "\n\n".join(p for p in parts if p.strip())


def _inline_text(node: Node, _depth: int) -> str:
    return "".join(_node_text(c, 0) for c in children(node))


def _list_text(node: Node, depth: int) -> str:
    ordered = node_type(node) == "orderedList"
    start = _int(attrs(node).get("order"), 1)
    lines = []
    for index, item in enumerate(children(node)):
        bullet = f"{start + index}. " if ordered else "- "
        lines.append("  " * depth + bullet + _item_text(item, depth))
    return "\n".join(lines)


def _item_text(item: Node, depth: int) -> str:
    parts = []
    for child in children(item):
        if node_type(child) in ("bulletList", "orderedList", "taskList"):
            parts.append("\n" + _node_text(child, depth + 1))
        else:
            parts.append(_node_text(child, depth).replace("\n", " "))
    return "".join(parts).strip(" ")


def _task_list_text(node: Node, depth: int) -> str:
    lines = [
        _node_text(c, depth + 1 if node_type(c) == "taskList" else depth) for c in children(node)
    ]
    return "\n".join(line for line in lines if line)


def _task_item_text(node: Node, depth: int) -> str:
    box = "[x] " if attr_str(node, "state") == "DONE" else "[ ] "
    return "  " * depth + box + _inline_text(node, depth)


def _table_text(node: Node, _depth: int) -> str:
    rows = []
    for row in children(node):
        cells = [_join_blocks(children(cell)).replace("\n", " ") for cell in children(row)]
        rows.append(" | ".join(cells))
    return "\n".join(rows)


def _expand_text(node: Node, depth: int) -> str:
    title = attr_str(node, "title")
    body = _join_blocks(children(node), depth)
    return f"{title}\n\n{body}" if title else body


def _media_single_text(node: Node, depth: int) -> str:
    return _join_blocks(children(node), depth)


_BLOCK: dict[str, Callable[[Node, int], str]] = {
    "paragraph": _inline_text,
    "heading": _inline_text,
    "codeBlock": _inline_text,
    "caption": _inline_text,
    "bulletList": _list_text,
    "orderedList": _list_text,
    "taskList": _task_list_text,
    "taskItem": _task_item_text,
    "decisionItem": _inline_text,
    "table": _table_text,
    "expand": _expand_text,
    "nestedExpand": _expand_text,
    "mediaSingle": _media_single_text,
    "mediaGroup": _media_single_text,
}


def _node_text(node: Node, depth: int) -> str:
    kind = node_type(node)
    inline = _INLINE.get(kind)
    if inline is not None:
        return inline(node)
    render = _BLOCK.get(kind)
    if render is not None:
        return render(node, depth)
    content = children(node)
    if content and node_type(content[0]) in _INLINE:
        return _inline_text(node, depth)
    return _join_blocks(content, depth) or attr_str(node, "text")


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def adf_to_text(value: Any) -> str:
    """The plain text of an ADF document: blocks separated by blank lines, list items
    as ``- ``/``1. `` lines, tasks as ``[ ]``/``[x]``, table cells joined by `` | ``.
    Never raises; anything that is not a document yields "" or its best text."""
    return _join_blocks(children(as_doc(value))).strip("\n")


def text_to_adf(value: Any) -> Node:
    """Plain text as ADF: blank lines separate paragraphs, single newlines become hard
    breaks. No markup is interpreted (plain text has none)."""
    if value is None:
        return doc()
    source = value if isinstance(value, str) else str(value)
    source = source.replace("\r\n", "\n").replace("\r", "\n")
    blocks = []
    for chunk in _BLANK_LINES.split(source):
        if not chunk.strip():
            continue
        inline: list[Node] = []
        for number, line in enumerate(chunk.split("\n")):
            if number:
                inline.append({"type": "hardBreak"})
            if line:
                inline.append(text(line))
        blocks.append(paragraph(inline))
    return doc(blocks)
