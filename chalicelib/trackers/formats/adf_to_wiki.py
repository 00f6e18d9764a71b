"""ADF (Jira Cloud REST v3 bodies) to Jira wiki markup (Jira Server REST v2 bodies).

Blocks: one small renderer per node type in ``_BLOCKS``; a node type without one
degrades to its content (if it has block children) or its plain text, never an error.
Inline content goes through ``_InlineWriter``, which keeps a stack of open marks so
that neighbouring text nodes sharing a mark share one delimiter pair (``*a _b_*``),
uses Jira's ``{*}..{*}`` form where a plain delimiter would touch a letter, and escapes
text by ``wiki_syntax.escape_text`` so the reader gets exactly the same text back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from .adf import Node, as_doc, attr_str, attrs, children, is_inline, mark_key, marks, node_type
from .adf import text as text_node
from .text import adf_to_text, card_url, date_text, emoji_text, mention_text
from .wiki_syntax import (
    CARD_TO_KIND,
    IMAGE_SUFFIXES,
    PANEL_TO_MACRO,
    SIMPLE_MARKS,
    SUBSUP,
    autolink_at,
    escape_code,
    escape_text,
)

_LISTS = ("bulletList", "orderedList")
_SIMPLE = frozenset("*_+-^~")
_SYMBOL = "+"  # stands for "markup follows" when escaping the last character of a text


class _Ctx(msgspec.Struct, frozen=True):
    media_names: Mapping[str, str] = msgspec.field(default_factory=dict)


# --- marks ------------------------------------------------------------------------------


def _delimiters(mark: Node) -> tuple[str, str] | None:
    """(open, close) for a supported mark; None drops it (its text stays)."""
    kind = node_type(mark)
    if kind in SIMPLE_MARKS:
        return SIMPLE_MARKS[kind], SIMPLE_MARKS[kind]
    if kind == "subsup":
        char = SUBSUP.get(attr_str(mark, "type"))
        return (char, char) if char else None
    if kind == "code":
        return "{{", "}}"
    if kind == "textColor" and attr_str(mark, "color").startswith("#"):
        return "{color:" + attr_str(mark, "color") + "}", "{color}"
    if kind == "link" and attr_str(mark, "href"):
        href = attr_str(mark, "href")
        for char, code in (("|", "%7C"), ("]", "%5D"), ("[", "%5B")):
            href = href.replace(char, code)
        return "[", "|" + href + "]"
    return None


def _supported(node: Node) -> list[Node]:
    if node_type(node) != "text":
        return []
    return [m for m in marks(node) if _delimiters(m) is not None]


def _keys(node: Node) -> set[str]:
    return {mark_key(m) for m in _supported(node)}


def _split_lines(nodes: list[Node]) -> list[Node]:
    out: list[Node] = []
    for node in nodes:
        value = node.get("text") if node_type(node) == "text" else None
        if not isinstance(value, str) or "\n" not in value:
            out.append(node)
            continue
        for number, line in enumerate(value.split("\n")):
            if number:
                out.append({"type": "hardBreak"})
            if line:
                out.append(text_node(line, _supported(node)))
    return out


def _keeps_space(mark: Node) -> bool:
    return node_type(mark) in ("code", "link", "textColor")


def _edge_marks(own: list[Node], neighbour: Node | None) -> list[Node]:
    shared = _keys(neighbour) if neighbour is not None else set()
    return [m for m in own if mark_key(m) in shared or _keeps_space(m)]


def _prepare(nodes: list[Node]) -> list[Node]:
    """Split newlines into hard breaks and move edge whitespace out of simple marks."""
    nodes = [n for n in _split_lines(nodes) if node_type(n) != "text" or n.get("text")]
    out: list[Node] = []
    for index, node in enumerate(nodes):
        own = _supported(node)
        value = node.get("text", "") if node_type(node) == "text" else ""
        core = value.strip()
        if not own or not isinstance(value, str) or core == value:
            out.append(text_node(value, own) if node_type(node) == "text" else node)
            continue
        before = nodes[index - 1] if index else None
        after = nodes[index + 1] if index + 1 < len(nodes) else None
        lead, trail = value[: len(value) - len(value.lstrip())], value[len(value.rstrip()) :]
        if not core:
            out.append(text_node(value, [m for m in own if _keeps_space(m)]))
            continue
        if lead:
            out.append(text_node(lead, _edge_marks(own, before)))
        out.append(text_node(core, own))
        if trail:
            out.append(text_node(trail, _edge_marks(own, after)))
    return out


# --- inline -----------------------------------------------------------------------------


class _InlineWriter:
    """Writes one run of inline nodes (a paragraph, heading, list item or cell)."""

    def __init__(self, ctx: _Ctx, single_line: bool) -> None:
        self.ctx = ctx
        self.single_line = single_line
        self.out: list[str] = []
        self.line = "x" if single_line else ""  # current output line, short-capped
        self.stack: list[Node] = []

    def emit(self, piece: str) -> None:
        if not piece:
            return
        self.out.append(piece)
        line = piece.rsplit("\n", 1)[-1] if "\n" in piece else self.line + piece
        self.line = line if len(line) < 8 else "xxxxxxxx"

    def last(self) -> str:
        return self.out[-1][-1] if self.out else ""

    def write(self, nodes: list[Node]) -> str:
        nodes = _prepare(nodes)
        for index, node in enumerate(nodes):
            nxt = nodes[index + 1] if index + 1 < len(nodes) else None
            bare = _bare_url(node, nxt, self.last())
            short = not bare and _short_link(node)
            wanted = [] if bare or short else _supported(node)
            self.sync(wanted, nodes, index)
            if bare or short:
                self.emit(node["text"] if bare else "[" + node["text"] + "]")
            else:
                self.node(node, nxt)
        self.sync([], nodes, len(nodes))
        return "".join(self.out)

    def sync(self, wanted: list[Node], nodes: list[Node], index: int) -> None:
        keys = {mark_key(m) for m in wanted}
        keep = 0
        while keep < len(self.stack) and mark_key(self.stack[keep]) in keys:
            keep += 1
        if any(node_type(m) == "code" for m in self.stack[:keep]) and len(wanted) > keep:
            keep = next(i for i, m in enumerate(self.stack) if node_type(m) == "code")  # innermost
        upcoming = nodes[index] if index < len(nodes) else None
        for mark in reversed(self.stack[keep:]):
            self.close(mark, upcoming)
        del self.stack[keep:]
        open_keys = {mark_key(m) for m in self.stack}
        new = [m for m in wanted if mark_key(m) not in open_keys]
        new.sort(key=lambda m: _open_order(m, nodes, index))
        for mark in new:
            self.open(mark, upcoming)
            self.stack.append(mark)

    def open(self, mark: Node, upcoming: Node | None) -> None:
        opener, _ = _delimiters(mark) or ("", "")
        following = (
            upcoming.get("text", "")[:1]
            if upcoming is not None and node_type(upcoming) == "text"
            else ""
        )
        if opener in _SIMPLE and (self.last().isalnum() or following.isspace()):
            opener = "{" + opener + "}"
        self.emit(opener)

    def close(self, mark: Node, upcoming: Node | None) -> None:
        _, closer = _delimiters(mark) or ("", "")
        following = (
            upcoming.get("text", "")[:1]
            if upcoming is not None and node_type(upcoming) == "text"
            else ""
        )
        if closer in _SIMPLE and (self.last().isspace() or following.isalnum() or not self.last()):
            closer = "{" + closer + "}"
        self.emit(closer)

    def node(self, node: Node, nxt: Node | None) -> None:
        kind = node_type(node)
        if kind == "text":
            self.text(node["text"], nxt)
        elif kind == "hardBreak":
            self.emit("\n" if self.breaks_line(nxt) else "\\\\")
        else:
            self.emit(_atom(node, self.ctx, self.last()))

    def breaks_line(self, nxt: Node | None) -> bool:
        """A hard break is a newline only between two lines with content (a blank line
        would end the paragraph); elsewhere it is ``\\\\``."""
        if self.single_line or not self.line.strip() or nxt is None:
            return False
        return node_type(nxt) != "hardBreak" and bool(nxt.get("text", "x").strip())

    def text(self, value: str, nxt: Node | None) -> None:
        if any(node_type(m) == "code" for m in self.stack):
            self.emit(escape_code(value))
            return
        after = ""
        if nxt is not None:
            same = _keys(nxt) == {mark_key(m) for m in self.stack} and node_type(nxt) == "text"
            after = nxt["text"][:1] if same else _SYMBOL
        self.emit(escape_text(value, self.last(), after, self.line))


def _open_order(mark: Node, nodes: list[Node], index: int) -> tuple[int, int, str]:
    """Open marks that last longest first; code (which must be innermost) last."""
    key = mark_key(mark)
    run = 0
    while index + run < len(nodes) and key in _keys(nodes[index + run]):
        run += 1
    return (node_type(mark) == "code", -run, key)


def _url_link(node: Node) -> bool:
    """Whether the node is plain text linked to itself (a URL that needs no label)."""
    link = _supported(node)
    if len(link) != 1 or node_type(link[0]) != "link":
        return False
    url = node.get("text", "")
    return attr_str(link[0], "href") == url and autolink_at(url, 0) == url


def _short_link(node: Node) -> bool:
    """Whether ``[url]`` says it: a self-linked URL that needs no escaping."""
    return _url_link(node) and escape_text(node["text"], "[", "]") == node["text"]


def _bare_url(node: Node, nxt: Node | None, before: str) -> bool:
    """Whether a link whose text is its URL can be written as the bare URL: the reader
    must find exactly this URL there (the same test as its autolinking)."""
    if not _url_link(node) or before.isalnum():
        return False
    if nxt is not None and node_type(nxt) not in ("text", "hardBreak"):
        return False
    following = nxt.get("text", "") if nxt is not None and node_type(nxt) == "text" else ""
    url = node["text"]
    return autolink_at(url + escape_text(following, "+"), 0) == url


def _atom(node: Node, ctx: _Ctx, before: str) -> str:
    """Wiki for a non-text inline node (mention, emoji, date, status, card, media)."""
    kind = node_type(node)
    if kind == "mention" and attr_str(node, "id"):
        return "[~accountid:" + attr_str(node, "id") + "]"
    if kind in CARD_TO_KIND and card_url(node):
        return f"[{card_url(node)}|{card_url(node)}|{CARD_TO_KIND[kind]}]"
    if kind in ("media", "mediaInline"):
        return _media_ref(node, ctx)
    plain = {
        "mention": mention_text,
        "emoji": emoji_text,
        "date": date_text,
        "status": lambda n: attr_str(n, "text"),
    }.get(kind, adf_to_text)(node)
    return escape_text(plain.replace("\n", " "), before, _SYMBOL)


def _media_ref(media: Node, ctx: _Ctx) -> str:
    """``!file.png!`` / ``[^file.pdf]`` / ``!https://..!`` for a media node."""
    external = attr_str(media, "type") == "external"
    name = attr_str(media, "url") if external else attr_str(media, "alt")
    name = name or ctx.media_names.get(attr_str(media, "id"), "")
    if not name:
        return ""
    if any(c in name for c in "[]{}|!\n"):  # no way to write it as a reference
        return escape_text(name, _SYMBOL, _SYMBOL)
    if not external and not name.lower().endswith(IMAGE_SUFFIXES):
        return f"[^{name}]"
    params = [
        f"{k}={int(v)}" for k, v in attrs(media).items() if k in ("width", "height") and _is_num(v)
    ]
    alt = attr_str(media, "alt")
    if external and alt and not any(c in alt for c in ",!|="):
        params.append("alt=" + alt)
    return "!" + name + ("|" + ",".join(params) if params else "") + "!"


