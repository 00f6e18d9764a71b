"""PynamoDB declarations of every table a node keeps.

Models are declarations only; behaviour lives in the packages that use them. Table names
are bound at run time from the stage's settings (:func:`bind`) because CloudFormation
names the tables, not us. Secrets (connection keys) live only in ``ConnectionModel.key``
and a tombstone's ``KeyModel.secret``, sealed under the tenant's KMS key
(:mod:`chalicelib.connections.sealing`); the attribute is never returned by the API.

Keys:
- connections:  id
- invitations:  id
- twins:        connection_id + local_key; GSI ``by_local_key_keys`` (local_key) finds every
                connection holding an issue; GSI ``by_remote_key_keys`` (connection_id +
                remote_key); GSI ``by_created`` (connection_id + created_at) lists them;
                all three keys only
- entries:      pk = "<connection id>#out" | "<connection id>#in" + seq (outbox and inbox)
- events:       pk = "err" | "hist#<connection id>#<issue key>" | "audit" | "jobs" | … + sk
                (time-ordered)
- keys:         key (idempotency, replay, uniqueness); ``expires_at`` TTL, filtered on read

Every partition key and key namespace is built by :mod:`chalicelib.store.namespaces`.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Any

from pynamodb.attributes import (
    Attribute,
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.constants import BINARY, STRING
from pynamodb.expressions.update import Action
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.config import Settings
from chalicelib.store.packing import pack, unpack


def utcnow() -> datetime:
    return datetime.now(UTC)


class PackedJSONAttribute(Attribute[Any]):
    """JSON kept deflated (a binary attribute), for the bulk of an item written often.

    DynamoDB bills a write one unit per started KB of the whole item, however little of
    it changed (and again in an index that projects it): a twin's registers and last
    replica are most of its bytes (issue 19). They are deflated against a preset
    dictionary of what they repeat (:mod:`chalicelib.store.packing`). An item saved
    before holds plain deflate or the plain JSON string (``JSONAttribute``'s form): it
    reads the same, and its next write of the attribute stores it packed."""

    attr_type = BINARY

    def serialize(self, value: Any) -> bytes:
        return pack(value)

    def deserialize(self, value: bytes | str) -> Any:
        return unpack(value)

    def get_value(self, value: dict[str, Any]) -> Any:
        if BINARY not in value and STRING in value:
            return value[STRING]
        return super().get_value(value)


class ConnectionModel(Model):
    class Meta:
        table_name = "unbound"
        region = "us-east-1"

    id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    mode = UnicodeAttribute()
    status = UnicodeAttribute()
    status_reason = UnicodeAttribute(null=True)
    local_state = UnicodeAttribute(default="active")  # active | deactivated (this admin's switch)
    remote_state = UnicodeAttribute(default="active")  # active | deactivated | deleted (peer said)
    remote_reason = UnicodeAttribute(null=True)  # the peer's reason for remote_state
    pending_notice = JSONAttribute(null=True)  # {status, reason} the peer has not been told yet
    role = UnicodeAttribute()
    local_short_name = UnicodeAttribute()
    remote_short_name = UnicodeAttribute()
    incoming_project = UnicodeAttribute()
    remote_node_id = UnicodeAttribute(null=True)
    remote_name = UnicodeAttribute(null=True)
    remote_url = UnicodeAttribute(null=True)
    remote_public = BooleanAttribute(default=False)
    local_peer_id = UnicodeAttribute(null=True)  # the other end's id for a local connection
    invitation_id = UnicodeAttribute(null=True)
    admin_access = BooleanAttribute(default=False)
    key = UnicodeAttribute(null=True)  # the connection key, sealed: connections.store.open_key
    outgoing_script = UnicodeAttribute(null=True)
    incoming_script = UnicodeAttribute(null=True)
    script_history = JSONAttribute(default=list)
    mappings = JSONAttribute(null=True)
    mappings_history = JSONAttribute(default=list)  # versions: who changed them, when, where
    incoming_guard_jql = UnicodeAttribute(null=True)
    conflict_rules = JSONAttribute(null=True)  # script mode: {replica field: "keep"}
    # who may read the comments this end writes as internal: {type: role|group, value};
    # None: the Administrators project role
    private_comment_visibility = JSONAttribute(null=True)
    # issue 18: people across the connection: [{"remote": id, "local": id}] (the other
    # side's account id or username -> this tracker's), and who takes an unmapped person
    # ({"user": id} or "unassigned"; absent: unassigned)
    user_map = JSONAttribute(null=True)
    user_fallback = JSONAttribute(null=True)
    # issue 18: a child whose parent is not synced: "parent_first" (absent) or "wait"
    hierarchy = UnicodeAttribute(null=True)
    peer_last_pull_at = UTCDateTimeAttribute(null=True)
    created_at = UTCDateTimeAttribute(default=utcnow)
    updated_at = UTCDateTimeAttribute(default=utcnow)
    version = VersionAttribute()


class InvitationModel(Model):
    class Meta:
        table_name = "unbound"
        region = "us-east-1"

    id = UnicodeAttribute(hash_key=True)
    connection_id = UnicodeAttribute()
    secret_sha256 = UnicodeAttribute()
    status = UnicodeAttribute(default="open")  # open | used | revoked
    accepted_by = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute(default=utcnow)
    expires_at = UTCDateTimeAttribute()
    terms_proof = UnicodeAttribute(null=True)  # keys.terms_proof of the code as issued
    purge_at = TTLAttribute(null=True)


class TwinsByLocalKey(GlobalSecondaryIndex["TwinModel"]):
    """Every connection's twin of one issue: the twins' keys only (a twin is read by key).

    Issue 19: an index that projects every attribute is written again with each write of
    the twin, billed on the whole item: the twins' two lookups by key project the keys
    alone, and the twin is then read (or held, which returns it) by its key."""

    class Meta:
        index_name = "by_local_key_keys"
        projection = KeysOnlyProjection()

    local_key = UnicodeAttribute(hash_key=True)


class TwinsByRemoteKey(GlobalSecondaryIndex["TwinModel"]):
    """A connection's twin of the other side's issue: keys only (see TwinsByLocalKey)."""

    class Meta:
        index_name = "by_remote_key_keys"
        projection = KeysOnlyProjection()

    connection_id = UnicodeAttribute(hash_key=True)
    remote_key = UnicodeAttribute(range_key=True)


class TwinsByLocalKeyBefore(GlobalSecondaryIndex["TwinModel"]):
    """``by_local_key`` of a stack made before 2026-12-04 (every attribute projected):
    read while the upgrade's steps build its replacement (docs/deploy.md, "Upgrading")."""

    class Meta:
        index_name = "by_local_key"
        projection = AllProjection()

    local_key = UnicodeAttribute(hash_key=True)


class TwinsByRemoteKeyBefore(GlobalSecondaryIndex["TwinModel"]):
    """``by_remote_key`` of a stack made before 2026-12-04 (see TwinsByLocalKeyBefore)."""

    class Meta:
        index_name = "by_remote_key"
        projection = AllProjection()

    connection_id = UnicodeAttribute(hash_key=True)
    remote_key = UnicodeAttribute(range_key=True)


class TwinsByCreated(GlobalSecondaryIndex["TwinModel"]):
    """A connection's twins in the order they were made (keys only: the list reads the
    page's twins by key, so updates of a twin, which are many, never write this index)."""

    class Meta:
        index_name = "by_created"
        projection = KeysOnlyProjection()

    connection_id = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class TwinModel(Model):
    class Meta:
        table_name = "unbound"
        region = "us-east-1"

    connection_id = UnicodeAttribute(hash_key=True)
    local_key = UnicodeAttribute(range_key=True)
    local_id = UnicodeAttribute(null=True)
    local_url = UnicodeAttribute(null=True)
    remote_key = UnicodeAttribute(null=True)
    remote_url = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default="queued")  # queued | synced | error | stopped
    error = UnicodeAttribute(null=True)
    last_synced_at = UTCDateTimeAttribute(null=True)
    comment_map = JSONAttribute(default=dict)  # remote comment id -> local comment id
    worklog_map = JSONAttribute(null=True)  # issue 18: remote worklog id -> {local_id, hash}
    # issue 18: links of this issue that this node added as copies of the other side's,
    # [type (lower case), direction, our key of the other issue, anchor]; sent marked
    # ``copied``; anchor: None until a read shows the link, then that read's ``updated``
    # (chalicelib.sync.relations_apply.LinkCopies); notes written before anchors: 3 items
    links_copied = JSONAttribute(null=True)
    attachment_map = JSONAttribute(default=dict)  # remote attachment id -> local attachment id
    last_applied_version = NumberAttribute(default=0)
    last_applied_hash = UnicodeAttribute(null=True)
    last_applied_replica = PackedJSONAttribute(null=True)
    merge_state = PackedJSONAttribute(default=dict)  # field -> register (chalicelib.rules.merge)
    conflicts = PackedJSONAttribute(default=list)  # the last few conflicts decided, newest last
    last_sent_version = NumberAttribute(default=0)
    last_sent_hash = UnicodeAttribute(null=True)  # of what is not a field: comments, files
    sent_hashes = PackedJSONAttribute(default=dict)  # replica field -> hash, last sent
    seen_updated = UnicodeAttribute(null=True)  # the issue's `updated` when last read
    # the signed timestamp (ms) of the newest webhook whose issue this end read since: a
    # delivery not newer is a replay or late (chalicelib.sync.hook_guard, ADR 0012)
    webhook_seen = NumberAttribute(null=True)
    sent_attachments = JSONAttribute(default=dict)  # local attachment id -> sha256
    linked_back = UnicodeAttribute(null=True)  # the remote key our issue's remote link names
    # held by the one ingest or apply working on this twin (chalicelib.sync.store.holding):
    # both read and write the merge registers, so they take turns
    lease_until = UTCDateTimeAttribute(null=True)
    # how many times the lease was taken (each take adds one): the same count as read means
    # no ingest or apply worked on the twin meanwhile (chalicelib.sync.store.holding_as_read)
    holds = NumberAttribute(null=True)
    created_at = UTCDateTimeAttribute(default=utcnow)
    by_local_key = TwinsByLocalKey()
    by_remote_key = TwinsByRemoteKey()
    by_local_key_before = TwinsByLocalKeyBefore()
    by_remote_key_before = TwinsByRemoteKeyBefore()
    by_created = TwinsByCreated()
    # no VersionAttribute: ingest and apply each SET their own attributes of the same twin
    # concurrently (different queues); a whole-item version would make them fail each other


