"""An issue under sync is deleted in its tracker: mark its twin, tell the other side.

Here (the issue is gone): each twin of it stops with a ``deleted`` tombstone, and the other
end gets a ``deleted`` removal. Only the tracker's own "issue deleted" event counts: an
issue that merely cannot be read (a permission change) must not look deleted, since the
other side's policy may delete its issue.

There (the twin is gone): the connection end's policy decides what happens to the issue
that is left; ``comment`` (the default) leaves it alone and adds a comment saying its
twin was deleted; ``ignore`` only stops syncing; ``delete`` deletes it too, unless the
incoming guard protects it (then it is commented instead).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from chalicelib.errors import BadRequest
from chalicelib.store import audit
from chalicelib.store.keys import get_key, set_key
from chalicelib.store.models import ConnectionModel, TwinModel, utcnow
from chalicelib.store.namespaces import policy_key
from chalicelib.sync import removal
from chalicelib.sync.events import record_transaction
from chalicelib.sync.links import get_connection
from chalicelib.sync.messages import IngestMessage, Removal
from chalicelib.sync.services import SyncDeps
from chalicelib.sync.stop import mark_stopped
from chalicelib.sync.store import twins_of_issue
from chalicelib.trackers.base import Body, NotFound

log = logging.getLogger("twinsync.ops.deletion")

POLICIES = ("ignore", "comment", "delete")
DEFAULT_POLICY = "comment"


def policy(connection_id: str) -> dict[str, str]:
    item = get_key(policy_key(connection_id))
    stored = json.loads(item.value) if item is not None and item.value else {}
    return {"on_twin_deleted": stored.get("on_twin_deleted", DEFAULT_POLICY)}


def set_policy(
    connection: ConnectionModel, body: Mapping[str, Any], *, actor: str | None = None
) -> dict[str, str]:
    """``PUT …/deletion-policy {on_twin_deleted: ignore|comment|delete}``."""
    unknown = sorted(set(body) - {"on_twin_deleted"})
    if unknown:
        raise BadRequest(f"Unknown field {unknown[0]!r}.", code="unknown_field", field=unknown[0])
    chosen = body.get("on_twin_deleted")
    if chosen not in POLICIES:
        raise BadRequest(
            f"on_twin_deleted must be one of {', '.join(POLICIES)}.",
            code="invalid_field",
            field="on_twin_deleted",
        )
    before = policy(connection.id)
    set_key(policy_key(connection.id), json.dumps({"on_twin_deleted": chosen}))
    if before["on_twin_deleted"] != chosen:
        audit.record(
            "connection.deletion_policy_changed",
            actor=actor,
            connection_id=connection.id,
            details={"from": before["on_twin_deleted"], "to": chosen},
        )
    return policy(connection.id)


# --- here: our issue was deleted -------------------------------------------------------------


def issue_gone(hint: IngestMessage, *, deps: SyncDeps) -> int:
    """Ingest found no issue; if the tracker said it was deleted, end its twins. How many."""
    key = hint.issue_key
    if hint.kind != "issue_deleted" or not key:
        return 0
    ended = 0
    for twin in twins_of_issue(key):
        connection = get_connection(twin.connection_id)
        if connection is None or connection.status == "deleted":
            continue
        when = utcnow().strftime("%Y-%m-%d %H:%M UTC")
        mark_stopped(
            twin,
            kind="deleted",
            by="local",
            reason=f"{key} was deleted in this tracker on {when}; the other side was told.",
            deps=deps,
        )
        removal.send(connection, twin, "deleted", f"{key} was deleted on {when}", deps=deps)
        ended += 1
    if ended:
        log.info("%s deleted: %d twin link(s) ended", key, ended)
    return ended


# --- there: the other side's issue was deleted ----------------------------------------------


def notice_body(text: str, body_format: str) -> Body:
    if body_format == "adf":
        doc = {
            "type": "doc",
            "version": 1,
            "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
        }
        return Body("adf", doc)
    return Body("wiki" if body_format == "wiki" else "text", text)


def on_twin_deleted(
    connection: ConnectionModel,
    twin: TwinModel,
    removal: Removal,
    *,
    guarded: bool,
    deps: SyncDeps,
) -> str:
    """Apply this end's policy to the issue whose twin was deleted; returns what was done."""
    chosen = policy(connection.id)["on_twin_deleted"]
    if chosen == "delete" and guarded:
        chosen = "comment"  # the incoming guard protects this issue from incoming changes
    other = connection.remote_name or connection.remote_short_name
    text = (
        f"Its twin {removal.key} in {other} was deleted; this issue is no longer "
        "synced and was otherwise left as it is."
    )
    done = chosen
    try:
        if chosen == "delete":
            deps.tracker.delete_issue(twin.local_key)
            text = f"Deleted because its twin {removal.key} in {other} was deleted."
        elif chosen == "comment":
            deps.tracker.add_comment(twin.local_key, notice_body(text, deps.tracker.body_format))
    except NotFound:
        done = f"{chosen}: the issue was already gone here"
    mark_stopped(
        twin,
        kind="twin_deleted",
        by="remote",
        reason=text,
        boundary=removal.version,
        deps=deps,
    )
    record_transaction(
        connection.id,
        twin.local_key,
        direction="incoming",
        changes=["removed"],
        outcome=f"twin deleted: {done}",
        version=removal.version,
    )
    return done
