"""Jira wiki inline markup (inside one paragraph, heading, list item or cell) to ADF.

A small recursive scanner: at each position the first rule in ``_RULES`` that matches
consumes some markup and returns nodes; plain characters accumulate into text. Marks
(``*bold*``, ``{_}em{_}``, ``{color:red}..{color}``, links) parse their inside
recursively and add their mark to every text node in it. Images and block cards come
back as block nodes; ``lift`` moves them out of the paragraph.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .adf import Node, mark_key, node_type, text
from .wiki_syntax import CHAR_TO_MARK, COLOR_NAMES, KIND_TO_CARD, autolink_at

Match = tuple[list[Node], int] | None

_ENTITY = re.compile(r"&#(\d{1,7});")
_IMAGE = re.compile(r"!([^\s!|\[\]{}][^!\n|\[\]{}]*)(?:\|([^!\n]*))?!")
_COLOR_OPEN = re.compile(r"\{color(?::([^}]*))?\}")
_HEX = re.compile(r"#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})")
_BAD_NAME = re.compile(r"[\[\]{}|!\n]")
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")
_LIFTED = frozenset({"mediaSingle", "blockCard", "embedCard"})


def _skip_span(source: str, pos: int) -> int:
    """End of an atomic span (``{{code}}``, ``[link]``, escape, URL) at ``pos``, or ``pos``."""
    if source.startswith("\\", pos):
        return pos + 2
    if source.startswith("{{", pos):
        end = find_unescaped(source, "}}", pos + 2)
        return end + 2 if end >= 0 else pos
    if source.startswith("[", pos):
        end = find_unescaped(source, "]", pos + 1)
        return end + 1 if end >= 0 else pos
    url = autolink_at(source, pos)
    return pos + len(url)


def find_unescaped(source: str, needle: str, pos: int) -> int:
    """Index of ``needle`` at or after ``pos`` not preceded by a backslash escape."""
    while pos < len(source):
        if source.startswith("\\", pos):
            pos += 2
        elif source.startswith(needle, pos):
            return pos
        else:
            pos += 1
    return -1


def _find_closer(source: str, pos: int, char: str) -> tuple[int, int]:
    """(index, width) of the delimiter closing a ``char`` mark opened before ``pos``."""
    start = pos
    while pos < len(source) and source[pos] != "\n":
        if source.startswith("{" + char + "}", pos):
            return pos, 3
        is_plain_closer = (
            source[pos] == char
            and pos > start
            and not source[pos - 1].isspace()
            and (pos + 1 == len(source) or not source[pos + 1].isalnum())
        )
        if is_plain_closer:
            return pos, 1
        skipped = _skip_span(source, pos)
        pos = skipped if skipped > pos else pos + 1
    return -1, 0


def _add_mark(nodes: list[Node], mark: Node) -> list[Node]:
    """Add ``mark`` to the text nodes that do not already carry one of its type (ADF
    allows one mark per type; the inner one, e.g. a nested colour or link, wins)."""
    kind = node_type(mark)
    for node in nodes:
        if node_type(node) == "text" and all(node_type(m) != kind for m in node.get("marks", [])):
            node.setdefault("marks", []).append(mark)
    return nodes


def _simple_mark(char: str) -> Node:
    kind, sub = CHAR_TO_MARK[char]
    return {"type": kind, "attrs": {"type": sub}} if sub else {"type": kind}


def _marked(source: str, pos: int, width: int, char: str) -> Match:
    end, close_width = _find_closer(source, pos + width, char)
    if end < 0 or end == pos + width:
        return None
    inner = parse_inline(source[pos + width : end])
    return _add_mark(inner, _simple_mark(char)), end + close_width


def _rule_hard_break(source: str, pos: int) -> Match:
    if source.startswith("\\\\", pos) or source.startswith("\n", pos):
        return [{"type": "hardBreak"}], pos + (1 if source[pos] == "\n" else 2)
    return None


def _rule_escape(source: str, pos: int) -> Match:
    if source[pos] != "\\" or pos + 1 >= len(source):
        return None
    nxt = source[pos + 1]
    if nxt.isalnum() or nxt.isspace():
        return None
    return [text(nxt)], pos + 2


def _rule_entity(source: str, pos: int) -> Match:
    match = _ENTITY.match(source, pos)
    if not match or int(match.group(1)) > 0x10FFFF:
        return None
    return [text(chr(int(match.group(1))))], match.end()


def _rule_code(source: str, pos: int) -> Match:
    if not source.startswith("{{", pos):
        return None
    end = find_unescaped(source, "}}", pos + 2)
    if end <= pos + 2:
        return None
    while source.startswith("}}}", end):  # "{{a}}}" closes at the last pair
        end += 1
    inner = re.sub(r"\\(.)", r"\1", source[pos + 2 : end])
    return [text(inner, [{"type": "code"}])], end + 2


def _color_hex(name: str) -> str:
    name = name.strip().lower()
    if name in COLOR_NAMES:
        return COLOR_NAMES[name]
    match = _HEX.fullmatch(name)
    if not match:
        return ""
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    return "#" + digits


def _rule_color(source: str, pos: int) -> Match:
    match = _COLOR_OPEN.match(source, pos)
    if not match or not match.group(1):
        return None
    end = find_unescaped(source, "{color}", match.end())
    if end < 0:
        return None
    inner = parse_inline(source[match.end() : end])
    color = _color_hex(match.group(1))
    if color:
        _add_mark(inner, {"type": "textColor", "attrs": {"color": color}})
    return inner, end + len("{color}")


def _rule_brace_mark(source: str, pos: int) -> Match:
    if len(source) < pos + 3 or source[pos] != "{" or source[pos + 2] != "}":
        return None
    char = source[pos + 1]
    return _marked(source, pos, 3, char) if char in CHAR_TO_MARK else None


def _rule_plain_mark(source: str, pos: int) -> Match:
    char = source[pos]
    if char not in CHAR_TO_MARK or (pos and source[pos - 1].isalnum()):
        return None
    if pos + 1 >= len(source) or source[pos + 1].isspace():
        return None
    return _marked(source, pos, 1, char)


def media_node(name: str, params: str = "") -> Node:
    """A mediaSingle for ``!name|params!`` / ``[^name]``.

    An attachment is referenced by file name in ``alt`` (type "file", no media id: Jira
    Cloud wants the attachment's media id, which only the adapter can look up); a URL
    becomes an external media. ``width``/``height`` params are kept."""
    media_attrs: dict[str, object] = (
        {"type": "external", "url": name} if "://" in name else {"type": "file", "alt": name}
    )
    for param in params.split(","):
        key, _, value = param.partition("=")
        key = key.strip().lower()
        if key in ("width", "height") and value.strip().isdigit():
            media_attrs[key] = int(value.strip())
        elif key == "alt" and media_attrs["type"] == "external":
            media_attrs["alt"] = value.strip()
    media = {"type": "media", "attrs": media_attrs}
    return {"type": "mediaSingle", "attrs": {"layout": "center"}, "content": [media]}


def _rule_image(source: str, pos: int) -> Match:
    match = _IMAGE.match(source, pos)
    if not match:
        return None
    name = match.group(1).strip()
    if "." not in name:
        return None
    return [media_node(name, match.group(2) or "")], match.end()


def _link_target(body: str) -> Match:
    pipe = _UNESCAPED_PIPE.search(body)
    if pipe is None:
        url = body.strip()
        if not url or autolink_at(url, 0) != url:
            return None
        return [text(url, [{"type": "link", "attrs": {"href": url}}])], 0
    label, rest = body[: pipe.start()], _UNESCAPED_PIPE.split(body[pipe.end() :])
    url = rest[0].strip()
    card = KIND_TO_CARD.get(rest[1].strip()) if len(rest) > 1 else None
    if card:
        return [{"type": card, "attrs": {"url": url}}], 0
    inner = parse_inline(label) or [text(url)]
    return _add_mark(inner, {"type": "link", "attrs": {"href": url}}), 0


def _link_body(body: str) -> Match:
    if _UNESCAPED_PIPE.search(body):
        return _link_target(body)
    if body.startswith("~accountid:"):
        return [{"type": "mention", "attrs": {"id": body[len("~accountid:") :]}}], 0
    if body.startswith("~") and len(body) > 1:
        return [text("@" + body[1:])], 0
    if body.startswith("^") and len(body) > 1 and not _BAD_NAME.search(body[1:]):
        return [media_node(body[1:])], 0
    return _link_target(body)


def _rule_link(source: str, pos: int) -> Match:
    if source[pos] != "[":
        return None
    end = find_unescaped(source, "]", pos + 1)
    if end <= pos + 1 or "\n" in source[pos:end]:
        return None
    parsed = _link_body(source[pos + 1 : end])
    return (parsed[0], end + 1) if parsed else None


def _rule_autolink(source: str, pos: int) -> Match:
    url = autolink_at(source, pos)
    if not url:
        return None
    return [text(url, [{"type": "link", "attrs": {"href": url}}])], pos + len(url)


_RULES: tuple[Callable[[str, int], Match], ...] = (
    _rule_hard_break,
    _rule_escape,
    _rule_entity,
    _rule_code,
    _rule_color,
    _rule_brace_mark,
    _rule_link,
    _rule_image,
    _rule_autolink,
    _rule_plain_mark,
)


def parse_inline(source: str) -> list[Node]:
    """Inline wiki markup to ADF inline nodes (plus lifted block nodes, see ``lift``)."""
    nodes: list[Node] = []
    plain: list[str] = []
    pos = 0
    while pos < len(source):
        hit = next((r for rule in _RULES if (r := rule(source, pos)) is not None), None)
        if hit is None:
            plain.append(source[pos])
            pos += 1
            continue
        if plain:
            nodes.append(text("".join(plain)))
            plain = []
        nodes.extend(hit[0])
        pos = hit[1]
    if plain:
        nodes.append(text("".join(plain)))
    return merge_text(nodes)


def _clean_marks(node: Node) -> Node:
    marks = node.get("marks") or []
    if any(node_type(m) == "code" for m in marks):  # ADF: code combines only with link
        marks = [m for m in marks if node_type(m) in ("code", "link")]
    unique = {mark_key(m): m for m in marks}
    if unique:
        node["marks"] = sorted(unique.values(), key=mark_key)
    else:
        node.pop("marks", None)
    return node


def merge_text(nodes: list[Node]) -> list[Node]:
    """Merge neighbouring text nodes with the same marks; drop empty ones."""
    merged: list[Node] = []
    for node in nodes:
        if node_type(node) == "text":
            if not node.get("text"):
                continue
            _clean_marks(node)
            last = merged[-1] if merged else None
            if (
                last is not None
                and node_type(last) == "text"
                and last.get("marks") == node.get("marks")
            ):
                last["text"] += node["text"]
                continue
        merged.append(node)
    return merged


def lift(inline: list[Node]) -> list[Node]:
    """Split a paragraph's inline nodes around block nodes (images, block cards)."""
    if not any(node_type(n) in _LIFTED for n in inline):
        return [{"type": "paragraph", "content": inline}]
    blocks: list[Node] = []
    run: list[Node] = []
    for node in [*inline, None]:
        if node is not None and node_type(node) not in _LIFTED:
            run.append(node)
            continue
        if _meaningful(run):
            blocks.append({"type": "paragraph", "content": trim_inline(run)})
        run = []
        if node is not None:
            blocks.append(node)
    return blocks


def trim_inline(run: list[Node]) -> list[Node]:
    """Inline nodes without leading/trailing hard breaks and whitespace (a table cell,
    or the text around a lifted block, has no edges of its own)."""
    run = list(run)
    while run and _blank(run[0]):
        run.pop(0)
    while run and _blank(run[-1]):
        run.pop()
    if run and node_type(run[0]) == "text":
        run[0] = {**run[0], "text": run[0]["text"].lstrip()}
    if run and node_type(run[-1]) == "text":
        run[-1] = {**run[-1], "text": run[-1]["text"].rstrip()}
    return run


def _blank(node: Node) -> bool:
    kind = node_type(node)
    return kind == "hardBreak" or (kind == "text" and not str(node.get("text", "")).strip())


def _meaningful(run: list[Node]) -> bool:
    return any(
        node_type(n) not in ("text", "hardBreak") or str(n.get("text", "")).strip() for n in run
    )
