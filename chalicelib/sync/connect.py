"""Connect two existing issues (``POST …/connect``): a twin link without creating anything.

Here: the local issue must exist and not be synced in the connection yet (a stopped one
may be connected again: that is the explicit restart), nor may the remote issue already
be some other issue's twin. The twin is recorded with its remote key and the issue's
replica is sent carrying ``twin_key`` = the remote key: a *connect request*.

There (the receiving end, in :mod:`chalicelib.sync.arrival`): a replica with a ``twin_key``
for which no twin exists is a connect request. That end checks the issue exists and is
not a twin already; if so it records the twin, applies the replica as a link (fields are
not overwritten; comments and attachments are merged) and answers with its own replica,
which this end applies as a link too. If not, it answers with a ``refused`` removal and
this end's twin stops with the reason. Later changes then sync as usual, either way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from chalicelib.errors import BadRequest, Conflict, NotFound
from chalicelib.store.models import ConnectionModel, KeyModel, TwinModel
from chalicelib.store.namespaces import tomb_key
from chalicelib.sync import removal
from chalicelib.sync.events import record_transaction
from chalicelib.sync.messages import ConnectRequest
from chalicelib.sync.outgoing import send_replica
from chalicelib.sync.services import SyncDeps
from chalicelib.sync.stop import reopen
from chalicelib.sync.store import create_twin, get_twin, twin_by_remote
from chalicelib.trackers.base import Issue, PermissionDenied
from chalicelib.trackers.base import NotFound as IssueNotFound
from chalicelib.trackers.jql import KEY_RE

log = logging.getLogger("twinsync.ops.connect")


class CannotConnect(Exception):
    """This pair cannot be connected; the message says why (for a bulk job's failures)."""


def issue_key(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not KEY_RE.match(value.strip()):
        raise BadRequest(f"{name} must be an issue key such as ABC-12.", field=name)
    return value.strip()


def read_local(key: str, *, deps: SyncDeps) -> Issue:
    try:
        return deps.tracker.get_issue(key)
    except IssueNotFound as exc:
        raise NotFound(
            f"Issue {key} was not found in this node's tracker.",
            code="issue_not_found",
            field="local_key",
        ) from exc
    except PermissionDenied as exc:
        raise Conflict(
            f"The integration user cannot read {key}: {exc.message}",
            code="issue_not_readable",
            field="local_key",
        ) from exc


def check_pair(connection: ConnectionModel, local_key: str, remote_key: str) -> TwinModel | None:
    """The existing twin of ``local_key`` (stopped or already this pair), or None; raises
    :class:`CannotConnect` when either issue is synced with another one."""
    existing = get_twin(connection.id, local_key)
    if existing is not None and existing.status != "stopped":
        if existing.remote_key == remote_key:
            return existing
        other = f" with {existing.remote_key}" if existing.remote_key else ""
        raise CannotConnect(f"{local_key} is already synced{other} in this connection.")
    holder = twin_by_remote(connection.id, remote_key)
    if holder is not None and holder.local_key != local_key and holder.status != "stopped":
        raise CannotConnect(f"{remote_key} is already the twin of {holder.local_key}.")
    return existing


def connect_issue(
    connection: ConnectionModel, issue: Issue, remote_key: str, *, deps: SyncDeps
) -> TwinModel:
    """Record the link here and send the connect request; idempotent for the same pair."""
    existing = check_pair(connection, issue.key, remote_key)
    if existing is not None and existing.status != "stopped":
        if existing.status == "queued" and not existing.last_sent_hash:
            # a retry after a crash, or after a send that found the twin busy (a reopened
            # twin has sent before, but its connect request is not out yet)
            send_replica(issue, existing, deps=deps, force=True)
        return existing  # this pair is already connected (or connecting)
    if existing is not None and existing.remote_key == remote_key:
        twin = reopen(existing)
    else:
        if existing is not None:  # stopped with another issue: that link is over
            existing.delete()
            KeyModel(key=tomb_key(connection.id, issue.key)).delete()
        twin = TwinModel(
            connection_id=connection.id,
            local_key=issue.key,
            local_id=issue.id,
            local_url=issue.url,
            remote_key=remote_key,
            status="queued",
        )
        if not create_twin(twin):  # a concurrent request linked it first
            return get_twin(connection.id, issue.key) or twin
    record_transaction(
        connection.id,
        issue.key,
        direction="outgoing",
        changes=["connect"],
        outcome=f"connect requested with {remote_key}",
    )
    send_replica(issue, twin, deps=deps, force=True)
    return twin


def connect(connection: ConnectionModel, body: Mapping[str, Any], *, deps: SyncDeps) -> TwinModel:
    """``POST …/connect {local_key, remote_key}``."""
    unknown = sorted(set(body) - {"local_key", "remote_key"})
    if unknown:
        raise BadRequest(f"Unknown field {unknown[0]!r}.", code="unknown_field", field=unknown[0])
    local_key, remote_key = issue_key(body, "local_key"), issue_key(body, "remote_key")
    issue = read_local(local_key, deps=deps)
    try:
        return connect_issue(connection, issue, remote_key, deps=deps)
    except CannotConnect as exc:
        raise Conflict(str(exc), code="already_synced") from exc


# --- the receiving end ---------------------------------------------------------------------


def receive_request(
    connection: ConnectionModel, request: ConnectRequest, *, deps: SyncDeps
) -> TwinModel | None:
    """A replica whose ``twin_key`` names one of our issues that has no twin yet: the twin
    is made (apply then takes the replica as a link and answers), or the request refused."""
    target, requester = request.target, request.requester
    reason = None
    issue = None
    try:
        issue = deps.tracker.get_issue(target)
    except (IssueNotFound, PermissionDenied):
        reason = f"{target} does not exist here (or the integration user cannot read it)."
    if reason is None and twin_by_remote(connection.id, requester) is not None:
        reason = f"{requester} is already synced with another issue here."
    if reason is not None or issue is None:
        removal.send_refusal(
            connection,
            local_key=target,
            url=None,
            requester_key=requester,
            reason=reason or "refused",
            deps=deps,
        )
        log.info("connect request %s -> %s refused: %s", requester, target, reason)
        return None
    twin = TwinModel(
        connection_id=connection.id,
        local_key=issue.key,
        local_id=issue.id,
        local_url=issue.url,
        remote_key=requester,
        remote_url=request.replica.url,
        status="queued",
    )
    create_twin(twin)  # a retry finds the twin it made before (and applies as a link)
    record_transaction(
        connection.id,
        issue.key,
        direction="incoming",
        changes=["connect"],
        outcome=f"connected with {requester} at the other side's request",
    )
    return get_twin(connection.id, issue.key) or twin
