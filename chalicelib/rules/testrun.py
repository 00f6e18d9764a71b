"""The test run: a connection's rules over one issue, reported, with nothing written.

``POST /api/v1/connections/{id}/test-run {issue_key, replica?}``:

- the outgoing rules make the issue's replica; ``changes`` lists what sending it would
  change on the other side (the replica parts that differ from what was last sent);
- with a ``replica`` (as the other side would send it), the incoming rules run too, for
  ``issue_key``'s twin here (or, when it has none, as a first sync that would create an
  issue): ``changes`` then lists what would be written here, and ``plan`` says how.

It reads the tracker (the issue, the incoming project) and the twin, and writes nothing:
no tracker write, no upload, no queue message, no twin or history update. Script errors
are a 422 with the script line; a rule that skips the issue says why in ``skipped``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.errors import BadRequest, NotFound, Unprocessable
from chalicelib.rules import merge
from chalicelib.rules.plan import IncomingContext, Plan
from chalicelib.rules.replica import InvalidReplica, field_hashes, stamp, validate
from chalicelib.rules.script import rules as script_rules
from chalicelib.rules.script.defaults import DEFAULT_INCOMING, DEFAULT_OUTGOING
from chalicelib.rules.script.errors import ScriptError
from chalicelib.rules.script.runner import ScriptRunner, default_runner
from chalicelib.rules.select import incoming_rule, outgoing_rule
from chalicelib.rules.skip import SkipSync
from chalicelib.store.models import ConnectionModel, TwinModel
from chalicelib.trackers.base import Body, Issue, Tracker
from chalicelib.trackers.base import NotFound as IssueNotFound


def _body(body: Body | None) -> dict[str, Any] | None:
    return None if body is None else {"format": body.format, "value": body.value}


def plan_json(plan: Plan) -> dict[str, Any]:
    """A plan as the admin reads it."""
    fields: dict[str, Any] | None = None
    if plan.fields is not None:
        f = plan.fields
        fields = {
            k: v
            for k, v in {
                "summary": f.summary,
                "description": _body(f.description),
                "issue_type": f.issue_type,
                "labels": list(f.labels) if f.labels is not None else None,
                "priority": f.priority,
                "custom": dict(f.custom) or None,
            }.items()
            if v is not None
        }
    return {
        "fields": fields,
        "status": plan.status,
        "comments": [
            {
                "action": op.action,
                "remote_id": op.remote_id,
                "local_id": op.local_id,
                "public": op.public,
                "body": _body(op.body),
            }
            for op in plan.comments
        ],
        "attachments": [
            {
                "action": op.action,
                "remote_id": op.remote_id,
                "filename": op.filename,
                "size": op.size,
            }
            for op in plan.attachments
        ],
    }


def _script_failed(exc: ScriptError) -> Unprocessable:
    return Unprocessable(str(exc), code="script_failed", field=exc.script)


def _outgoing(
    conn: ConnectionModel,
    issue: Issue,
    *,
    integration_user_id: str | None,
    sha: Mapping[str, str],
    runner: ScriptRunner,
) -> tuple[dict[str, Any], list[str]]:
    if conn.mode == "script":
        return script_rules.run_outgoing(
            runner,
            conn.outgoing_script or DEFAULT_OUTGOING,
            issue,
            connection_id=conn.id,
            integration_user_id=integration_user_id,
            attachment_sha=sha,
        )
    replica = outgoing_rule(conn)(
        issue, connection_id=conn.id, integration_user_id=integration_user_id, attachment_sha=sha
    )
    return replica, []


def _incoming(
    conn: ConnectionModel, ctx: IncomingContext, *, local_key: str | None, runner: ScriptRunner
) -> tuple[Plan, list[str]]:
    if conn.mode == "script":
        return script_rules.run_incoming(
            runner, conn.incoming_script or DEFAULT_INCOMING, ctx, local_key=local_key
        )
    return incoming_rule(conn)(ctx), []


def _given_replica(data: Any, conn: ConnectionModel, twin: TwinModel | None) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise BadRequest("replica must be a JSON object.", code="invalid_replica", field="replica")
    version = int(twin.last_applied_version or 0) + 1 if twin is not None else 1
    filled = {
        "entity": "issue",
        "summary": "",
        "comments": [],
        "attachments": [],
        "labels": [],
        "fields": {},
        **data,
    }
    # what the admin may leave out: the parts that say which replica version this is
    for name, default in (("id", "test-run"), ("connection_id", conn.id), ("version", version)):
        if not filled.get(name):
            filled[name] = default
    try:
        return validate(filled)
    except InvalidReplica as exc:
        raise BadRequest(str(exc), code="invalid_replica", field="replica") from exc


def test_run(
    conn: ConnectionModel,
    body: Mapping[str, Any],
    *,
    tracker: Tracker,
    twin_of: Any,
    runner: ScriptRunner | None = None,
) -> dict[str, Any]:
    """Run ``conn``'s rules for ``body["issue_key"]`` (and ``body["replica"]``)."""
    unknown = sorted(set(body) - {"issue_key", "replica"})
    if unknown:
        raise BadRequest(f"Unknown field {unknown[0]!r}.", code="unknown_field", field=unknown[0])
    key = body.get("issue_key")
    if not isinstance(key, str) or not key.strip():
        raise BadRequest("Give the key of an issue, e.g. ABC-12.", field="issue_key")
    try:
        issue = tracker.get_issue(key.strip())
    except IssueNotFound as exc:
        raise NotFound(
            f"Issue {key} was not found in the tracker.", code="issue_not_found", field="issue_key"
        ) from exc
    twin: TwinModel | None = twin_of(conn.id, issue.key)
    runner = runner or default_runner()
    answer: dict[str, Any] = {"replica": None, "changes": [], "plan": None, "log": {}}
    try:
        replica, lines = _outgoing(
            conn,
            issue,
            integration_user_id=tracker.myself().id,
            sha=dict(twin.sent_attachments or {}) if twin is not None else {},
            runner=runner,
        )
        version = int(twin.last_sent_version or 0) + 1 if twin is not None else 1
        answer["replica"], answer["log"]["outgoing"] = stamp(replica, version=version), lines
        before = dict(twin.sent_hashes or {}) if twin is not None else {}
        after = field_hashes(replica)
        answer["changes"] = sorted(
            k for k in set(before) | set(after) if before.get(k) != after.get(k)
        )
    except SkipSync as exc:
        answer["skipped"] = str(exc)
    except ScriptError as exc:
        raise _script_failed(exc) from exc
    if "replica" in body:
        extra, lines = _run_incoming(conn, body["replica"], twin, tracker=tracker, runner=runner)
        answer.update(extra)
        answer["log"]["incoming"] = lines
    return answer


