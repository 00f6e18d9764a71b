"""What the global options chose, shared by every command through click's context."""

from __future__ import annotations

from dataclasses import dataclass, field

import click

from twinsync_cli import config
from twinsync_cli.client import Client


@dataclass
class State:
    """The profile name and timeout; the client is made (the profile resolved) on first use."""

    profile_name: str | None
    timeout: float
    _client: Client | None = field(default=None, repr=False)

    def client(self) -> Client:
        if self._client is None:
            self._client = Client(config.resolve(self.profile_name), timeout=self.timeout)
        return self._client

    def client_for(self, profile: config.Profile) -> Client:
        """A client for ``profile`` (one being added), whose token messages then mask."""
        self._client = Client(profile, timeout=self.timeout)
        return self._client

    @property
    def token(self) -> str | None:
        """The token in use, to mask it in messages (``None`` before the first call)."""
        return self._client.profile.token if self._client else None


def current() -> State:
    state = click.get_current_context().find_object(State)
    if state is None:  # only when a command is invoked without the root group
        raise click.UsageError("Run the command through `twinsync`.")
    return state
