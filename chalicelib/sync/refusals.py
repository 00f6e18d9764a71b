"""A refusal that will not change on retry: recorded at once, and shown on both ends.

The tracker's 400 ("issuetype: valid issue type is required", a required field) answers
the same however often it is asked, so retrying it for the whole budget only hides it. It
becomes an error record at once (:class:`Refused` is a ``PermanentFailure``), the
receiving twin shows it, and the sending end is told (:mod:`chalicelib.sync.twin_status`).
When the same issue is later applied (a retry from the errors list, or a newer change),
the sending end is told that too, so its twin leaves "error".
"""

from __future__ import annotations

from chalicelib.queues import PermanentFailure
from chalicelib.store.models import ConnectionModel
from chalicelib.store.namespaces import refused_key
from chalicelib.sync.events import describe_failure
from chalicelib.sync.messages import Incoming
from chalicelib.sync.services import SyncDeps
from chalicelib.sync.store import get_key, set_key
from chalicelib.sync.twin_status import tell_sender
from chalicelib.trackers.base import InvalidRequest, TrackerError

# 4xx answers that can change on their own: a timeout, a conflict, a lock
PASSING = frozenset({408, 409, 423, 425})


class Refused(PermanentFailure):
    """The tracker refused a write for good; the cause is the tracker's own error."""

    def __init__(self, message: str, *, connection_id: str, issue_key: str) -> None:
        super().__init__(message)
        self.connection_id = connection_id
        self.issue_key = issue_key


def is_permanent(exc: TrackerError) -> bool:
    """A refusal (400-style) that retrying cannot change."""
    return isinstance(exc, InvalidRequest) and exc.status not in PASSING


def refused(
    connection: ConnectionModel, incoming: Incoming, exc: InvalidRequest, *, deps: SyncDeps
) -> Refused:
    """Tell the sending end; the exception for the caller to raise (``from exc``)."""
    remote_key = incoming.key
    message = describe_failure(exc)[0]
    tell_sender(connection, remote_key, "error", message, deps=deps)
    set_key(refused_key(connection.id, remote_key), "open")
    return Refused(message, connection_id=connection.id, issue_key=remote_key)


def applied(connection: ConnectionModel, incoming: Incoming, *, deps: SyncDeps) -> None:
    """After a successful apply: lift an error this end reported to the sending end."""
    flag = refused_key(connection.id, incoming.key)
    seen = get_key(flag)
    if seen is None or seen.value != "open":
        return
    tell_sender(connection, incoming.key, "synced", None, deps=deps)
    set_key(flag, "lifted")
