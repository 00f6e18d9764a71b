"""A cold container's first request: every route, queue handler and schedule, no 5xx.

Issue 12 found that in a fresh process the first ``GET /api/v1/connections/{id}/twins/{key}``
answered 500 (the tables were still unbound); every other test binds them first, so none
saw it. Here each call is the first thing a fresh process serves, as in a new Lambda
container:

1. The node's AWS resources exist (a moto server of its own, resources made from
   ``infra/``) and so does its tracker (a sandbox Jira site with the node's bot user).
2. One process imports ``app`` (the init phase) and serves nothing; it forks one child per
   call, and the child makes that call and nothing else (:mod:`tests.functional.cold_start`).
3. The calls are derived from the app itself: every method of every route in ``app.routes``,
   every queue handler and schedule in ``app.event_sources``. A route or handler added
   later is covered without editing this file; a function of a new kind fails the test.

A refusal (400, 401, 404…) is a fine answer: unknown ids and bad tokens are what a first
request may well carry. A 5xx, or an exception escaping a handler, is not.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.function_url import url_event
from tests.conftest import ADMIN_TOKEN, WEBHOOK_SECRET, node_env

ROOT = Path(__file__).resolve().parents[2]

TRACKER_USER = "bot@a.test"
TRACKER_TOKEN = "tracker-token"
ISSUE = "ABC-1"  # in the tracker, under no sync

# Path parameters get plausible values of things this node does not have.
PARAMETER_VALUES = {"cid": "conn-unknown", "key": ISSUE, "aid": "10001"}

# Functions that are not part of the node: they never see its settings or tables.
# functions behind a Lambda function URL, and the path of their first call
FUNCTION_URLS = {"outbox_poll": "/node/v1/connections/c-unknown/outbox"}
NOT_NODE_FUNCTIONS = {
    "script_runner": "runs one sync script in a role and environment with no settings (infra)",
}

# Admin and node calls carry a token so that authentication runs and the view gets its
# turn (admin) or the connection is looked up (node: an unknown connection is a 404).
OPEN_NODE_ROUTES = {"/node/v1/info", "/node/v1/handshake"}

# What a handler logs when the store or a queue is out of its reach (tables left unbound).
STORE_TROUBLE = re.compile(r"unbound|ResourceNotFound|TableDoesNotExist|NonExistentQueue")


# --- the world a cold container wakes up in ---------------------------------------------


@pytest.fixture(scope="module")
def node_environment() -> Iterator[dict[str, str]]:
    """The environment of a node whose AWS resources and tracker exist."""
    from devstack.aws import REGION, MotoProcess, create_node_resources
    from devstack.sandbox_jira import SandboxAdmin, SandboxJira

    aws = MotoProcess()
    site = SandboxJira("cloud", port=0)
    try:
        site.start()
        tracker = SandboxAdmin(site.url)
        tracker.create_project("ABC", "Alpha", issue_types=["Task"], default_issue_type="Task")
        tracker.create_user(display_name="Sync Bot", email=TRACKER_USER, token=TRACKER_TOKEN)
        issue = requests.post(
            f"{site.url}/rest/api/3/issue",
            json={
                "fields": {
                    "project": {"key": "ABC"},
                    "issuetype": {"name": "Task"},
                    "summary": "Changed before the node's first call",
                }
            },
            auth=(TRACKER_USER, TRACKER_TOKEN),
            timeout=10,
        )
        assert issue.status_code == 201 and issue.json()["key"] == ISSUE, issue.text
        resources = create_node_resources("fresh", endpoint_url=aws.endpoint)
        yield {
            "PATH": "/usr/bin:/bin",
            "AWS_ENDPOINT_URL": aws.endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            # as in Lambda: app.py holds Python's cycle collector until the first call's end
            "AWS_LAMBDA_FUNCTION_NAME": "twinsync-fresh",
            **node_env(
                TWINSYNC_TRACKER_URL=site.url,
                TWINSYNC_TRACKER_USER=TRACKER_USER,
                TWINSYNC_TRACKER_TOKEN=TRACKER_TOKEN,
            ),
            **resources,
        }
    finally:
        site.stop()
        aws.stop()


def in_a_node_process(args: list[str], env: dict[str, str], *, stdin: str = "") -> str:
    """What a fresh Python process with the node's environment prints (it must succeed)."""
    done = subprocess.run(
        [sys.executable, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout


def first_calls(calls: list[dict[str, Any]], env: dict[str, str]) -> list[dict[str, Any]]:
    """Each call served first by a fresh process that imported ``app`` and nothing more."""
    results = json.loads(
        in_a_node_process(["-m", "tests.functional.cold_start"], env, stdin=json.dumps(calls))
    )
    assert len(results) == len(calls)
    return results


# --- the calls, derived from the app ------------------------------------------------------


def the_app() -> Any:
    from app import app

    return app


def concrete(path: str) -> str:
    return re.sub(
        r"\{(\w+)\}", lambda m: PARAMETER_VALUES.get(m.group(1), f"unknown-{m.group(1)}"), path
    )


def signed_webhook() -> tuple[dict[str, str], str]:
    body = json.dumps(
        {
            "webhookEvent": "jira:issue_updated",
            "timestamp": int(time.time() * 1000),
            "issue": {"id": "10001", "key": ISSUE, "fields": {"summary": "First"}},
        }
    )
    signature = hmac.new(WEBHOOK_SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature": f"sha256={signature}",
        "X-Atlassian-Webhook-Identifier": "first-delivery",
    }
    return headers, body


def http_call(path: str, method: str) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    body = "" if method in ("GET", "DELETE") else "{}"
    if path.startswith("/api/"):
        headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
    elif path.startswith("/node/") and path not in OPEN_NODE_ROUTES:
        headers["Authorization"] = "Bearer not-a-token-of-this-connection"
    elif path.startswith("/webhooks/"):
        headers, body = signed_webhook()
    return {"http": {"method": method, "path": concrete(path), "headers": headers, "body": body}}


def route_calls(app: Any) -> list[dict[str, Any]]:
    return [
        http_call(path, method)
        for path, methods in sorted(app.routes.items())
        for method in sorted(methods)
    ]


# A queue message about things this node does not sync, with every field the handlers read.
UNKNOWN_THINGS = {
    "kind": "unknown",
    "issue_key": ISSUE,
    "connection_id": "conn-unknown",
    "seq": 1,
    "job_id": "job-unknown",
    "step": 0,
}


def sqs_record(queue_url: str, body: str) -> dict[str, Any]:
    name = queue_url.rsplit("/", 1)[-1]
    return {
        "messageId": "first-message",
        "receiptHandle": "",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "MessageGroupId": "first",
            "SentTimestamp": str(int(time.time() * 1000)),
        },
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{name}",
        "awsRegion": "us-east-1",
    }


def stage_queue(placeholder: str, env: dict[str, str]) -> str:
    """The node's queue that app.py's placeholder name stands for (``twinsync-ingest.fifo``
    → the URL ending in ``-ingest.fifo``)."""
    suffix = "-" + placeholder.split("-", 1)[1]
    urls = [v for k, v in env.items() if k.startswith("TWINSYNC_QUEUE_") and v.endswith(suffix)]
    assert len(urls) == 1, f"no queue of the node is bound to {placeholder}"
    return urls[0]


def schedule_tick(name: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "first-tick",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:123456789012:rule/{name}"],
        "detail": {},
    }


def handler_calls(app: Any, env: dict[str, str]) -> list[dict[str, Any]]:
    """Queue handlers: one record with an empty body, one about unknown things (each the
    first invocation of its own process). Schedules: one tick."""
    from chalice.app import ScheduledEventConfig, SQSEventConfig

    calls = []
    for source in app.event_sources:
        if isinstance(source, SQSEventConfig):
            url = stage_queue(source.queue, env)
            for body in ("{}", json.dumps(UNKNOWN_THINGS)):
                event = {"Records": [sqs_record(url, body)]}
                calls.append({"invoke": {"name": source.name, "event": event}})
        elif isinstance(source, ScheduledEventConfig):
            calls.append({"invoke": {"name": source.name, "event": schedule_tick(source.name)}})
        else:
            pytest.fail(f"{source.name}: a new kind of event source; add its first call here")
    for name, target in FUNCTION_URLS.items():  # a peer's pull with no token: refused
        calls.append({"invoke": {"name": name, "event": url_event("GET", target, {}, b"")}})
    return calls


def named(result: dict[str, Any]) -> str:
    call = result["call"]
    if "http" in call:
        return f"{call['http']['method']} {call['http']['path']} → {result.get('status')}"
    records = call["invoke"]["event"].get("Records")
    return call["invoke"]["name"] + (f" with body {records[0]['body']}" if records else "")


def report(title: str, results: list[dict[str, Any]]) -> str:
    """The calls by name, then for each what it answered, raised and logged (in short)."""
    lines = [f"{title}:", *(f"  {named(r)}" for r in results)]
    for result in results:
        lines += ["", named(result)]
        if "raised" in result:
            lines += indented("raised", in_short("", result["raised"]))
        else:
            answer = result.get("body") or json.dumps(result.get("returned"))
            lines += [f"  answer: {answer}"]
        for logged in result["logged"]:
            message, _, trace = logged.partition("\n")
            lines += indented("logged", in_short(message, trace))
    return "\n".join(lines)


def indented(label: str, lines: list[str]) -> list[str]:
    return [f"  {label}: {line}" if i == 0 else f"    {line}" for i, line in enumerate(lines)]


def in_short(message: str, trace: str) -> list[str]:
    """A message and its traceback: our frames of the last exception, and that exception."""
    trace_lines = trace.strip().splitlines()
    starts = [i for i, line in enumerate(trace_lines) if line.startswith("Traceback")]
    last = trace_lines[starts[-1] :] if starts else trace_lines
    ours = [line.strip() for line in last if "/chalicelib/" in line or "/app.py" in line]
    return [line for line in (message, *ours, *trace_lines[-1:]) if line]


def collector_kept_held(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The calls after which Python's cycle collector is not back on (chalicelib.gc_hold):
    held by the init, it must be released, frozen, by the end of the first call."""
    return [
        r
        for r in results
        if not r["collector_held_at_init"]
        or not r["collector_after"]["enabled"]
        or r["collector_after"]["frozen"] == 0
    ]


# --- the checks ---------------------------------------------------------------------------


def test_every_function_of_the_app_is_covered():
    app = the_app()
    views = {entry.view_name for methods in app.routes.values() for entry in methods.values()}
    sources = {source.name for source in app.event_sources}
    uncovered = set(app.handler_map) - views - sources - set(FUNCTION_URLS)
    uncovered -= set(NOT_NODE_FUNCTIONS)
    assert not uncovered, f"functions with no first call in this file: {sorted(uncovered)}"


def test_every_route_answers_its_first_request_without_a_5xx(node_environment):
    app = the_app()
    calls = route_calls(app)
    assert len(calls) == sum(len(methods) for methods in app.routes.values())

    results = first_calls(calls, node_environment)

    failing = [r for r in results if "status" not in r or r["status"] >= 500]
    assert not failing, report(f"{len(failing)} of {len(results)} first requests failed", failing)
    refused_admin = [
        r
        for r in results
        if r["call"]["http"]["path"].startswith("/api/") and r["status"] in (401, 403)
    ]
    assert not refused_admin, report("admin calls that never reached their view", refused_admin)
    by_route = {(r["call"]["http"]["method"], r["call"]["http"]["path"]): r for r in results}
    assert by_route[("GET", "/node/v1/info")]["status"] == 200
    assert by_route[("GET", "/api/v1/node")]["status"] == 200
    assert by_route[("POST", "/webhooks/jira")]["status"] == 202
    held = collector_kept_held(results)
    assert not held, report("the cycle collector was not held at init and released after", held)


def test_every_queue_handler_and_schedule_survives_its_first_invocation(node_environment):
    calls = handler_calls(the_app(), node_environment)

    results = first_calls(calls, node_environment)

    # A record about unknown things may fail (batchItemFailures), but no exception may
    # escape, and nothing may fail because the store or the queues were out of reach.
    def troubled(result: dict[str, Any]) -> bool:
        return "raised" in result or any(STORE_TROUBLE.search(t) for t in result["logged"])

    failing = [r for r in results if troubled(r)]
    assert not failing, report("first invocations that raised or met unbound resources", failing)
    (pull,) = [r for r in results if r["call"]["invoke"]["name"] in FUNCTION_URLS]
    assert pull["returned"]["statusCode"] == 401, pull  # no peer token: the API's refusal
    held = collector_kept_held(results)
    assert not held, report("the cycle collector was not held at init and released after", held)