class EntryModel(Model):
    """An outbox or inbox entry: one replica, ordered per connection by ``seq``."""

    class Meta:
        table_name = "unbound"
        region = "us-east-1"

    pk = UnicodeAttribute(hash_key=True)
    seq = NumberAttribute(range_key=True)
    replica_id = UnicodeAttribute()
    issue_key = UnicodeAttribute()
    replica = PackedJSONAttribute()
    state = UnicodeAttribute(default="pending")  # pending | sent | acked | applied
    created_at = UTCDateTimeAttribute(default=utcnow)
    purge_at = TTLAttribute(null=True)


class EventModel(Model):
    """Sync events (per twin history), error records and audit entries."""

    class Meta:
        table_name = "unbound"
        region = "us-east-1"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    data = JSONAttribute(default=dict)
    purge_at = TTLAttribute(null=True)


class KeyModel(Model):
    """Idempotency, replay-protection and uniqueness keys.

    DynamoDB deletes expired items lazily (up to days later), so readers must treat an
    item whose ``expires_at`` has passed as absent: see :func:`key_is_live`.
    """

    class Meta:
        table_name = "unbound"
        region = "us-east-1"

    key = UnicodeAttribute(hash_key=True)
    value = UnicodeAttribute(null=True)
    counter = NumberAttribute(null=True)  # per-connection outbox/inbox sequences
    secret = UnicodeAttribute(null=True)  # a tombstone's connection key, sealed (verifies the peer)
    expires_at = TTLAttribute(null=True)


def key_is_live(item: KeyModel, now: datetime | None = None) -> bool:
    return item.expires_at is None or item.expires_at > (now or utcnow())


ALL_MODELS: dict[str, type[Model]] = {
    "connections_table": ConnectionModel,
    "invitations_table": InvitationModel,
    "twins_table": TwinModel,
    "entries_table": EntryModel,
    "events_table": EventModel,
    "keys_table": KeyModel,
}


def bind(settings: Settings) -> None:
    """Point every model at the stage's tables (idempotent, cheap)."""
    for attr, model in ALL_MODELS.items():
        model.Meta.table_name = getattr(settings.resources, attr)
        model.Meta.region = settings.region


def new_id() -> str:
    """Time-ordered, unique: sorts errors and history entries by when they happened."""
    return f"{int(time.time() * 1000):013d}-{secrets.token_hex(4)}"


def set_or_remove(attribute: Attribute[Any], value: Any) -> Action:
    """``attribute = value`` in an update; ``None`` removes the attribute (what PynamoDB's
    ``set(None)`` does too, but its types do not say so)."""
    return attribute.remove() if value is None else attribute.set(value)