def _run_incoming(
    conn: ConnectionModel,
    data: Any,
    twin: TwinModel | None,
    *,
    tracker: Tracker,
    runner: ScriptRunner,
) -> tuple[dict[str, Any], list[str]]:
    replica = _given_replica(data, conn, twin)
    write = (
        merge.merge_remote(
            merge.load(twin.merge_state),
            replica,
            fallback_origin=f"{conn.remote_node_id or 'peer'}#{replica.get('connection_id')}",
            previous=twin.last_applied_replica,
        ).write
        if twin is not None
        else frozenset(merge.FIELDS)
    )
    ctx = IncomingContext(
        replica=replica,
        previous=twin.last_applied_replica if twin is not None else None,
        first_sync=twin is None,
        project=tracker.get_project(conn.incoming_project),
        body_format=tracker.body_format,
        remote_short_name=conn.remote_short_name,
        previous_hashes=merge.settled_hashes(replica, write) if twin is not None else {},
        comment_map=dict(twin.comment_map or {}) if twin is not None else {},
        attachment_map=dict(twin.attachment_map or {}) if twin is not None else {},
    )
    local_key = twin.local_key if twin is not None else None
    try:
        plan, lines = _incoming(conn, ctx, local_key=local_key, runner=runner)
    except SkipSync as exc:
        return {"changes": [], "plan": None, "skipped": str(exc), "first_sync": twin is None}, []
    except ScriptError as exc:
        raise _script_failed(exc) from exc
    return {"changes": plan.changes(), "plan": plan_json(plan), "first_sync": twin is None}, lines
