"""``twinsync node`` and ``twinsync projects``: what a node is and which projects it offers
("the URL from the General Settings tab", "select a project for the incoming sync")."""

from __future__ import annotations

import click

from twinsync_cli import output
from twinsync_cli.commands import client, output_option


@click.group("node")
def node() -> None:
    """This node: its id, name, public URL (the one a partner initiates with), modes."""


@node.command("show")
@output_option
def show(output_format: str) -> None:
    """GET /api/v1/node."""
    info = client().get("/api/v1/node")
    if output_format == "json":
        output.emit_json(info)
        return
    output.details(
        info,
        [
            ("id", output.field("node_id")),
            ("name", output.field("name")),
            ("public URL", lambda n: n.get("public_url") or "none (a private node)"),
            ("tracker", lambda n: f"{n['tracker']['kind']} {n['tracker']['url']}"),
            ("modes", lambda n: ", ".join(n.get("modes") or [])),
        ],
        title="Node",
    )


@click.group("projects")
def projects() -> None:
    """The tracker's projects that can receive issues."""


@projects.command("list")
@output_option
def list_projects(output_format: str) -> None:
    """GET /api/v1/projects: key, name, issue types, default issue type."""
    items = client().get("/api/v1/projects")
    if output_format == "json":
        output.emit_json(items)
        return
    output.table(
        items,
        [
            ("KEY", output.field("key")),
            ("NAME", output.field("name")),
            ("ISSUE TYPES", lambda p: ", ".join(p.get("issue_types") or [])),
            ("DEFAULT TYPE", output.field("default_issue_type")),
        ],
        title="Projects",
    )


COMMANDS = [node, projects]
