"""Every key namespace a node writes, and the one function that builds each key.

The keys table and the events table hold many kinds of item under one hash key; what
keeps them apart is the prefix. Each prefix is named here and nowhere else, so two kinds
cannot collide and a reader finds every kind in one table. The strings are part of the
stored data (and of the queues' deduplication): never change one, add a new namespace.

Keys table (``KeyModel.key``; TTL is ``expires_at``, filtered on read):

=========================================  =====================  ========================
key                                        TTL                    owner
=========================================  =====================  ========================
``claim#<connection>#<remote key>``        none                   sync.apply
``tomb#<connection>#<local key>``          none                   sync.stop, sync.connect
``policy#<connection>``                    none                   sync.deletion
``pull#<connection>``                      none                   sync.private
``poll#<connection>``                      none                   sync.private
``hook#<delivery id>`` (until issue 19)    2 days                 sync.intake
``hook-body#<sha256 of the body>``         2 days 30 minutes      sync.hook_guard
``replica#<connection>#<replica id>``      30 days                sync.inbox
``refused#<connection>#<remote key>``      none                   sync.refusals
``tstat-pull#<connection>``                none                   sync.twin_status
``reconcile#cursor``                       none                   sync.reconcile
``reconcile#status``                       none                   sync.reconcile
``peer#<connection>``                      none                   sync.peer_contact
``peer-failed#<connection>``               none                   sync.peer_contact
``notify-hooks``                           none                   sync.notify
``integration-user``                       none                   sync.services
``notify#<event>#<subject>``               10 minutes             sync.notify
``budget#use#<window>``                    1 hour                 trackers.budget
``budget#jobs#<window>``                   1 hour                 trackers.budget
``budget#pause``                           1 hour after the end   trackers.budget
``budget#jobs-on``                         15 minutes             trackers.budget
``jti#<issuer>#<jti>``                     token expiry + leeway  connections.replay
``conn-name#<casefolded name>``            none                   connections.store
``conn-tomb#<connection>``                 30 days                connections.store
``seq#<name>`` (until issue 19)           none                   store.keys
``job#<job>``                              none                   ops.job_store
``job#<job>#c#<chunk>``                    none                   ops.job_store
``job#<job>#cancel``                       none                   ops.job_store
``job#<job>#d#<chunk>``                    none                   ops.drift_job
``wait#<connection>#<remote key>``         outbox retention       sync.hierarchy
``console#<sha256 of the session id>``     the session (8 hours)  store.console_sessions
=========================================  =====================  ========================

Events table (``EventModel.pk``; TTL is ``purge_at``):

=========================================  =====================  ========================
partition key (sort key)                   TTL                    owner
=========================================  =====================  ========================
``err`` (error id)                         none                   sync.events
``hist#<connection>#<local key>`` (id)     90 days                sync.events
``audit`` (entry id)                       none                   store.audit
``trig`` (``<connection>#<trigger id>``)   none                   sync.trigger_match,
                                                                  ops.triggers
``jobs#<connection>`` (job id)             none                   ops.job_store
``jobs`` (job id)                          none                   ops.job_store
``tstat#<connection>`` (id)                outbox retention       sync.twin_status
=========================================  =====================  ========================

Entries table (``EntryModel.pk`` + ``seq``; TTL ``purge_at``, the outbox retention):
``<connection>#out`` (outbox) and ``<connection>#in`` (inbox), owned by sync.store. Outbox
numbers: a counter's until issue 19, microseconds since the epoch since (larger, so they
sort after the counter's); inbox numbers: 48 bits of the replica id's hash.

Queues (FIFO message group and deduplication ids, not stored but just as binding: a
deduplication id seen twice within five minutes drops the second message):

- groups: ``issue#<issue key or id>`` (ingest), ``<connection>#<local key>`` (deliver),
  ``<connection>#r#<remote key>`` (apply), ``job#<job>`` and ``teardown#<connection>``
  (jobs);
- deduplication: ``hook#<sha256 of the body>`` (until issue 13: the delivery id),
  ``rec#<key>#<updated>``, ``sync#<connection>#<key>#<time>``, ``job#<job>#<issue key>``
  (ingest); ``out#<connection>#<seq>``,
  ``resume#out#<connection>#<seq>#<minute>`` (deliver); ``in#<connection>#<replica id>``,
  ``resume#in#<connection>#<seq>#<minute>``, ``parent#<connection>#<seq>#<remote key>#<ns>``
  (apply); ``job#<job>#<step>``, ``teardown#<connection>#<after local key>`` (jobs);
  ``retry#<error id>#<time>`` (any queue, an admin's retry).
"""

