"""JQL syntax: a tokenizer and a recursive-descent parser that turn a query into an AST.

Only syntax lives here; what a field or function means is decided by ``jql_eval``. Errors
carry Jira's wording (``Error in the JQL Query: … (line 1, character N)``) so the server can
answer a malformed query exactly as Jira does: a 400, never a silent match-all.

Grammar (the subset the sandbox supports)::

    query    := [or_expr] [ORDER BY sort ("," sort)*] EOF
    or_expr  := and_expr ((OR | "||") and_expr)*
    and_expr := not_expr ((AND | "&&") not_expr)*
    not_expr := (NOT | "!") not_expr | "(" or_expr ")" | clause
    clause   := field ( op value | [NOT] IN list | IS [NOT] (EMPTY | NULL)
                      | CHANGED (predicate)* )
    predicate:= (FROM | TO | BY | AFTER | BEFORE | ON) value | DURING "(" value "," value ")"
    value    := WORD | STRING | function
    list     := "(" (value | EMPTY) ("," (value | EMPTY))* ")" | function
    function := WORD "(" [value ("," value)*] ")"
    sort     := field [ASC | DESC]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

RESERVED = {"and", "or", "not", "in", "is", "empty", "null", "order", "by", "asc", "desc"}
UNSUPPORTED_OPERATORS = {"was"}
CHANGE_PREDICATES = ("from", "to", "by", "after", "before", "on", "during")
OPERATORS = ("!=", "!~", "<=", ">=", "=", "~", "<", ">")
VALID_OPERATORS_TEXT = (
    "'=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'"
)
_SINGLE = {"(": "LPAREN", ")": "RPAREN", ",": "COMMA"}
_WORD_BREAK = set(" \t\r\n()=,!<>~\"'&|")


class JqlError(Exception):
    """The query is invalid; ``message`` is what Jira puts in ``errorMessages``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def syntax_error(detail: str, pos: int) -> JqlError:
    return JqlError(f"Error in the JQL Query: {detail} (line 1, character {pos + 1})")


# --- tokens -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # WORD STRING OP LPAREN RPAREN COMMA AND OR NOT EOF
    text: str
    pos: int
    quoted: bool = False


