"""The ``removed`` replica: how one end tells the other that a twin link ends.

It is a message kind of its own (:class:`chalicelib.sync.messages.Removal`), built and
read there.

It travels like any replica (outbox → push, or a private peer's pull), so it reaches a
private peer too, in order behind the changes sent before it. Besides ``removed: true``
it carries ``removal: {kind, reason}`` (an addition to protocol 1 that older receivers
ignore):

- ``stopped``: the sender's admin stopped syncing the issue; the receiver stops too and
  answers with a ``stop_ack``;
- ``stop_ack``: the answer; it tells the stopping side which version the other end had
  reached, so anything older that arrives late is recognised as late;
- ``deleted``: the sender's issue was deleted in its tracker; the receiver applies its
  policy (ignore / comment / delete) and stops;
- ``refused``: an answer to a connect request that could not be honoured (the issue does
  not exist, or is already synced); ``key`` is the refused issue, ``twin_key`` the
  requesting one.
"""

from __future__ import annotations

import secrets

from chalicelib.store.models import ConnectionModel, TwinModel, utcnow
from chalicelib.store.namespaces import outbox_dedup, outbox_pk
from chalicelib.sync.deliver import enqueue_deliver
from chalicelib.sync.events import record_transaction
from chalicelib.sync.messages import DeliverMessage, Removal
from chalicelib.sync.services import SyncDeps
from chalicelib.sync.store import append_entry


def _queue(
    connection: ConnectionModel, local_key: str, removal: Removal, *, deps: SyncDeps
) -> None:
    entry = append_entry(
        outbox_pk(connection.id),
        issue_key=local_key,
        replica=removal.to_wire(),
        retention_days=deps.settings.outbox_retention_days,
    )
    enqueue_deliver(
        DeliverMessage(connection.id, int(entry.seq), local_key),
        deps=deps,
        dedup=outbox_dedup(connection.id, int(entry.seq)),
    )


def send(
    connection: ConnectionModel,
    twin: TwinModel,
    kind: str,
    reason: str | None,
    *,
    deps: SyncDeps,
) -> int:
    """Queue a removal for ``twin``'s other end; returns its version."""
    version = int(twin.last_sent_version or 0) + 1
    message = Removal.new(
        connection.id,
        key=twin.local_key,
        url=twin.local_url,
        version=version,
        kind=kind,
        reason=reason,
        twin_key=twin.remote_key,
        updated=utcnow().isoformat(),
    )
    _queue(connection, twin.local_key, message, deps=deps)
    # a later explicit restart must send the issue's content again, even if unchanged
    twin.update(
        actions=[TwinModel.last_sent_version.set(version), TwinModel.last_sent_hash.remove()]
    )
    record_transaction(
        connection.id,
        twin.local_key,
        direction="outgoing",
        changes=["removed"],
        outcome=f"sent: {kind}",
        version=version,
        error=reason,
    )
    return version


def send_refusal(
    connection: ConnectionModel,
    *,
    local_key: str,
    url: str | None,
    requester_key: str,
    reason: str,
    deps: SyncDeps,
) -> None:
    """Answer a connect request that cannot be honoured (there is no twin here to version)."""
    message = Removal.new(
        connection.id,
        key=local_key,
        url=url,
        version=1,
        kind="refused",
        reason=reason,
        twin_key=requester_key,
        updated=utcnow().isoformat(),
        replica_id=f"{connection.id}:{local_key}:refused:{secrets.token_hex(6)}",
    )
    _queue(connection, local_key, message, deps=deps)
