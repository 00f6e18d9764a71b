"""What the CLI prints: rich tables for people, plain JSON for scripts.

With ``--output json`` stdout carries exactly one JSON document (nothing else, so ``jq``
reads it); messages and progress go to stderr. Values a person needs to copy (an
invitation code, an id) are printed plainly on their own line, never wrapped by rich.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import click
from rich.console import Console
from rich.table import Table

Column = tuple[str, Callable[[Mapping[str, Any]], Any]]


WIDTH_WHEN_PIPED = 160


def console(*, stderr: bool = False) -> Console:
    """A console on the current streams (made per call: CliRunner swaps them). Piped into
    a file or a pager it is 160 columns wide (or $COLUMNS), not rich's 80, so ids fit."""
    out = Console(stderr=stderr, highlight=False, soft_wrap=False)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = WIDTH_WHEN_PIPED
    return out


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def table(rows: Iterable[Mapping[str, Any]], columns: Sequence[Column], *, title: str) -> None:
    grid = Table(title=title, title_justify="left", show_lines=False)
    for header, _ in columns:
        grid.add_column(header, overflow="fold", no_wrap=header == "ID")
    count = 0
    for row in rows:
        grid.add_row(*(text(get(row)) for _, get in columns))
        count += 1
    if count:
        console().print(grid)
    else:
        click.echo(f"{title}: none")


def details(item: Mapping[str, Any], fields: Sequence[Column], *, title: str) -> None:
    grid = Table(title=title, title_justify="left", show_header=False)
    grid.add_column("field", style="bold")
    grid.add_column("value", overflow="fold")
    for name, get in fields:
        grid.add_row(name, text(get(item)))
    console().print(grid)


def say(message: str) -> None:
    """A line for people on stdout (human output only)."""
    click.echo(message)


def note(message: str) -> None:
    """A line for people on stderr (never mixed into JSON output)."""
    click.echo(message, err=True)


def field(name: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda row: row.get(name)


def nested(*path: str) -> Callable[[Mapping[str, Any]], Any]:
    def get(row: Mapping[str, Any]) -> Any:
        value: Any = row
        for part in path:
            if not isinstance(value, Mapping):
                return None
            value = value.get(part)
        return value

    return get
