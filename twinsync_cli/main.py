"""The ``twinsync`` command: global options, the profile in use, and the one place where a
``CliError`` becomes a message on stderr and an exit code (see :mod:`twinsync_cli.errors`).
"""

from __future__ import annotations

from typing import Any

import click

from twinsync_cli import __version__, config
from twinsync_cli.client import DEFAULT_TIMEOUT
from twinsync_cli.errors import EXIT_CODES, INTERNAL, CliError, scrub
from twinsync_cli.state import State

EPILOG = "\b\nExit codes:\n" + "\n".join(
    f"  {code}  {meaning}" for code, meaning in EXIT_CODES.items()
)


class TwinsyncGroup(click.Group):
    """The root group: turns a ``CliError`` into stderr text and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CliError as error:
            self._fail(ctx, error.describe(), error.exit_code)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as bug:
            if config.debugging():
                raise
            self._fail(
                ctx,
                f"error: internal: {type(bug).__name__}: {bug} (a bug in the CLI; "
                f"{config.ENV_DEBUG}=1 shows the traceback)",
                INTERNAL,
            )

    @staticmethod
    def _fail(ctx: click.Context, message: str, code: int) -> None:
        state = ctx.find_object(State)
        click.echo(scrub(message, state.token if state else None), err=True)
        ctx.exit(code)


@click.group(cls=TwinsyncGroup, epilog=EPILOG, context_settings={"max_content_width": 100})
@click.option(
    "--profile",
    "profile_name",
    envvar=config.ENV_PROFILE,
    metavar="NAME",
    help=(
        "The node to talk to: a profile of the config file "
        f"(env {config.ENV_PROFILE}). Default: {config.ENV_URL} + {config.ENV_TOKEN}, "
        "else the default profile."
    ),
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1, max=600),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds to wait for each answer of the node.",
)
@click.version_option(__version__, prog_name="twinsync")
@click.pass_context
def cli(ctx: click.Context, profile_name: str | None, timeout: float) -> None:
    """Twinsync's admin API from the command line: connect nodes, sync issues, watch jobs.

    Every command talks to one node (--profile). Lists follow the node's paging to the
    end; --output json prints pure JSON on stdout for scripts and jq.
    """
    ctx.obj = State(profile_name=profile_name, timeout=timeout)


def _register() -> None:
    from twinsync_cli.commands import connections, node, ops, profiles, sync

    for module in (profiles, node, connections, sync, ops):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main() -> None:
    """The console script's entry point."""
    cli(prog_name="twinsync")
