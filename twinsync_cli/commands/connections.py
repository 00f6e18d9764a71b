"""``twinsync connections`` and ``twinsync invitations``: reference pages 000-004.

Initiate on one node (a destination URL, or "I don't have a URL"; a mode; the connection
information; the project for incoming sync), copy the invitation code, accept it on the
other node with its project.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from twinsync_cli import output
from twinsync_cli.client import segment
from twinsync_cli.commands import client, limit_option, output_option
from twinsync_cli.errors import ConfigError

MODES = ("basic", "visual", "script")


def remote_of(connection: Mapping[str, Any]) -> str:
    remote = connection.get("remote")
    if not remote:
        return "unknown"
    if remote.get("url"):
        return str(remote["url"])
    return "private node" + (f" {remote['node_id']}" if remote.get("node_id") else "")


COLUMNS: list[output.Column] = [
    ("ID", output.field("id")),
    ("NAME", output.field("name")),
    ("MODE", output.field("mode")),
    ("STATUS", output.field("status")),
    ("ROLE", output.field("role")),
    ("LOCAL → REMOTE", lambda c: f"{c.get('local_short_name')} → {c.get('remote_short_name')}"),
    ("REMOTE NODE", remote_of),
    ("PROJECT", output.field("incoming_project")),
]

DETAILS: list[output.Column] = [
    ("id", output.field("id")),
    ("name", output.field("name")),
    ("description", output.field("description")),
    ("mode", output.field("mode")),
    ("status", output.field("status")),
    ("status reason", output.field("status_reason")),
    ("role", output.field("role")),
    ("local short name", output.field("local_short_name")),
    ("remote short name", output.field("remote_short_name")),
    ("remote node", remote_of),
    ("incoming project", output.field("incoming_project")),
    ("created", output.field("created_at")),
    ("updated", output.field("updated_at")),
]


def show_connection(connection: Mapping[str, Any], *, title: str = "Connection") -> None:
    output.details(connection, DETAILS, title=title)


@click.group("connections")
def connections() -> None:
    """List, show and initiate connections."""


@connections.command("list")
@limit_option
@output_option
def list_connections(limit: int | None, output_format: str) -> None:
    """Every connection end of this node (all pages)."""
    items = client().items("/api/v1/connections", {"limit": limit})
    if output_format == "json":
        output.emit_json(items)
        return
    output.table(items, COLUMNS, title="Connections")


@connections.command("show")
@click.argument("connection_id", metavar="ID")
@output_option
def show(connection_id: str, output_format: str) -> None:
    """One connection end: status, names, remote node, project."""
    item = client().get(f"/api/v1/connections/{segment(connection_id)}")
    if output_format == "json":
        output.emit_json(item)
        return
    show_connection(item)


@connections.command("initiate")
@click.option("--url", "destination_url", metavar="URL", help="The partner node's public URL.")
@click.option(
    "--no-url",
    is_flag=True,
    help='"I don\'t have a URL": the partner is private (or not known yet).',
)
@click.option("--mode", type=click.Choice(MODES), default="basic", show_default=True)
@click.option("--local-name", required=True, help="This instance's short name.")
@click.option("--remote-name", required=True, help="The partner instance's short name.")
@click.option("--name", required=True, help="The connection's name.")
@click.option("--description", default=None)
@click.option("--project", required=True, help="The project for incoming sync (a key).")
@click.option(
    "--remote-project",
    default=None,
    help="A local connection (--url is this node's own URL): the other project.",
)
@click.option(
    "--admin-access/--no-admin-access",
    default=False,
    show_default=True,
    help="With --url: do you have admin access to the destination? Yes: a page there to "
    "confirm on instead of a code.",
)
@output_option
def initiate(
    destination_url: str | None,
    no_url: bool,
    mode: str,
    local_name: str,
    remote_name: str,
    name: str,
    description: str | None,
    project: str,
    remote_project: str | None,
    admin_access: bool,
    output_format: str,
) -> None:
    """Initiate a connection; prints the invitation code to give the partner's admin."""
    if bool(destination_url) == no_url:
        raise ConfigError("Give the destination with --url URL, or --no-url (not both).")
    if no_url and admin_access:
        raise ConfigError("--admin-access needs --url.")
    body: dict[str, Any] = {
        "destination_url": destination_url,
        "mode": mode,
        "local_short_name": local_name,
        "remote_short_name": remote_name,
        "name": name,
        "incoming_project": project,
        "admin_access": admin_access,
    }
    if description is not None:
        body["description"] = description
    if remote_project is not None:
        body["destination_incoming_project"] = remote_project
    created = client().post("/api/v1/connections", body)
    if output_format == "json":
        output.emit_json(created)
        return
    connection = created["connection"]
    show_connection(connection, title="Connection initiated")
    if created.get("redirect_url"):
        output.say("Open this page on the destination node and confirm with a project there:")
        output.say(created["redirect_url"])
    elif created.get("invitation_code"):
        output.say(f'Ensure Twinsync runs on the destination side "{remote_of(connection)}".')
        output.say("Its admin accepts with: twinsync invitations accept CODE --project KEY")
        output.say("Invitation code:")
        output.say(created["invitation_code"])
    else:
        output.say("A local connection: both ends are active.")


@connections.command("deactivate")
@click.argument("connection_id", metavar="ID")
@click.option("--reason", default=None, help="Shown to the other end's admin.")
@output_option
def deactivate(connection_id: str, reason: str | None, output_format: str) -> None:
    """Stop syncing (changes wait until activated again); the other end is told."""
    body = {"reason": reason} if reason else {}
    item = client().post(f"/api/v1/connections/{segment(connection_id)}/deactivate", body)
    _shown(item, output_format, "Connection deactivated")


@connections.command("activate")
@click.argument("connection_id", metavar="ID")
@output_option
def activate(connection_id: str, output_format: str) -> None:
    """Resume syncing; the other end is told."""
    item = client().post(f"/api/v1/connections/{segment(connection_id)}/activate")
    _shown(item, output_format, "Connection activated")


@connections.command("delete")
@click.argument("connection_id", metavar="ID")
@click.confirmation_option(prompt="Delete this connection end (a pending one's code is revoked)?")
def delete(connection_id: str) -> None:
    """Delete this node's end (--yes skips the question); the other end is told."""
    client().call("DELETE", f"/api/v1/connections/{segment(connection_id)}")
    output.note(f"Connection {connection_id} deleted.")


def _shown(item: Mapping[str, Any], output_format: str, title: str) -> None:
    if output_format == "json":
        output.emit_json(item)
    else:
        show_connection(item, title=title)


@click.group("invitations")
def invitations() -> None:
    """Accept an invitation code from the initiating node."""


@invitations.command("accept")
@click.argument("code")
@click.option("--project", required=True, help="The project for incoming sync (a key).")
@output_option
def accept(code: str, project: str, output_format: str) -> None:
    """Paste the CODE, choose the project: both ends become active."""
    api = client()
    response = api.send(
        "POST",
        api.url("/api/v1/invitations/accept"),
        body={"invitation_code": code.strip(), "incoming_project": project},
    )
    answer = api.decode(response)
    if output_format == "json":
        output.emit_json(answer)
        return
    again = " (it was accepted already)" if response.status_code == 200 else ""
    show_connection(answer["connection"], title=f"Invitation accepted{again}")


COMMANDS = [connections, invitations]