def _is_num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _inline(nodes: list[Node], ctx: _Ctx, single_line: bool) -> str:
    return _InlineWriter(ctx, single_line).write(nodes) if nodes else ""


def _plain_inline(value: str, node_marks: list[Node] | None = None) -> list[Node]:
    return [text_node(value, node_marks)] if value else []


# --- blocks -----------------------------------------------------------------------------


def _blocks(nodes: list[Node], ctx: _Ctx) -> str:
    parts = [_block(n, ctx) for n in nodes]
    return "\n\n".join(p for p in parts if p.strip())


def _block(node: Node, ctx: _Ctx) -> str:
    render = _BLOCKS.get(node_type(node))
    if render is not None:
        return render(node, ctx)
    content = children(node)
    if content and is_inline(content[0]):
        return _inline(content, ctx, single_line=False)
    if content:
        return _blocks(content, ctx)
    return _inline(_plain_inline(adf_to_text(node)), ctx, single_line=False)


def _flat(node: Node, ctx: _Ctx) -> str:
    """A block on one line (inside a list item or table cell)."""
    kind = node_type(node)
    if kind in ("paragraph", "heading"):
        return _inline(children(node), ctx, single_line=True)
    if kind in ("mediaSingle", "mediaGroup"):
        refs = [_media_ref(m, ctx) for m in children(node) if node_type(m) == "media"]
        caption = [_flat(c, ctx) for c in children(node) if node_type(c) == "caption"]
        return "\\\\".join(p for p in [" ".join(r for r in refs if r), *caption] if p)
    code = [{"type": "code"}] if kind == "codeBlock" else None
    return _inline(_plain_inline(adf_to_text(node), code), ctx, single_line=True)