def tokenize(text: str) -> list[Token]:
    """Split a query into tokens; quoted strings keep their content, unescaped."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "\"'":
            value, i2 = _read_string(text, i)
            tokens.append(Token("STRING", value, i, quoted=True))
            i = i2
        elif ch in _SINGLE:
            tokens.append(Token(_SINGLE[ch], ch, i))
            i += 1
        elif text.startswith("&&", i):
            tokens.append(Token("AND", "&&", i))
            i += 2
        elif text.startswith("||", i):
            tokens.append(Token("OR", "||", i))
            i += 2
        elif ch in "=!<>~":
            op = next((o for o in OPERATORS if text.startswith(o, i)), None)
            if op is None:  # a lone "!" is NOT
                tokens.append(Token("NOT", "!", i))
                i += 1
            else:
                tokens.append(Token("OP", op, i))
                i += len(op)
        elif ch in "&|":
            raise syntax_error(f"The character '{ch}' is a reserved JQL character.", i)
        else:
            start = i
            while i < n and text[i] not in _WORD_BREAK:
                i += 1
            word = text[start:i]
            low = word.lower()
            kind = {"and": "AND", "or": "OR", "not": "NOT"}.get(low, "WORD")
            tokens.append(Token(kind, word, start))
    tokens.append(Token("EOF", "", n))
    return tokens


def _read_string(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append({"n": "\n", "t": "\t", "r": "\r"}.get(nxt, nxt))
            i += 2
            continue
        if ch == quote:
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise syntax_error(f"The quoted string '{text[start + 1 :]}' has not been completed.", start)


# --- AST --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRef:
    """A field name; ``property_key``/``property_path`` set for ``issue.property[k].path``."""

    name: str
    property_key: str | None = None
    property_path: tuple[str, ...] = ()

    def display(self) -> str:
        if self.property_key is None:
            return self.name
        path = "".join(f".{p}" for p in self.property_path)
        return f"issue.property[{self.property_key}]{path}"


@dataclass(frozen=True)
class Literal:
    value: str
    quoted: bool = False


@dataclass(frozen=True)
class FunctionCall:
    name: str
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class EmptyValue:
    pass


@dataclass(frozen=True)
class ListValue:
    items: tuple[Literal | FunctionCall | EmptyValue, ...]


@dataclass(frozen=True)
class ChangedValue:
    """The predicates of ``field CHANGED [FROM v] [TO v] [BY u] [AFTER d] [BEFORE d] [ON d]
    [DURING (d1, d2)]``; ``during`` holds two values."""

    predicates: tuple[tuple[str, tuple[Literal | FunctionCall | EmptyValue, ...]], ...] = ()


Value = Literal | FunctionCall | ListValue | EmptyValue | ChangedValue


@dataclass(frozen=True)
class Clause:
    field: FieldRef
    operator: str  # "=", "!=", "~", "!~", "<", ">", "<=", ">=", "in", "not in", "is", "is not"
    value: Value


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


Node = Clause | And | Or | Not


@dataclass(frozen=True)
class SortKey:
    field: FieldRef
    descending: bool = False


@dataclass(frozen=True)
class Query:
    where: Node | None
    order_by: tuple[SortKey, ...] = field(default_factory=tuple)


# --- parser -----------------------------------------------------------------------------

_PROPERTY_RE = re.compile(r"^issue\.property\[([^\]]+)\]((?:\.[^.\[\]]+)*)$", re.IGNORECASE)


class Parser:
    """Recursive descent over the token list; one method per grammar rule."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    # helpers
    def peek(self, offset: int = 0) -> Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return tok

    def is_word(self, tok: Token, *words: str) -> bool:
        return tok.kind == "WORD" and tok.text.lower() in words

    # rules
    def parse(self) -> Query:
        where: Node | None = None
        if not self._at_order_by() and self.peek().kind != "EOF":
            where = self.or_expr()
        order: tuple[SortKey, ...] = ()
        if self._at_order_by():
            self.advance()
            self.advance()
            order = self.sort_list()
        tok = self.peek()
        if tok.kind != "EOF":
            if tok.kind == "RPAREN":
                raise syntax_error("Expecting either 'OR' or 'AND' but got ')'.", tok.pos)
            raise syntax_error(f"Expecting either 'OR' or 'AND' but got '{tok.text}'.", tok.pos)
        return Query(where, order)

    def _at_order_by(self) -> bool:
        return self.is_word(self.peek(), "order") and self.is_word(self.peek(1), "by")

    def or_expr(self) -> Node:
        children = [self.and_expr()]
        while self.peek().kind == "OR":
            self.advance()
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self) -> Node:
        children = [self.not_expr()]
        while self.peek().kind == "AND":
            self.advance()
            children.append(self.not_expr())
        return children[0] if len(children) == 1 else And(tuple(children))

    def not_expr(self) -> Node:
        tok = self.peek()
        if tok.kind == "NOT":
            self.advance()
            return Not(self.not_expr())
        if tok.kind == "LPAREN":
            self.advance()
            inner = self.or_expr()
            close = self.peek()
            if close.kind != "RPAREN":
                raise syntax_error(f"Expecting ')' but got '{close.text or '<EOF>'}'.", close.pos)
            self.advance()
            return inner
        return self.clause()

    def field_ref(self) -> FieldRef:
        tok = self.peek()
        if tok.kind == "EOF":
            raise syntax_error("Expecting a field name at the end of the query.", tok.pos)
        if tok.kind in ("WORD", "AND", "OR", "NOT") and tok.text.lower() in RESERVED:
            raise syntax_error(
                f"'{tok.text}' is a reserved JQL word. You must surround it in quotation "
                "marks to use it in a query.",
                tok.pos,
            )
        if tok.kind not in ("WORD", "STRING"):
            raise syntax_error(f"Expecting a field name but got '{tok.text}'.", tok.pos)
        self.advance()
        match = _PROPERTY_RE.match(tok.text) if not tok.quoted else None
        if match:
            path = tuple(p for p in match.group(2).split(".") if p)
            return FieldRef("issue.property", match.group(1), path)
        return FieldRef(tok.text)

    def clause(self) -> Clause:
        fref = self.field_ref()
        tok = self.peek()
        if tok.kind == "OP":
            self.advance()
            return Clause(fref, tok.text, self.single_value())
        if tok.kind == "NOT" and self.is_word(self.peek(1), "in"):
            self.advance()
            self.advance()
            return Clause(fref, "not in", self.list_value())
        if self.is_word(tok, "in"):
            self.advance()
            return Clause(fref, "in", self.list_value())
        if self.is_word(tok, "is"):
            self.advance()
            negate = False
            if self.peek().kind == "NOT":
                self.advance()
                negate = True
            val = self.peek()
            if not self.is_word(val, "empty", "null"):
                raise syntax_error(
                    f"Expecting 'EMPTY' or 'NULL' but got '{val.text or '<EOF>'}'.", val.pos
                )
            self.advance()
            return Clause(fref, "is not" if negate else "is", EmptyValue())
        if self.is_word(tok, "changed"):
            self.advance()
            return Clause(fref, "changed", self.change_predicates())
        if self.is_word(tok, *UNSUPPORTED_OPERATORS):
            raise JqlError(
                f"Error in the JQL Query: The operator '{tok.text.upper()}' is not supported "
                f"by the sandbox. (line 1, character {tok.pos + 1})"
            )
        got = tok.text if tok.kind != "EOF" else "<EOF>"
        raise syntax_error(
            f"Expecting operator but got '{got}'. The valid operators are {VALID_OPERATORS_TEXT}.",
            tok.pos,
        )

    def change_predicates(self) -> ChangedValue:
        found: list[tuple[str, tuple[Literal | FunctionCall | EmptyValue, ...]]] = []
        while self.is_word(self.peek(), *CHANGE_PREDICATES):
            word = self.advance().text.lower()
            if word != "during":
                found.append((word, (self.single_value(),)))
                continue
            opening = self.peek()
            if opening.kind != "LPAREN":
                raise syntax_error(
                    f"Expecting '(' but got '{opening.text or '<EOF>'}'.", opening.pos
                )
            self.advance()
            first = self.single_value()
            if self.advance().kind != "COMMA":
                raise syntax_error("Expecting ',' in DURING.", self.peek().pos)
            second = self.single_value()
            closing = self.advance()
            if closing.kind != "RPAREN":
                raise syntax_error(f"Expecting ')' but got '{closing.text}'.", closing.pos)
            found.append(("during", (first, second)))
        return ChangedValue(tuple(found))

    def single_value(self) -> Literal | FunctionCall | EmptyValue:
        tok = self.peek()
        if tok.kind == "STRING":
            self.advance()
            return Literal(tok.text, quoted=True)
        if tok.kind == "WORD":
            low = tok.text.lower()
            if low in ("empty", "null"):
                self.advance()
                return EmptyValue()
            if self.peek(1).kind == "LPAREN":
                return self.function()
            if low in RESERVED:
                raise syntax_error(
                    f"'{tok.text}' is a reserved JQL word. You must surround it in quotation "
                    "marks to use it in a query.",
                    tok.pos,
                )
            self.advance()
            return Literal(tok.text)
        got = tok.text if tok.kind != "EOF" else "<EOF>"
        raise syntax_error(f"Expecting either a value, list or function but got '{got}'.", tok.pos)

    def list_value(self) -> ListValue | FunctionCall:
        tok = self.peek()
        if tok.kind == "WORD" and self.peek(1).kind == "LPAREN":
            return self.function()
        if tok.kind != "LPAREN":
            got = tok.text if tok.kind != "EOF" else "<EOF>"
            raise syntax_error(f"Expecting '(' but got '{got}'.", tok.pos)
        self.advance()
        items: list[Literal | FunctionCall | EmptyValue] = []
        while True:
            items.append(self.single_value())  # EMPTY too: "resolution in (EMPTY, Done)"
            sep = self.peek()
            if sep.kind == "COMMA":
                self.advance()
                continue
            if sep.kind == "RPAREN":
                self.advance()
                return ListValue(tuple(items))
            got = sep.text if sep.kind != "EOF" else "<EOF>"
            raise syntax_error(f"Expecting ',' or ')' but got '{got}'.", sep.pos)

    def function(self) -> FunctionCall:
        name = self.advance().text
        self.advance()  # "("
        args: list[str] = []
        if self.peek().kind == "RPAREN":
            self.advance()
            return FunctionCall(name, ())
        while True:
            tok = self.peek()
            if tok.kind not in ("WORD", "STRING"):
                got = tok.text if tok.kind != "EOF" else "<EOF>"
                raise syntax_error(f"Expecting a function argument but got '{got}'.", tok.pos)
            self.advance()
            args.append(tok.text)
            sep = self.advance()
            if sep.kind == "RPAREN":
                return FunctionCall(name, tuple(args))
            if sep.kind != "COMMA":
                got = sep.text if sep.kind != "EOF" else "<EOF>"
                raise syntax_error(f"Expecting ',' or ')' but got '{got}'.", sep.pos)

    def sort_list(self) -> tuple[SortKey, ...]:
        keys: list[SortKey] = []
        while True:
            fref = self.field_ref()
            descending = False
            tok = self.peek()
            if self.is_word(tok, "asc", "desc"):
                descending = tok.text.lower() == "desc"
                self.advance()
            keys.append(SortKey(fref, descending))
            if self.peek().kind != "COMMA":
                return tuple(keys)
            self.advance()


def parse(text: str) -> Query:
    """Parse a JQL string into a :class:`Query`; raises :class:`JqlError` on bad syntax."""
    return Parser(text).parse()
