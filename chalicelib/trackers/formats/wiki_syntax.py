"""The Jira wiki markup vocabulary shared by the reader and the writer.

Keeping the tables and the escaping rule in one place is what makes the two
directions agree: the writer escapes exactly what the reader would otherwise take as
markup.

Escaping rule (the reader in ``wiki_inline`` honours the same rule):

* ``{ } [ ] |`` are always escaped with a backslash;
* the mark characters ``* _ + - ^ ~`` are escaped unless they sit between two letters
  or digits (``snake_case``, ``e-mail`` stay readable), because a mark only opens after
  a non-alphanumeric character and only closes before one;
* ``!`` is escaped when a non-space follows it (``!name!`` would be an image);
* at the start of a line, ``#`` and the dot of ``h1.``..``h6.`` / ``bq.`` are escaped;
* a backslash stays literal before a letter, digit or space and is written as
  ``&#92;`` elsewhere (``\\\\`` is a line break, ``\\*`` an escape); ``&`` is written
  as ``&#38;`` when it would otherwise start a numeric character reference.
"""

from __future__ import annotations

import re

# ADF mark type -> wiki delimiter character (subsup handled by its attrs.type).
SIMPLE_MARKS = {"strong": "*", "em": "_", "underline": "+", "strike": "-"}
SUBSUP = {"sub": "~", "sup": "^"}
MARK_CHARS = "*_+-^~"
CHAR_TO_MARK = {
    "*": ("strong", None),
    "_": ("em", None),
    "+": ("underline", None),
    "-": ("strike", None),
    "~": ("subsup", "sub"),
    "^": ("subsup", "sup"),
}

# ADF panelType -> wiki macro, and back. success/error have no macro of their own.
PANEL_TO_MACRO = {
    "info": "info",
    "note": "note",
    "warning": "warning",
    "tip": "tip",
    "success": "tip",
    "error": "warning",
    "custom": "panel",
}
MACRO_TO_PANEL = {
    "info": "info",
    "note": "note",
    "warning": "warning",
    "tip": "tip",
    "panel": "custom",
}

# Smart links: Jira writes ADF cards in wiki as [url|url|smart-link] and friends.
CARD_TO_KIND = {"inlineCard": "smart-link", "blockCard": "smart-card", "embedCard": "smart-embed"}
KIND_TO_CARD = {kind: card for card, kind in CARD_TO_KIND.items()}

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".svg", ".webp", ".tif", ".tiff")

# Named wiki colours that ADF (hex only) understands.
COLOR_NAMES = {
    "red": "#ff0000",
    "green": "#008000",
    "blue": "#0000ff",
    "black": "#000000",
    "white": "#ffffff",
    "grey": "#808080",
    "gray": "#808080",
    "orange": "#ffa500",
    "yellow": "#ffff00",
    "purple": "#800080",
}

AUTOLINK = re.compile(r"(?:https?|ftp)://[^\s\[\]|{}\\<>\"*!]+|mailto:[^\s\[\]|{}\\<>\"*!]+")
AUTOLINK_TRAILING = ".,;:?)'*_+-^~"  # also mark characters: a URL never eats a closer

# Line-level constructs (after optional leading whitespace).
HEADING = re.compile(r"^\s*h([1-6])\.(?:\s+(.*))?$")
QUOTE_LINE = re.compile(r"^\s*bq\.(?:\s+(.*))?$")
RULE = re.compile(r"^\s*-{4,}\s*$")
LIST_ITEM = re.compile(r"^\s*([*#]+|-)\s+(.*)$")
TABLE_ROW = re.compile(r"^\s*\|")
MACRO_OPEN = re.compile(
    r"^\s*\{(code|noformat|quote|panel|info|note|warning|tip)(?::([^}]*))?\}(.*)$"
)
_LINE_START_KEYWORD = re.compile(r"^(h[1-6]|bq)$")
_ENTITY = re.compile(r"&#\d{1,7};")


def starts_block(line: str) -> bool:
    """Whether a line opens a block other than a paragraph."""
    return any(
        pattern.match(line)
        for pattern in (HEADING, QUOTE_LINE, RULE, LIST_ITEM, TABLE_ROW, MACRO_OPEN)
    )


def autolink_at(source: str, pos: int) -> str:
    """The bare URL starting at ``pos`` (without trailing punctuation), or ""."""
    if pos and source[pos - 1].isalnum():
        return ""
    match = AUTOLINK.match(source, pos)
    if not match:
        return ""
    url = match.group(0).rstrip(AUTOLINK_TRAILING)
    return url if "//" in url or (url.startswith("mailto:") and len(url) > 7) else ""


def _escape_char(ch: str, prev: str, nxt: str, line_so_far: str) -> str:
    if ch in "{}[]|":
        return "\\" + ch
    if ch in MARK_CHARS:
        return ch if prev.isalnum() and nxt.isalnum() else "\\" + ch
    if ch == "!":
        return "\\!" if nxt and not nxt.isspace() else "!"
    if ch == "\\":
        return "\\" if nxt.isalnum() or nxt == " " else "&#92;"
    if ch == "#" and not line_so_far.strip(" \t*#-"):
        # at a line start, or after markup a list marker could be made of ("*#* " is a
        # nested list, not a bold "#")
        return "\\#"
    if ch == "." and _LINE_START_KEYWORD.match(line_so_far.strip()):
        return "\\."
    return ch


def escape_text(
    value: str, before: str = "", after: str = "", line_so_far: str | None = None
) -> str:
    """Escape plain text so the wiki reader gives back exactly ``value``.

    ``before``/``after`` are the characters around the text in the output ("" for the
    start or end of a line, a symbol when markup follows); ``line_so_far`` is what the
    current output line holds before the text (``None``: not at a line start)."""
    out = []
    line = line_so_far if line_so_far is not None else "x"
    for index, ch in enumerate(value):
        prev = value[index - 1] if index else before
        nxt = value[index + 1] if index + 1 < len(value) else after
        if ch == "&" and _ENTITY.match(value, index):
            out.append("&#38;")
        else:
            out.append(_escape_char(ch, prev, nxt, line))
        line = "" if ch == "\n" else line + ch
    return "".join(out)


def escape_code(value: str) -> str:
    """Escape text inside ``{{...}}``: only what could end or split the span."""
    return re.sub(r"([\\{}|\[\]])", r"\\\1", value)