def _paragraph(node: Node, ctx: _Ctx) -> str:
    return _inline(children(node), ctx, single_line=False)


def _heading(node: Node, ctx: _Ctx) -> str:
    level = attrs(node).get("level")
    level = level if isinstance(level, int) and 1 <= level <= 6 else 1
    return f"h{level}. " + _inline(children(node), ctx, single_line=True)


def _list(node: Node, ctx: _Ctx, markers: str = "") -> str:
    markers += "#" if node_type(node) == "orderedList" else "*"
    lines = []
    for item in children(node):
        own = [c for c in children(item) if node_type(c) not in _LISTS]
        body = "\\\\".join(p for p in (_flat(c, ctx) for c in own) if p)
        lines.append(f"{markers} {body}")
        lines.extend(_list(c, ctx, markers) for c in children(item) if node_type(c) in _LISTS)
    return "\n".join(lines)


def _code(node: Node, ctx: _Ctx) -> str:
    body = adf_to_text(node)
    language = attr_str(node, "language")
    if "{code}" in body and "{noformat}" not in body:
        return "{noformat}\n" + body + "\n{noformat}"
    body = body.replace("{code}", "{code }")
    return ("{code:" + language + "}" if language else "{code}") + "\n" + body + "\n{code}"


def _macro(name: str, params: str, body: str) -> str:
    head = "{" + name + (":" + params if params else "") + "}"
    return f"{head}\n{body}\n{{{name}}}"