from __future__ import annotations

# --- keys table -------------------------------------------------------------------------


def claim_key(connection_id: str, remote_key: str) -> str:
    """The twin of ``remote_key`` is being created here (at most once)."""
    return f"claim#{connection_id}#{remote_key}"


def tomb_key(connection_id: str, local_key: str) -> str:
    """A stopped twin's tombstone (why, by whom, from which version on)."""
    return f"tomb#{connection_id}#{local_key}"


def policy_key(connection_id: str) -> str:
    """What this end does when the other end's issue is deleted."""
    return f"policy#{connection_id}"


def pull_cursor_key(connection_id: str) -> str:
    """How far a private end has read its public peer's outbox."""
    return f"pull#{connection_id}"


def poll_state_key(connection_id: str) -> str:
    """How a private end polls its public peer: where (``outbox_url``), and when the
    connection last carried a change (issue 19)."""
    return f"poll#{connection_id}"


def hook_key(delivery_id: str) -> str:
    """A webhook delivery already queued (written until issue 19; the body's key alone
    catches a retry now)."""
    return f"hook#{delivery_id}"


def hook_body_key(body_sha256: str) -> str:
    """A webhook body already read, whatever the (unsigned) delivery id it came with
    (``<sha256>``, or ``<sha256>:<issue id>`` for a link event's other issue)."""
    return f"hook-body#{body_sha256}"


def replica_seen_key(connection_id: str, replica_id: str) -> str:
    """A replica already taken into the inbox."""
    return f"replica#{connection_id}#{replica_id}"


def refused_key(connection_id: str, remote_key: str) -> str:
    """This end told the sending end it refused a change (``open``) or lifted it."""
    return f"refused#{connection_id}#{remote_key}"


def status_pull_cursor_key(connection_id: str) -> str:
    """How far a private end has read its public peer's twin-status notices."""
    return f"tstat-pull#{connection_id}"


RECONCILE_CURSOR = "reconcile#cursor"
"""Where the reconcile sweep stopped."""

RECONCILE_STATUS = "reconcile#status"
"""How the last reconcile run went (and the open error record of a failing streak)."""


def peer_contact_key(connection_id: str) -> str:
    """When this end last reached the connection's peer (and, written before issue 19,
    its last failure to)."""
    return f"peer#{connection_id}"


def peer_failure_key(connection_id: str) -> str:
    """When (and why) this end last failed to reach the connection's peer."""
    return f"peer-failed#{connection_id}"


NOTIFY_WEBHOOKS = "notify-hooks"
INTEGRATION_USER = "integration-user"  # the tracker's id of the integration user, as learnt
"""The admin's outgoing notification webhooks (a JSON list)."""


def notify_key(event: str, subject: str) -> str:
    """A notification already sent for this event and subject (quiet period)."""
    return f"notify#{event}#{subject}"


BUDGET_PAUSE = "budget#pause"
"""Until when the tracker asked us to wait."""

BUDGET_JOBS_ON = "budget#jobs-on"
"""A job is under way (each step renews it): live sync's tracker calls are counted."""


def budget_usage_key(window: int) -> str:
    """Tracker calls made in a budget window."""
    return f"budget#use#{window}"


def budget_jobs_key(window: int) -> str:
    """Issues jobs were admitted for in a budget window."""
    return f"budget#jobs#{window}"


def jti_key(issuer: str, jti: str) -> str:
    """A node-API token already accepted (replay protection)."""
    return f"jti#{issuer}#{jti}"


def connection_name_key(name: str) -> str:
    """A connection name taken on this node (``name`` already normalised)."""
    return f"conn-name#{name}"


def connection_tomb_key(connection_id: str) -> str:
    """A deleted connection's tombstone (the reason)."""
    return f"conn-tomb#{connection_id}"


def console_session_key(session_id_sha256: str) -> str:
    """A signed-in console session (its CSRF value and the node's half of the token)."""
    return f"console#{session_id_sha256}"


def seq_key(name: str) -> str:
    """An atomic counter (the outbox and inbox sequences until issue 19: the outbox is
    numbered from the clock now, the inbox by replica id)."""
    return f"seq#{name}"


def job_key(job_id: str) -> str:
    """A job's state."""
    return f"job#{job_id}"


