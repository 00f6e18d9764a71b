"""``twinsync profile``: the nodes this CLI knows (URL + admin token in the config file).

The token is read from a hidden prompt (a terminal) or from stdin's first line (a pipe),
never from an argument, which would land in the shell's history and the process list.
"""

from __future__ import annotations

import sys

import click

from twinsync_cli import config, output
from twinsync_cli.commands import output_option
from twinsync_cli.state import current


def _read_token() -> str:
    if sys.stdin is not None and sys.stdin.isatty():
        token = click.prompt("Admin token", hide_input=True, err=True)
    else:
        token = sys.stdin.readline() if sys.stdin is not None else ""
    return config.check_token(str(token))


@click.group("profile")
def profile() -> None:
    """The nodes this CLI talks to (config file: $TWINSYNC_CONFIG or
    ~/.config/twinsync/config.toml, mode 0600)."""


@profile.command("add")
@click.argument("name")
@click.option("--url", required=True, help="The node's admin API base URL.")
@click.option("--default", "make_default", is_flag=True, help="Make it the default profile.")
@click.option(
    "--check/--no-check",
    default=True,
    show_default=True,
    help="Ask the node (GET /api/v1/node) whether it takes the token before saving.",
)
def add(name: str, url: str, make_default: bool, check: bool) -> None:
    """Add or replace profile NAME. The admin token is read from a hidden prompt, or from
    stdin when it is not a terminal (echo "$TOKEN" | twinsync profile add a --url ...)."""
    config.check_name(name)
    url = config.check_url(url)
    token = _read_token()
    if check:
        node = current().client_for(config.Profile(name, url, token)).get("/api/v1/node")
        output.note(f"{url}: node {node.get('name')!r} ({node.get('node_id')}) took the token.")
    path = config.config_path()
    config.add_profile(path, name, url, token, make_default=make_default)
    output.note(f"Profile {name!r} saved in {path}.")


@profile.command("list")
@output_option
def list_profiles(output_format: str) -> None:
    """The profiles: name, URL, default (tokens are never shown)."""
    rows = config.list_profiles()
    if output_format == "json":
        output.emit_json(rows)
        return
    output.table(
        rows,
        [
            ("NAME", output.field("name")),
            ("URL", output.field("url")),
            ("DEFAULT", output.field("default")),
            ("TOKEN", output.field("token")),
        ],
        title="Profiles",
    )


@profile.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Forget profile NAME (its token goes with it)."""
    config.remove_profile(config.config_path(), name)
    output.note(f"Profile {name!r} removed.")


@profile.command("use")
@click.argument("name")
def use(name: str) -> None:
    """Make NAME the default profile."""
    config.set_default(config.config_path(), name)
    output.note(f"Default profile: {name}.")


COMMANDS = [profile]
