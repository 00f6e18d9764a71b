"""Settings of one node, read from the stage's environment in this module and nowhere else.

A deployment is configured only through environment variables (set by the Chalice stage
or the packaged CloudFormation template, or by the local stack). Every problem found is
collected and reported together, so an operator fixes a bad stage in one round trip.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import msgspec

from chalicelib.structs import repr_without

TRACKER_KINDS = ("jira_cloud", "jira_server")
MODES = ("basic", "visual", "script")

_NODE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,62}$")


ADMIN_TOKEN_MIN_BITS = 256
_HEX_RE = re.compile(r"^(?:[0-9a-f]+|[0-9A-F]+)$")
_BASE64URL_RE = re.compile(r"^[A-Za-z0-9_-]+$")


def admin_token_bits(token: str) -> float:
    """An upper estimate of a token's entropy in bits, from its length and alphabet.

    A hex token counts 4 bits a character; a base64url token mixing at least two of digits,
    lower and upper case letters 6 bits (a random one lacks a class now and then: counting
    only the classes it shows would refuse a quarter of ``secrets.token_urlsafe(32)``);
    otherwise each class present adds its size to the alphabet (digits 10, lower 26, upper
    26, anything else 33). A token of fewer than
    10 distinct characters (``aaaa…``, ``abab…``) counts as none: no random 32-byte token
    looks like that. The estimate cannot prove randomness, only refuse what is surely weak.
    """
    if len(set(token)) < 10:
        return 0.0
    classes = [
        any(c.isdigit() for c in token),
        any("a" <= c <= "z" for c in token),
        any("A" <= c <= "Z" for c in token),
    ]
    if _HEX_RE.match(token):
        alphabet = 16
    elif _BASE64URL_RE.match(token) and sum(classes) >= 2:
        alphabet = 64
    else:
        alphabet = sum(
            size
            for present, size in (
                (classes[0], 10),
                (classes[1], 26),
                (classes[2], 26),
                (any(not (c.isascii() and c.isalnum()) for c in token), 33),
            )
            if present
        )
    return len(token) * math.log2(alphabet)


class ConfigError(Exception):
    """The stage's settings are missing or invalid; the message lists every problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            "Twinsync cannot start, fix these settings:\n" + "\n".join(f"  - {p}" for p in problems)
        )


# The settings are msgspec Structs: every function's first invocation imports this module,
# and a Struct type is built in C (a dataclass's or a NamedTuple's methods are compiled from
# source when it is defined: issue 19, cold start).


class TrackerSettings(msgspec.Struct, frozen=True):
    kind: str
    url: str
    user: str | None
    token: str
    webhooks: bool = True

    def __repr__(self) -> str:  # never the token
        return repr_without(self, omit=("token",))


class ResourceNames(msgspec.Struct, frozen=True):
    """Physical names of the tables, queues, bucket and KMS key; they come from the stage."""

    connections_table: str
    invitations_table: str
    twins_table: str
    entries_table: str
    events_table: str
    keys_table: str
    ingest_queue_url: str
    deliver_queue_url: str
    apply_queue_url: str
    jobs_queue_url: str
    # catch-up work (bulk jobs, the reconcile sweep) has queues of its own, consumed beside
    # the live ones: a live change never waits behind it (chalicelib.sync.lanes, ADR 0003)
    ingest_catchup_queue_url: str
    deliver_catchup_queue_url: str
    apply_catchup_queue_url: str
    blob_bucket: str
    # the tenant's KMS key sealing connection keys at rest (chalicelib.connections.sealing);
    # required like the tables: there is no unsealed mode, locally it is the embedded AWS's
    kms_key_arn: str


class Settings(msgspec.Struct, frozen=True):
    """The node's settings (``msgspec.structs.replace(settings, ...)`` for a variant; the
    repr shows no secret, no tracker settings and no resource names)."""

    node_id: str
    node_name: str
    public_url: str | None
    admin_token_sha256: str
    webhook_secret: str
    tracker: TrackerSettings
    resources: ResourceNames
    region: str = "us-east-1"
    allow_private_urls: bool = False
    allowed_hosts: tuple[str, ...] = ()
    invitation_ttl_hours: int = 72
    modes: tuple[str, ...] = MODES
    max_body_bytes: int = 1_048_576
    outbox_retention_days: int = 14
    poll_wait_seconds: int = 20
    quiet_poll: bool = False
    # how long a private node keeps long-polling a connection after its last change (either
    # way); after that, one short pull per scheduled run until a change comes (issue 19)
    poll_hot_seconds: int = 900
    # a public node's function URL answering a private peer's pull (outbox_poll), which it
    # advertises in the outbox answer; None: peers pull through the API (issue 19)
    outbox_url: str | None = None
    reconcile_overlap_seconds: int = 120
    reconcile_interval_seconds: int = 300
    log_level: str = "INFO"
    script_function: str | None = None  # the script_runner Lambda; None: a local child process

    @property
    def is_public(self) -> bool:
        return self.public_url is not None

    def __repr__(self) -> str:
        return repr_without(
            self, omit=("admin_token_sha256", "webhook_secret", "tracker", "resources")
        )


