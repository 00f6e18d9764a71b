"""``twinsync sync``, ``twinsync twins`` and ``twinsync errors``: sync an issue, watch its
twin, and deal with what failed."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import click

from twinsync_cli import output
from twinsync_cli.client import Client, segment
from twinsync_cli.commands import client, connection_option, limit_option, output_option
from twinsync_cli.errors import Unfinished

POLL_EVERY = 0.5

TWIN: list[output.Column] = [
    ("connection", output.field("connection_id")),
    ("local", output.nested("local", "key")),
    ("local URL", output.nested("local", "url")),
    ("remote", output.nested("remote", "key")),
    ("remote URL", output.nested("remote", "url")),
    ("status", output.field("status")),
    ("last synced", output.field("last_synced_at")),
    ("error", output.field("error")),
]


def twin_path(connection_id: str, key: str) -> str:
    return f"/api/v1/connections/{segment(connection_id)}/twins/{segment(key)}"


def settled(twin: Mapping[str, Any]) -> bool:
    """Synced (the other end linked back) or in error / stopped: waiting ends."""
    if twin.get("status") == "synced" and twin.get("remote"):
        return True
    return twin.get("status") in ("error", "stopped")


def wait_for_twin(
    api: Client, connection_id: str, key: str, *, timeout: float, clock: Any = time
) -> dict[str, Any]:
    """Poll the twin until it is synced or in error, or raise ``Unfinished`` at ``timeout``."""
    deadline = clock.monotonic() + timeout
    while True:
        twin: dict[str, Any] = api.get(twin_path(connection_id, key))
        if settled(twin):
            return twin
        if clock.monotonic() >= deadline:
            raise Unfinished(
                f"{key} is still {twin.get('status')} after {timeout:g} s; "
                f"follow it with: twinsync twins show {key} --connection {connection_id}",
                code="wait_timeout",
            )
        clock.sleep(POLL_EVERY)


def report_twin(
    twin: Mapping[str, Any], output_format: str, *, title: str, fail_on_error: bool = False
) -> None:
    if output_format == "json":
        output.emit_json(twin)
    else:
        output.details(twin, TWIN, title=title)
    if fail_on_error and twin.get("status") == "error":
        raise Unfinished(
            f"{twin['local']['key']} is in error: {twin.get('error')}", code="twin_error"
        )


@click.command("sync")
@click.argument("key")
@connection_option
@click.option("--wait", is_flag=True, help="Wait until the twin is synced (or in error).")
@click.option(
    "--wait-timeout",
    type=click.FloatRange(min=1),
    default=120.0,
    show_default=True,
    help="With --wait: give up after this many seconds (exit 7).",
)
@output_option
def sync(key: str, connection_id: str, wait: bool, wait_timeout: float, output_format: str) -> None:
    """Sync issue KEY over the connection ("sync your first issue")."""
    api = client()
    twin = api.post(
        f"/api/v1/connections/{segment(connection_id)}/sync", {"issue_key": key.strip()}
    )
    if wait:
        twin = wait_for_twin(api, connection_id, twin["local"]["key"], timeout=wait_timeout)
    report_twin(twin, output_format, title=f"Twin of {twin['local']['key']}", fail_on_error=wait)


@click.group("twins")
def twins() -> None:
    """An issue's twin on the other side."""


@twins.command("show")
@click.argument("key")
@connection_option
@output_option
def show_twin(key: str, connection_id: str, output_format: str) -> None:
    """The twin of KEY: remote key, status, last sync, error."""
    twin = client().get(twin_path(connection_id, key))
    report_twin(twin, output_format, title=f"Twin of {key}")


@twins.command("list")
@connection_option
@limit_option
@output_option
def list_twins(connection_id: str, limit: int | None, output_format: str) -> None:
    """The connection's twins, newest first (all pages; a node with list paging)."""
    items = client().items(f"/api/v1/connections/{segment(connection_id)}/twins", {"limit": limit})
    if output_format == "json":
        output.emit_json(items)
        return
    output.table(
        items,
        [
            ("LOCAL", output.nested("local", "key")),
            ("REMOTE", output.nested("remote", "key")),
            ("STATUS", output.field("status")),
            ("LAST SYNCED", output.field("last_synced_at")),
            ("ERROR", output.field("error")),
        ],
        title="Twins",
    )


@twins.command("history")
@click.argument("key")
@connection_option
@limit_option
@output_option
def history(key: str, connection_id: str, limit: int | None, output_format: str) -> None:
    """The sync transactions of KEY, newest first (all pages)."""
    items = client().items(twin_path(connection_id, key) + "/history", {"limit": limit})
    if output_format == "json":
        output.emit_json(items)
        return
    output.table(
        items,
        [
            ("TIME", output.field("time")),
            ("DIRECTION", output.field("direction")),
            ("OUTCOME", output.field("outcome")),
            ("CHANGES", lambda t: ", ".join(t.get("changes") or [])),
            ("ERROR", output.field("error")),
        ],
        title=f"History of {key}",
    )


@click.group("errors")
def errors() -> None:
    """Open error records: list, retry, resolve."""


ERROR_COLUMNS: list[output.Column] = [
    ("ID", output.field("id")),
    ("CONNECTION", output.field("connection_id")),
    ("ISSUE", output.field("issue_key")),
    ("STAGE", output.field("stage")),
    ("MESSAGE", output.field("message")),
    ("ATTEMPTS", output.field("attempts")),
    ("LAST", output.field("last_at")),
]


@errors.command("list")
@click.option("-c", "--connection", "connection_id", metavar="ID", help="Only this connection.")
@limit_option
@output_option
def list_errors(connection_id: str | None, limit: int | None, output_format: str) -> None:
    """Open error records, newest first (all pages)."""
    items = client().items("/api/v1/errors", {"connection_id": connection_id, "limit": limit})
    if output_format == "json":
        output.emit_json(items)
        return
    output.table(items, ERROR_COLUMNS, title="Open errors")


def _close(action: str, error_id: str, output_format: str) -> None:
    record = client().post(f"/api/v1/errors/{segment(error_id)}/{action}")
    if output_format == "json":
        output.emit_json(record)
        return
    output.say(f"Error {record.get('id', error_id)}: {record.get('status', action)}.")


@errors.command("retry")
@click.argument("error_id", metavar="ID")
@output_option
def retry(error_id: str, output_format: str) -> None:
    """Put the very same work back on its queue."""
    _close("retry", error_id, output_format)


@errors.command("resolve")
@click.argument("error_id", metavar="ID")
@output_option
def resolve(error_id: str, output_format: str) -> None:
    """Drop the failed work on purpose."""
    _close("resolve", error_id, output_format)


COMMANDS = [sync, twins, errors]
