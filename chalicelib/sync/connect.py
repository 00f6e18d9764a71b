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

Asked at once (:func:`ask_other_end`): before a new link is recorded, this end asks the
other end whether its issue can be connected, whenever the other end can be called: the
other connection in process for a local connection, ``POST
/node/v1/connections/{cid}/connectable`` for a public peer (from a public node and from a
private one alike: a private node can call out to its public peer). A missing issue, or
one already synced there, is refused there and then (``remote_issue_not_found``,
``remote_issue_already_synced``) and nothing is recorded. A private peer cannot be called,
and a peer that does not answer (or is too old to know the route) cannot be asked: then
the connect request goes out as before and the twin is ``queued`` until the other end
answers it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import msgspec

from chalicelib.errors import BadRequest, Conflict, NotFound
from chalicelib.net.errors import OutboundError
from chalicelib.store.models import ConnectionModel, KeyModel, TwinModel
from chalicelib.store.namespaces import tomb_key
from chalicelib.sync import removal
from chalicelib.sync.events import record_transaction
from chalicelib.sync.links import get_connection, is_local, reachable_end
from chalicelib.sync.messages import ConnectRequest
from chalicelib.sync.outgoing import send_replica
from chalicelib.sync.services import SyncDeps
from chalicelib.sync.stop import reopen
from chalicelib.sync.store import create_twin, get_twin, twin_by_remote
from chalicelib.trackers.base import Issue, PermissionDenied, TrackerError
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
        existing = check_pair(connection, issue.key, remote_key)
        if existing is None or existing.status == "stopped":  # a new link: ask the other end
            refuse_at_once(ask_other_end(connection, issue.key, remote_key, deps=deps))
        return connect_issue(connection, issue, remote_key, deps=deps)
    except CannotConnect as exc:
        raise Conflict(str(exc), code="already_synced") from exc


# --- asking the other end at once --------------------------------------------------------------

CONNECTABLE = "connectable"
NOT_FOUND = "not_found"
ALREADY_SYNCED = "already_synced"
UNKNOWN = "unknown"  # the other end could not tell (its tracker did not answer)
VERDICTS = (CONNECTABLE, NOT_FOUND, ALREADY_SYNCED, UNKNOWN)


class Verdict(msgspec.Struct, frozen=True):
    """The other end's answer about one of its issues: can it be connected with ours?"""

    verdict: str
    message: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "message": self.message}


def connectable(connection: ConnectionModel, key: str, twin_key: str, *, deps: SyncDeps) -> Verdict:
    """This end's answer: may our issue ``key`` be connected with the other end's
    ``twin_key``? What :func:`receive_request` would find, asked before the request is
    sent, and one thing more: ``key`` already synced with another issue (or being synced
    for the first time) in this connection."""
    try:
        issue = deps.tracker.get_issue(key)
    except (IssueNotFound, PermissionDenied):
        return Verdict(
            NOT_FOUND,
            f"{key} does not exist in the other instance's tracker (or its integration user "
            "cannot read it).",
        )
    except TrackerError as exc:
        log.info("connectable %s: tracker did not answer: %s", key, exc)
        return Verdict(UNKNOWN)
    mine = get_twin(connection.id, issue.key)
    if mine is not None and mine.status != "stopped" and mine.remote_key != twin_key:
        other = f" with {mine.remote_key}" if mine.remote_key else ""
        return Verdict(
            ALREADY_SYNCED,
            f"{issue.key} is already synced{other} in the other instance.",
        )
    holder = twin_by_remote(connection.id, twin_key)
    if holder is not None and holder.status != "stopped" and holder.local_key != issue.key:
        return Verdict(
            ALREADY_SYNCED,
            f"{twin_key} is already synced with {holder.local_key} in the other instance.",
        )
    return Verdict(CONNECTABLE)


def parse_verdict(answer: Any) -> Verdict | None:
    if not isinstance(answer, Mapping) or answer.get("verdict") not in VERDICTS:
        return None
    message = answer.get("message")
    return Verdict(str(answer["verdict"]), message if isinstance(message, str) else None)


def ask_other_end(
    connection: ConnectionModel, local_key: str, remote_key: str, *, deps: SyncDeps
) -> Verdict | None:
    """The other end's verdict on ``remote_key``; None when it cannot be asked (a private
    peer, a peer that does not answer or does not know the route)."""
    if is_local(connection):
        other = get_connection(str(connection.local_peer_id))
        if other is None:
            return None
        return connectable(other, remote_key, local_key, deps=deps)
    if not connection.remote_public:
        return None  # a private peer is only ever called by itself: it pulls
    end = reachable_end(connection)
    if end is None:
        return None
    path = f"/node/v1/connections/{quote(connection.id, safe='')}/connectable"
    try:
        answer = deps.peer.call(end, "POST", path, {"key": remote_key, "twin_key": local_key})
    except OutboundError as exc:  # down, refused, or a node without the route
        log.info("connect %s -> %s: other end not asked (%s); queued", local_key, remote_key, exc)
        return None
    return parse_verdict(answer)


def refuse_at_once(verdict: Verdict | None) -> None:
    """Raise the admin API's refusal for a verdict that says no."""
    if verdict is None or verdict.verdict in (CONNECTABLE, UNKNOWN):
        return
    if verdict.verdict == NOT_FOUND:
        raise NotFound(
            verdict.message or "The remote issue was not found in the other instance.",
            code="remote_issue_not_found",
            field="remote_key",
        )
    raise Conflict(
        verdict.message or "The remote issue is already synced in the other instance.",
        code="remote_issue_already_synced",
        field="remote_key",
    )


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
