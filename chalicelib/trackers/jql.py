"""JQL text that Twinsync composes around an admin's query (pure, no tracker needed).

An admin writes a full query (``project = SUP AND labels = vip ORDER BY created``); to ask
"does this one issue match it" or to walk it in a stable order we need its condition alone.
The scanner here understands only what it must: quoted strings, parentheses and the words
``AND``/``OR``/``NOT``/``ORDER BY``; the tracker remains the judge of validity.
"""

from __future__ import annotations

import re

import msgspec

KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*-[0-9]+$")
PROJECT_KEY_RE = re.compile(r"^[A-Z][A-Z0-9_]+$")
_WORD_CHARS = re.compile(r"[A-Za-z0-9_.\-]")


class Token(msgspec.Struct, frozen=True):
    kind: str  # word | string | op | lparen | rparen | comma
    text: str
    start: int


def tokens(jql: str) -> list[Token]:
    """Rough tokens of ``jql``; an unterminated string runs to the end (the tracker refuses it)."""
    found: list[Token] = []
    i = 0
    while i < len(jql):
        char = jql[i]
        if char.isspace():
            i += 1
        elif char in "\"'":
            end = i + 1
            while end < len(jql) and jql[end] != char:
                end += 2 if jql[end] == "\\" else 1
            found.append(Token("string", jql[i + 1 : end], i))
            i = end + 1
        elif char in "(),":
            kind = {"(": "lparen", ")": "rparen", ",": "comma"}[char]
            found.append(Token(kind, char, i))
            i += 1
        elif char in "=!<>~&|":
            end = i + 1
            while end < len(jql) and jql[end] in "=!<>~&|":
                end += 1
            found.append(Token("op", jql[i:end], i))
            i = end
        else:
            end = i + 1
            while end < len(jql) and _WORD_CHARS.match(jql[end]):
                end += 1
            found.append(Token("word", jql[i:end], i))
            i = end
    return found


def _is(token: Token, word: str) -> bool:
    return token.kind == "word" and token.text.lower() == word


def split_order_by(jql: str) -> tuple[str, str | None]:
    """``(condition, order clause or None)``: ``ORDER BY`` found outside strings and parens."""
    depth = 0
    found = tokens(jql)
    for i, token in enumerate(found):
        if token.kind == "lparen":
            depth += 1
        elif token.kind == "rparen":
            depth -= 1
        elif depth == 0 and _is(token, "order") and i + 1 < len(found) and _is(found[i + 1], "by"):
            return jql[: token.start].strip(), jql[token.start :].strip()
    return jql.strip(), None


def condition(jql: str) -> str:
    """The query without its ``ORDER BY`` (may be empty: every issue)."""
    return split_order_by(jql)[0]


def quote_key(key: str) -> str:
    if not KEY_RE.match(key):
        raise ValueError(f"not an issue key: {key!r}")
    return f'"{key}"'


def for_issue(key: str, where: str) -> str:
    """Does issue ``key`` match ``where``? One search with at most one result answers it."""
    clause = f"key = {quote_key(key)}"
    return f"{clause} AND ({where})" if where else clause


def any_of(conditions: list[str]) -> str:
    """One query matching when any of ``conditions`` does (one tracker call, not several)."""
    parts = [c for c in conditions if c]
    if len(parts) != len(conditions):
        return ""  # one of them matches everything
    if len(parts) == 1:
        return parts[0]
    return " OR ".join(f"({c})" for c in parts)


def in_key_order(jql: str) -> str:
    """``jql`` walked in key order: stable pages even when the tracker pages by offset."""
    where = condition(jql)
    return f"({where}) ORDER BY key ASC" if where else "ORDER BY key ASC"


def projects_required(where: str) -> frozenset[str] | None:
    """Projects an issue must be in to match ``where``, when that is certain; else ``None``.

    Only for a plain conjunction (no ``OR``, ``NOT``, ``!=``): then a ``project = X`` or
    ``project in (X, Y)`` clause anywhere is necessary, and an issue of another project
    cannot match, which saves a tracker call per change of such an issue. Jira also accepts
    a project's name or id there: a value that is not written like a project key (upper case
    letters, digits, ``_``) makes the answer ``None``.
    """
    found = tokens(where)
    if any(_is(t, "or") or _is(t, "not") or (t.kind == "op" and "!" in t.text) for t in found):
        return None
    if any(t.kind == "op" and t.text in ("||",) for t in found):
        return None
    required: frozenset[str] | None = None
    i = 0
    while i < len(found):
        token = found[i]
        if _is(token, "project") and i + 2 < len(found):
            op, value = found[i + 1], found[i + 2]
            names: set[str] | None = None
            if op.kind == "op" and op.text == "=" and value.kind in ("word", "string"):
                names = {value.text}
            elif _is(op, "in") and value.kind == "lparen":
                names = set()
                j = i + 3
                while j < len(found) and found[j].kind != "rparen":
                    if found[j].kind in ("word", "string"):
                        names.add(found[j].text)
                    elif found[j].kind != "comma":
                        return None  # a function or something unexpected: stay general
                    j += 1
            if names is not None:
                if not all(PROJECT_KEY_RE.match(n) for n in names):
                    return None
                required = frozenset(names) if required is None else required & names
        i += 1
    return required