def _quote(node: Node, ctx: _Ctx) -> str:
    return _macro("quote", "", _blocks(children(node), ctx))


def _panel(node: Node, ctx: _Ctx) -> str:
    name = PANEL_TO_MACRO.get(attr_str(node, "panelType"), "panel")
    color = attr_str(node, "panelColor")
    params = "bgColor=" + color if name == "panel" and color.startswith("#") else ""
    return _macro(name, params, _blocks(children(node), ctx))


def _table(node: Node, ctx: _Ctx) -> str:
    rows = []
    for row in children(node):
        line, delim = [], ""
        for cell in children(row):
            delim = "||" if node_type(cell) == "tableHeader" else "|"
            body = "\\\\".join(p for p in (_flat(c, ctx) for c in children(cell)) if p)
            line.append(delim + (body or " "))
        if line:
            rows.append("".join(line) + delim)
    return "\n".join(rows)


def _media_single(node: Node, ctx: _Ctx) -> str:
    refs = " ".join(r for r in (_media_ref(m, ctx) for m in children(node)) if r)
    captions = [_paragraph(c, ctx) for c in children(node) if node_type(c) == "caption"]
    return "\n\n".join(p for p in [refs, *captions] if p)


def _expand(node: Node, ctx: _Ctx) -> str:
    title = attr_str(node, "title")
    head = _inline([text_node(title, [{"type": "strong"}])], ctx, False) if title.strip() else ""
    return "\n\n".join(p for p in (head, _blocks(children(node), ctx)) if p)


def _task_lines(node: Node) -> list[Node]:
    inline: list[Node] = []
    for child in children(node):
        if node_type(child) == "taskList":
            inline.extend(_task_lines(child))
            continue
        box = "[x] " if attr_str(child, "state") == "DONE" else "[ ] "
        inline.extend([{"type": "hardBreak"}, text_node(box), *children(child)])
    return inline


def _task_list(node: Node, ctx: _Ctx) -> str:
    return _inline(_task_lines(node)[1:], ctx, single_line=False)


_BLOCKS: dict[str, Callable[[Node, _Ctx], str]] = {
    "paragraph": _paragraph,
    "heading": _heading,
    "bulletList": _list,
    "orderedList": _list,
    "codeBlock": _code,
    "blockquote": _quote,
    "panel": _panel,
    "rule": lambda _n, _c: "----",
    "table": _table,
    "mediaSingle": _media_single,
    "mediaGroup": _media_single,
    "expand": _expand,
    "nestedExpand": _expand,
    "taskList": _task_list,
    "blockCard": lambda n, c: _atom(n, c, ""),
    "embedCard": lambda n, c: _atom(n, c, ""),
}


def adf_to_wiki(value: Any, *, media_names: Mapping[str, str] | None = None) -> str:
    """An ADF document as Jira wiki markup. Never raises on odd input.

    ``media_names`` maps media ids to attachment file names for media nodes that carry
    no ``alt`` (Jira Cloud sets ``alt`` to the file name on upload; the adapter can
    fill the gaps from the issue's attachment list)."""
    ctx = _Ctx(media_names=dict(media_names or {}))
    return _blocks(children(as_doc(value)), ctx).strip("\n")