_RESOURCE_VARS = {
    "connections_table": "TWINSYNC_TABLE_CONNECTIONS",
    "invitations_table": "TWINSYNC_TABLE_INVITATIONS",
    "twins_table": "TWINSYNC_TABLE_TWINS",
    "entries_table": "TWINSYNC_TABLE_ENTRIES",
    "events_table": "TWINSYNC_TABLE_EVENTS",
    "keys_table": "TWINSYNC_TABLE_KEYS",
    "ingest_queue_url": "TWINSYNC_QUEUE_INGEST_URL",
    "deliver_queue_url": "TWINSYNC_QUEUE_DELIVER_URL",
    "apply_queue_url": "TWINSYNC_QUEUE_APPLY_URL",
    "jobs_queue_url": "TWINSYNC_QUEUE_JOBS_URL",
    "ingest_catchup_queue_url": "TWINSYNC_QUEUE_INGEST_CATCHUP_URL",
    "deliver_catchup_queue_url": "TWINSYNC_QUEUE_DELIVER_CATCHUP_URL",
    "apply_catchup_queue_url": "TWINSYNC_QUEUE_APPLY_CATCHUP_URL",
    "blob_bucket": "TWINSYNC_BUCKET_BLOBS",
    "kms_key_arn": "TWINSYNC_KMS_KEY_ARN",
}


