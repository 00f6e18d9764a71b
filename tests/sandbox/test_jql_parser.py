"""JQL syntax: what parses into which tree, and which texts are refused with Jira's words."""

from __future__ import annotations

import pytest

from devstack.sandbox_jira.jql import (
    And,
    Clause,
    EmptyValue,
    FieldRef,
    FunctionCall,
    JqlError,
    ListValue,
    Literal,
    Not,
    Or,
    SortKey,
    parse,
    tokenize,
)


def test_simple_clause() -> None:
    query = parse("project = ABC")
    assert query.where == Clause(FieldRef("project"), "=", Literal("ABC"))
    assert query.order_by == ()


def test_quoted_values_and_escapes() -> None:
    query = parse('summary ~ "say \\"hi\\"" AND labels = \'a-b\'')
    assert isinstance(query.where, And)
    first, second = query.where.children
    assert first == Clause(FieldRef("summary"), "~", Literal('say "hi"', quoted=True))
    assert second == Clause(FieldRef("labels"), "=", Literal("a-b", quoted=True))


def test_and_binds_tighter_than_or() -> None:
    query = parse("a = 1 OR b = 2 AND c = 3")
    assert isinstance(query.where, Or)
    assert isinstance(query.where.children[1], And)


def test_parentheses_override_precedence() -> None:
    query = parse("(a = 1 OR b = 2) AND c = 3")
    assert isinstance(query.where, And)
    assert isinstance(query.where.children[0], Or)


def test_not_and_symbols() -> None:
    query = parse("NOT a = 1 && !(b = 2 || c = 3)")
    assert isinstance(query.where, And)
    assert isinstance(query.where.children[0], Not)
    assert isinstance(query.where.children[1], Not)
    assert isinstance(query.where.children[1].child, Or)


@pytest.mark.parametrize("op", ["=", "!=", "~", "!~", "<", ">", "<=", ">="])
def test_operators(op: str) -> None:
    query = parse(f"created {op} -1d")
    assert query.where == Clause(FieldRef("created"), op, Literal("-1d"))


def test_operators_without_spaces() -> None:
    assert parse("created>=-5m").where == Clause(FieldRef("created"), ">=", Literal("-5m"))


def test_in_and_not_in() -> None:
    query = parse("key IN (ABC-1, 'ABC-2') and labels not in (x)")
    assert isinstance(query.where, And)
    first, second = query.where.children
    assert first == Clause(
        FieldRef("key"), "in", ListValue((Literal("ABC-1"), Literal("ABC-2", quoted=True)))
    )
    assert second == Clause(FieldRef("labels"), "not in", ListValue((Literal("x"),)))


def test_is_empty_and_is_not_null() -> None:
    query = parse("labels IS EMPTY OR priority is not null")
    assert isinstance(query.where, Or)
    assert query.where.children[0] == Clause(FieldRef("labels"), "is", EmptyValue())
    assert query.where.children[1] == Clause(FieldRef("priority"), "is not", EmptyValue())


def test_functions() -> None:
    query = parse("reporter = currentUser() AND updated > startOfDay(-1d)")
    assert isinstance(query.where, And)
    assert query.where.children[0].value == FunctionCall("currentUser")  # type: ignore[union-attr]
    assert query.where.children[1].value == FunctionCall("startOfDay", ("-1d",))  # type: ignore[union-attr]


def test_issue_property_field() -> None:
    query = parse('issue.property[twinsync.link].remote.key = "XYZ-1"')
    assert isinstance(query.where, Clause)
    assert query.where.field == FieldRef("issue.property", "twinsync.link", ("remote", "key"))
    assert query.where.field.display() == "issue.property[twinsync.link].remote.key"


def test_order_by() -> None:
    query = parse("project = ABC ORDER BY updated DESC, key asc, created")
    assert query.order_by == (
        SortKey(FieldRef("updated"), True),
        SortKey(FieldRef("key"), False),
        SortKey(FieldRef("created"), False),
    )


def test_order_by_only_and_empty_query() -> None:
    assert parse("order by key").where is None
    assert parse("").where is None
    assert parse("   ").order_by == ()


def test_quoted_field_name() -> None:
    assert parse('"summary" ~ x').where == Clause(FieldRef("summary"), "~", Literal("x"))


def test_tokens_keep_positions() -> None:
    tokens = tokenize("a = 'b c'")
    assert [(t.kind, t.text, t.pos) for t in tokens] == [
        ("WORD", "a", 0),
        ("OP", "=", 2),
        ("STRING", "b c", 4),
        ("EOF", "", 9),
    ]


@pytest.mark.parametrize(
    ("jql", "fragment"),
    [
        ("project ABC", "Expecting operator but got 'ABC'"),
        ("project =", "Expecting either a value, list or function but got '<EOF>'"),
        ("project = ABC AND", "Expecting a field name at the end of the query"),
        ("project = ABC XYZ", "Expecting either 'OR' or 'AND' but got 'XYZ'"),
        ("(project = ABC", "Expecting ')' but got '<EOF>'"),
        ("project = ABC)", "Expecting either 'OR' or 'AND' but got ')'"),
        ('summary ~ "open', "has not been completed"),
        ("key in ABC-1", "Expecting '(' but got 'ABC-1'"),
        ("key in (ABC-1 ABC-2)", "Expecting ',' or ')' but got 'ABC-2'"),
        ("labels is foo", "Expecting 'EMPTY' or 'NULL' but got 'foo'"),
        ("and = 1", "'and' is a reserved JQL word"),
        ("project = order", "'order' is a reserved JQL word"),
        ("status was Done", "The operator 'WAS' is not supported"),
        ("status changed from", "Expecting either a value, list or function but got '<EOF>'"),
        ("status changed during (a)", "Expecting ',' in DURING."),
        ("a = 1 & b = 2", "reserved JQL character"),
        ("ORDER BY", "Expecting a field name at the end of the query"),
        (
            "project = ABC ORDER BY key sideways",
            "Expecting either 'OR' or 'AND' but got 'sideways'",
        ),
        ("f = fn(a b)", "Expecting ',' or ')' but got 'b'"),
    ],
)
def test_syntax_errors(jql: str, fragment: str) -> None:
    with pytest.raises(JqlError) as info:
        parse(jql)
    assert info.value.message.startswith("Error in the JQL Query: ")
    assert fragment in info.value.message
    assert "(line 1, character " in info.value.message


def test_error_position_is_one_based() -> None:
    with pytest.raises(JqlError) as info:
        parse("project ABC")
    assert info.value.message.endswith("(line 1, character 9)")
