"""The command groups of ``twinsync``, one module per part of the admin API, and the
options they share. Each module lists its top-level commands in ``COMMANDS``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from twinsync_cli import state
from twinsync_cli.client import Client

F = TypeVar("F", bound=Callable[..., Any])

OUTPUT_FORMATS = ("table", "json")


def output_option(func: F) -> F:
    return click.option(
        "-o",
        "--output",
        "output_format",
        type=click.Choice(OUTPUT_FORMATS),
        default="table",
        show_default=True,
        help="table: for people; json: pure JSON on stdout, for scripts and jq.",
    )(func)


def connection_option(func: F) -> F:
    return click.option(
        "-c",
        "--connection",
        "connection_id",
        required=True,
        metavar="ID",
        help="The connection's id (twinsync connections list).",
    )(func)


def limit_option(func: F) -> F:
    return click.option(
        "--limit",
        type=click.IntRange(1, 500),
        default=None,
        help="Items per page asked of the node (1-500; the node's default: 100). "
        "Every page is read either way.",
    )(func)


def client() -> Client:
    """The current node's client (the profile is resolved on first use)."""
    return state.current().client()