class _Reader:
    """Collects problems instead of stopping at the first one."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def text(self, name: str, *, required: bool = True, default: str | None = None) -> str | None:
        value = self.env.get(name, "").strip()
        if value:
            return value
        if required and default is None:
            self.problems.append(f"{name} is required")
        return default

    def integer(self, name: str, default: int, *, low: int, high: int) -> int:
        raw = self.env.get(name, "").strip()
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            self.problems.append(f"{name} must be a whole number, got {raw!r}")
            return default
        if not low <= value <= high:
            self.problems.append(f"{name} must be between {low} and {high}, got {value}")
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        raw = self.env.get(name, "").strip().lower()
        if not raw:
            return default
        if raw in ("1", "true", "yes", "on"):
            return True
        if raw in ("0", "false", "no", "off"):
            return False
        self.problems.append(f"{name} must be true or false, got {raw!r}")
        return default

    def url(self, name: str, *, required: bool) -> str | None:
        value = self.text(name, required=required)
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            self.problems.append(f"{name} must be an http(s) URL, got {value!r}")
            return None
        return value.rstrip("/")


def load_settings(
    env: Mapping[str, str] | None = None, secrets: Mapping[str, str] | None = None
) -> Settings:
    """Build the settings from ``env`` (the process environment by default).

    ``secrets`` holds ``TWINSYNC_*`` values read from Secrets Manager (``chalicelib.secrets``);
    they win over the environment, which only supplies them where there is no secret (local).
    """
    source = os.environ if env is None else env
    r = _Reader({**source, **secrets} if secrets else source)
    node_id = r.text("TWINSYNC_NODE_ID") or ""
    if node_id and not _NODE_ID_RE.match(node_id):
        r.problems.append(
            f"TWINSYNC_NODE_ID must be 2-63 letters, digits, '.', '_' or '-', got {node_id!r}"
        )
    node_name = r.text("TWINSYNC_NODE_NAME", default=node_id) or node_id
    public_url = r.url("TWINSYNC_PUBLIC_URL", required=False)

    token_hash = r.env.get("TWINSYNC_ADMIN_TOKEN_SHA256", "").strip().lower()
    raw_token = r.env.get("TWINSYNC_ADMIN_TOKEN", "")
    if not token_hash and raw_token:
        if admin_token_bits(raw_token) < ADMIN_TOKEN_MIN_BITS:
            r.problems.append(
                "TWINSYNC_ADMIN_TOKEN must carry at least 32 bytes of randomness: 64 hex "
                "digits (openssl rand -hex 32) or 43 base64url characters (python -c "
                "'import secrets; print(secrets.token_urlsafe(32))')"
            )
        token_hash = hashlib.sha256(raw_token.encode()).hexdigest()
    if not token_hash:
        r.problems.append("TWINSYNC_ADMIN_TOKEN_SHA256 (or TWINSYNC_ADMIN_TOKEN) is required")
    elif not re.fullmatch(r"[0-9a-f]{64}", token_hash):
        r.problems.append("TWINSYNC_ADMIN_TOKEN_SHA256 must be 64 hex digits")

    kind = r.text("TWINSYNC_TRACKER_KIND") or ""
    if kind and kind not in TRACKER_KINDS:
        r.problems.append(f"TWINSYNC_TRACKER_KIND must be one of {', '.join(TRACKER_KINDS)}")
    tracker_url = r.url("TWINSYNC_TRACKER_URL", required=True) or ""
    tracker_user = r.text("TWINSYNC_TRACKER_USER", required=kind == "jira_cloud")
    tracker_token = r.text("TWINSYNC_TRACKER_TOKEN") or ""
    webhook_secret = r.text("TWINSYNC_WEBHOOK_SECRET") or ""
    if webhook_secret and len(webhook_secret) < 16:
        r.problems.append("TWINSYNC_WEBHOOK_SECRET must be at least 16 characters")

    resources = {attr: r.text(var) or "" for attr, var in _RESOURCE_VARS.items()}
    modes = tuple(
        m.strip() for m in (r.text("TWINSYNC_MODES", default=",".join(MODES)) or "").split(",")
    )
    for mode in modes:
        if mode not in MODES:
            r.problems.append(f"TWINSYNC_MODES has unknown mode {mode!r}")
    allowed_hosts = tuple(
        h.strip().lower()
        for h in (r.env.get("TWINSYNC_ALLOWED_HOSTS", "") or "").split(",")
        if h.strip()
    )
    settings_kwargs: dict[str, Any] = {
        "region": r.text("AWS_DEFAULT_REGION", default="us-east-1") or "us-east-1",
        "allow_private_urls": r.flag("TWINSYNC_ALLOW_PRIVATE_URLS"),
        "allowed_hosts": allowed_hosts,
        "invitation_ttl_hours": r.integer("TWINSYNC_INVITATION_TTL_HOURS", 72, low=1, high=720),
        "modes": modes,
        "max_body_bytes": r.integer("TWINSYNC_MAX_BODY_BYTES", 1_048_576, low=1024, high=6_000_000),
        "outbox_retention_days": r.integer("TWINSYNC_OUTBOX_RETENTION_DAYS", 14, low=1, high=365),
        "poll_wait_seconds": r.integer("TWINSYNC_POLL_WAIT_SECONDS", 20, low=0, high=60),
        "quiet_poll": r.flag("TWINSYNC_QUIET_POLL"),
        "poll_hot_seconds": r.integer("TWINSYNC_POLL_HOT_SECONDS", 900, low=0, high=2_678_400),
        "outbox_url": r.url("TWINSYNC_OUTBOX_URL", required=False),
        "reconcile_interval_seconds": r.integer(
            "TWINSYNC_RECONCILE_INTERVAL_SECONDS",
            300 if r.flag("TWINSYNC_TRACKER_WEBHOOKS", default=True) else 60,
            low=1,
            high=86_400,
        ),
        "reconcile_overlap_seconds": r.integer(
            "TWINSYNC_RECONCILE_OVERLAP_SECONDS", 120, low=0, high=86_400
        ),
        "log_level": (r.text("TWINSYNC_LOG_LEVEL", default="INFO") or "INFO").upper(),
        "script_function": r.text("TWINSYNC_SCRIPT_FUNCTION", required=False),
    }
    tracker_webhooks = r.flag("TWINSYNC_TRACKER_WEBHOOKS", default=True)
    if r.problems:
        raise ConfigError(r.problems)
    return Settings(
        node_id=node_id,
        node_name=node_name,
        public_url=public_url,
        admin_token_sha256=token_hash,
        webhook_secret=webhook_secret,
        tracker=TrackerSettings(
            kind=kind,
            url=tracker_url,
            user=tracker_user,
            token=tracker_token,
            webhooks=tracker_webhooks,
        ),
        resources=ResourceNames(**resources),
        **settings_kwargs,
    )


class _SettingsCache:
    """The process-wide settings: the environment is read once (a Lambda container serves
    one stage), the secret's values as often as :mod:`chalicelib.secrets` refreshes them.

    A rotated secret therefore reaches a warm container within the secrets cache's TTL:
    the values differ, so new settings are built (and the composition root, which keys on
    them, rebuilds the tracker client with the new token). Same values, same object.
    """

    def __init__(self) -> None:
        self._key: tuple[tuple[str, str], ...] | None = None
        self._settings: Settings | None = None

    def __call__(self) -> Settings:
        secret_id = os.environ.get("TWINSYNC_SECRETS_ID", "").strip()
        key: tuple[tuple[str, str], ...] = ()
        if secret_id:
            from chalicelib.secrets import secret_environment

            key = tuple(sorted(secret_environment(secret_id).items()))
        if self._settings is None or key != self._key:
            self._settings = load_settings(secrets=dict(key) if secret_id else None)
            self._key = key
        return self._settings

    def cache_clear(self) -> None:
        self._key, self._settings = None, None


get_settings = _SettingsCache()
