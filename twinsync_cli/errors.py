"""The CLI's one error tree and its exit codes.

Every failure a user can meet is a ``CliError`` subclass carrying its exit code; the
command group (:mod:`twinsync_cli.main`) prints it to stderr and exits with that code in
exactly one place. HTTP answers become errors in :mod:`twinsync_cli.client`, which keeps
the contract's ``code``, ``message`` and ``field`` from the body.

    CliError (1)
    ├── ConfigError (2)      no such profile, no URL or token, an unreadable config file
    ├── NotFound (3)         404: no such connection, twin, error record, job, invitation
    ├── Refused (4)          any other 4xx: invalid input, a conflict, an expired code
    ├── RemoteFailure (5)    a 5xx, an answer that is not JSON, unreachable, timed out
    ├── AuthFailed (6)       401 / 403: the token is wrong or may not do this
    └── Unfinished (7)       the node accepted the work but it did not succeed: a bulk job
                             failed, was cancelled or left issues failed; a twin in error;
                             ``--timeout`` passed while waiting

Exit code 2 is also click's own code for a usage error (an unknown option, a missing
argument). Messages never carry the admin token: ``scrub`` removes it from any text that
reaches the terminal.
"""

from __future__ import annotations

OK = 0
INTERNAL = 1
USAGE = 2
NOT_FOUND = 3
REFUSED = 4
REMOTE = 5
AUTH = 6
UNFINISHED = 7

EXIT_CODES: dict[int, str] = {
    OK: "success",
    INTERNAL: "unexpected error in the CLI itself (a bug)",
    USAGE: "usage or configuration error (bad option, unknown profile, no URL or token)",
    NOT_FOUND: "the node answered 404: no such connection, twin, error, job or invitation",
    REFUSED: "the node refused the request (400, 409, 410, 413, 415, 422)",
    REMOTE: "the node failed (5xx) or could not be reached (connection refused, timeout)",
    AUTH: "the node refused the token (401, 403)",
    UNFINISHED: "accepted, but not done: job failed/cancelled/had failures, twin in error, "
    "waited too long",
}


class CliError(Exception):
    """Base of every error the CLI reports; ``exit_code`` is what the process returns."""

    exit_code = INTERNAL

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
        self.status = status

    def describe(self) -> str:
        """One line for stderr: ``error: <code>: <message> (field: <field>) [HTTP <n>]``."""
        parts = ["error:"]
        if self.code:
            parts.append(f"{self.code}:")
        parts.append(self.message)
        if self.field:
            parts.append(f"(field: {self.field})")
        if self.status:
            parts.append(f"[HTTP {self.status}]")
        return " ".join(parts)


class ConfigError(CliError):
    """The profile, URL or token is missing or unusable."""

    exit_code = USAGE


class NotFound(CliError):
    """The node answered 404."""

    exit_code = NOT_FOUND


class Refused(CliError):
    """The node refused the request with a 4xx other than 401, 403 and 404."""

    exit_code = REFUSED


class RemoteFailure(CliError):
    """The node failed (5xx, an answer that is not the contract's) or was not reached."""

    exit_code = REMOTE


class AuthFailed(CliError):
    """The node refused the credentials (401) or the action (403)."""

    exit_code = AUTH


class Unfinished(CliError):
    """The node took the work, but it ended failed, cancelled, in error, or too late."""

    exit_code = UNFINISHED


def for_status(status: int) -> type[CliError]:
    """The error class of an HTTP status the node answered."""
    if status == 404:
        return NotFound
    if status in (401, 403):
        return AuthFailed
    if 400 <= status < 500:
        return Refused
    return RemoteFailure


def scrub(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` (the admin token) masked."""
    if secret and len(secret) >= 4:
        return text.replace(secret, "***")
    return text