def job_chunk_key(job_id: str, index: int) -> str:
    """One chunk of a job's items."""
    return f"job#{job_id}#c#{index}"


def job_cancel_key(job_id: str) -> str:
    """An admin asked the job to stop."""
    return f"job#{job_id}#cancel"


def job_findings_key(job_id: str, index: int) -> str:
    """One chunk of a drift job's findings."""
    return f"job#{job_id}#d#{index}"


def parent_wait_key(connection_id: str, remote_key: str) -> str:
    """Inbox entries (their seqs) waiting for the twin of their parent ``remote_key``."""
    return f"wait#{connection_id}#{remote_key}"


# --- events table -------------------------------------------------------------------------

ERRORS_PK = "err"
AUDIT_PK = "audit"
TRIGGERS_PK = "trig"
JOBS_PK = "jobs"
"""Every job of the node, newest last (``GET /api/v1/jobs``)."""


def history_pk(connection_id: str, local_key: str) -> str:
    """A twin's sync history."""
    return f"hist#{connection_id}#{local_key}"


def trigger_sk(connection_id: str, trigger_id: str) -> str:
    """A trigger under :data:`TRIGGERS_PK`."""
    return f"{connection_id}#{trigger_id}"


def triggers_of_prefix(connection_id: str) -> str:
    """The sort-key prefix of one connection's triggers."""
    return f"{connection_id}#"


def jobs_pk(connection_id: str) -> str:
    """The jobs of a connection, newest last."""
    return f"jobs#{connection_id}"


def status_log_pk(connection_id: str) -> str:
    """Twin-status notices for the other end of a connection."""
    return f"tstat#{connection_id}"


# --- entries table ------------------------------------------------------------------------


def outbox_pk(connection_id: str) -> str:
    return f"{connection_id}#out"


def inbox_pk(connection_id: str) -> str:
    return f"{connection_id}#in"


# --- queue message groups -----------------------------------------------------------------


def ingest_group(issue_ref: str) -> str:
    """Changes of one issue are read in order."""
    return f"issue#{issue_ref}"


def deliver_group(connection_id: str, local_key: str) -> str:
    """Replicas of one twin are delivered in order."""
    return f"{connection_id}#{local_key}"


def apply_group(connection_id: str, remote_key: str) -> str:
    """Replicas from one remote issue are applied in order."""
    return f"{connection_id}#r#{remote_key}"


def job_group(job_id: str) -> str:
    """A job's steps run one at a time."""
    return f"job#{job_id}"


def teardown_group(connection_id: str) -> str:
    """A deleted connection's clean-up pages run one at a time."""
    return f"teardown#{connection_id}"


# --- queue deduplication ids --------------------------------------------------------------


def hook_dedup(delivery_id: str) -> str:
    return f"hook#{delivery_id}"


def reconcile_dedup(issue_key: str, version: str) -> str:
    return f"rec#{issue_key}#{version}"


def sync_dedup(connection_id: str, issue_key: str, at: float) -> str:
    return f"sync#{connection_id}#{issue_key}#{at}"


def job_item_dedup(job_id: str, issue_key: str) -> str:
    return f"job#{job_id}#{issue_key}"


def job_step_dedup(job_id: str, step: int) -> str:
    return f"job#{job_id}#{step}"


def teardown_dedup(connection_id: str, after: str | None) -> str:
    return f"teardown#{connection_id}#{after or ''}"


def outbox_dedup(connection_id: str, seq: int) -> str:
    return f"out#{connection_id}#{seq}"


def inbox_dedup(connection_id: str, replica_id: str) -> str:
    return f"in#{connection_id}#{replica_id}"


def resume_out_dedup(connection_id: str, seq: int, bucket: int) -> str:
    return f"resume#out#{connection_id}#{seq}#{bucket}"


def resume_in_dedup(connection_id: str, seq: int, bucket: int) -> str:
    return f"resume#in#{connection_id}#{seq}#{bucket}"


def parent_dedup(connection_id: str, seq: int, remote_key: str, at_ns: int) -> str:
    """An inbox entry that waited for its parent ``remote_key``, queued again at ``at_ns``
    (each time its own: a second apply of an applied entry does nothing)."""
    return f"parent#{connection_id}#{seq}#{remote_key}#{at_ns}"


def retry_dedup(error_id: str, at: float) -> str:
    return f"retry#{error_id}#{at}"
