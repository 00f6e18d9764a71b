"""Cold start: what a function loads before it needs it (issue 19).

``import app`` is every function's init: it declares the routes from the route table
(:mod:`chalicelib.lazy_routes`) and imports no view, none of the layers below the edges
and none of the HTTP, table or AWS clients. Then each function's first invocation imports
what it needs (``bench/coldstart.py``'s ``FIRST_INVOCATION``, the table the cold-start
benchmark times); these checks keep that table honest and lean:

- per row, in a fresh interpreter, which large libraries ``import app`` plus the row's
  imports load: none that the row does not name. The OpenAPI document's parser and
  validators (``yaml``, ``fastjsonschema``) load on the first request that needs them, the
  console's templates (``jinja2``) on a console page, the script sandbox
  (``RestrictedPython``) when a script rule runs, and ``cryptography`` / PyJWT when a
  connection key is derived (peer tokens are signed and checked with the standard library,
  and so are console sessions);
- per worker (apply, ingest, reconcile, jobs, poll_peers), none of our modules that only
  another kind of work than a field change uses (``NOT_ON_A_FIRST_CHANGE``): Visual mode's
  document, a first sync's connect, a removal's, a person's, a drift job's, a rule edit's,
  the outgoing path of apply and of the reconcile sweep;
- per function, a real first invocation in a fresh process (the zygote of
  ``test_fresh_process.py``) loads none of our modules and none of those large libraries
  that the row's imports do not: no ``requests`` (nor its ``charset_normalizer``) at all,
  the tracker adapters and the fetcher talk HTTP with urllib3, which botocore has already
  loaded; no PyJWT (peer tokens are HS256 with the standard library); no boto3 anywhere
  (``chalicelib.aws_clients`` makes the clients from botocore).

Module-presence checks, not timings: the benchmark measures the time.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench.coldstart import FIRST_INVOCATION
from infra.package import ROOT
from tests.conftest import ADMIN_TOKEN
from tests.functional.test_fresh_process import (  # noqa: F401  (node_environment: a fixture)
    first_calls,
    handler_calls,
    http_call,
    in_a_node_process,
    node_environment,
    the_app,
)

LARGE = (
    "yaml",
    "fastjsonschema",
    "jinja2",
    "RestrictedPython",
    "cryptography",
    "jwt",
    "requests",
    "charset_normalizer",
    "boto3",  # no function needs it: chalicelib.aws_clients makes botocore's clients
    "s3transfer",
)
BRINGS = {  # what a named library loads with itself
    "jwt": ("cryptography",),  # PyJWT: cryptography's algorithms
}
# What no function's init may load: it is what the first invocation of some functions
# needs and of others not at all.
NOT_AT_INIT = (
    "chalicelib.api.routing",
    "chalicelib.console.web",
    "chalicelib.root",
    "chalicelib.ops",
    "chalicelib.sync",
    "chalicelib.rules",
    "chalicelib.trackers",
    "chalicelib.connections",
    "chalicelib.store",
    "boto3",
    "botocore",
    "pynamodb",
    "requests",
    "aws_lambda_powertools",
)
# What a stage's first invocation of a plain field change does not use (issue 19's cold
# start, part five): each is imported where its work starts. Visual mode's document (a
# conflict's preference, a trigger's "manual"), a first sync's connect, a removal's
# deletion and stop, the admin's notification webhooks (a give-up, a pause), the people
# mapper (a person changed); for apply also the outgoing path and the peer client (a field
# written unseen sends nothing, and apply calls no peer); for jobs a drift job's modules.
ON_A_CHANGE_NOT = (
    "chalicelib.rules.mapping_document",
    "chalicelib.sync.connect",
    "chalicelib.sync.deletion",
    "chalicelib.sync.stop",
    "chalicelib.sync.notify",
    "chalicelib.sync.people",
)
NOT_ON_A_FIRST_CHANGE = {
    "apply": (
        *ON_A_CHANGE_NOT,
        "chalicelib.sync.outgoing",
        "chalicelib.sync.deliver",
        "chalicelib.net.peer",
        "chalicelib.trackers.jql",  # the incoming guard's, where a connection has one
    ),
    "ingest": ON_A_CHANGE_NOT,
    "reconcile": (  # the sweep asks whether there are triggers, and queues ingests
        *ON_A_CHANGE_NOT,
        "chalicelib.sync.outgoing",
        "chalicelib.rules.merge",
    ),
    "jobs": (
        *ON_A_CHANGE_NOT,
        "chalicelib.ops.drift",
        "chalicelib.ops.drift_ends",
        "chalicelib.ops.drift_job",
    ),
}
# the peers' poll (ops.poll with ops.manage's peer check and notices): no rule edit
NOT_ON_A_FIRST_CHANGE["poll_peers"] = (
    "chalicelib.ops.rule_edits",
    "chalicelib.rules.mapping_document",
)
NOT_ON_A_FIRST_CHANGE["apply_catchup"] = NOT_ON_A_FIRST_CHANGE["apply"]
NOT_ON_A_FIRST_CHANGE["ingest_catchup"] = NOT_ON_A_FIRST_CHANGE["ingest"]


def loaded_after(modules: tuple[str, ...]) -> list[str]:
    """Every module a fresh process holds after importing ``app`` and ``modules``."""
    body = "; ".join(f"import {m}" for m in ("app", *modules))
    return list(
        json.loads(fresh(f"import sys, json; {body}; print(json.dumps(sorted(sys.modules)))"))
    )


def fresh(code: str) -> str:
    """What ``code`` prints, run in a fresh interpreter with no stage settings."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"AWS_DEFAULT_REGION": "us-east-1", "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def under(names: list[str], packages: tuple[str, ...]) -> list[str]:
    return sorted({p for p in packages for n in names if n == p or n.startswith(p + ".")})


def test_import_app_loads_no_view_and_no_client():
    assert under(loaded_after(()), NOT_AT_INIT) == []


@pytest.mark.parametrize("row", sorted(FIRST_INVOCATION))
def test_a_cold_start_loads_no_large_library_before_its_use(row):
    named = [m.split(".")[0] for m in FIRST_INVOCATION[row]]
    named += [b for m in named for b in BRINGS.get(m, ())]
    unasked = tuple(m for m in LARGE if m not in named)
    assert under(loaded_after(FIRST_INVOCATION[row]), unasked) == []


@pytest.mark.parametrize("row", sorted(NOT_ON_A_FIRST_CHANGE))
def test_a_stage_loads_nothing_its_first_field_change_does_not_use(row):
    """The stage's row (what its first invocation imports; the real first call is checked
    against it below) loads none of the modules only other kinds of work use."""
    assert under(loaded_after(FIRST_INVOCATION[row]), NOT_ON_A_FIRST_CHANGE[row]) == []


def test_a_wiki_body_is_compared_without_the_body_converters():
    """The merge compares a description as wiki text: one already in wiki (a Server
    site's) is not converted, and the converters (``trackers.formats``) stay unloaded;
    an ADF one loads them (the probe works)."""
    code = (
        "import sys; from chalicelib.rules.merge import normal; "
        "normal('description', {'format': 'wiki', 'value': 'h1. Steps'}); "
        "print('chalicelib.trackers.formats' in sys.modules); "
        "normal('description', {'format': 'adf', 'value': {'type': 'doc', 'content': [{}]}}); "
        "print('chalicelib.trackers.formats' in sys.modules)"
    )
    assert fresh(code).split() == ["False", "True"]


def test_the_check_sees_a_large_library_when_one_is_imported():
    """The probe itself works: importing the sandbox's library is seen."""
    assert "RestrictedPython" in under(loaded_after(("RestrictedPython",)), LARGE)


# --- the table against real first invocations ---------------------------------------------

# The first request of each of api_handler's rows.
FIRST_REQUESTS = {
    "api_handler": ("/webhooks/jira", "POST"),
    "api_handler: replicas": ("/node/v1/connections/{cid}/replicas", "POST"),
    "api_handler: admin API": ("/api/v1/connections", "GET"),
    "api_handler: console": ("/console/signin", "GET"),
    "api_handler: console, signed in": ("/console/connections", "GET"),
}


SIGN_IN = r"""
import re, sys
from urllib.parse import urlencode
from chalice.test import Client
from app import app

def set_cookies(response):
    given = response.headers.get("Set-Cookie") or response.headers.get("set-cookie") or []
    values = given if isinstance(given, list) else [given]
    return dict(v.split(";", 1)[0].split("=", 1) for v in values)

with Client(app) as client:
    form = client.http.get("/console/signin")
    nonce = re.search(r'name="csrf_token" value="([^"]*)"', form.body.decode()).group(1)
    cookies = set_cookies(form)
    signed = client.http.post(
        "/console/signin",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
        },
        body=urlencode({"csrf_token": nonce, "token": sys.argv[1]}).encode(),
    )
    assert signed.status_code == 303, signed.body
    print("twinsync_console=" + set_cookies(signed)["twinsync_console"])
"""


def signed_in(env: dict[str, str]) -> str:
    """The console's session cookie of an administrator who signed in on this node (in
    another process: the node keeps its half of the session in its table)."""
    return in_a_node_process(["-c", SIGN_IN, ADMIN_TOKEN], env).strip().splitlines()[-1]


def first_invocations(env: dict[str, str]) -> dict[str, dict]:
    """One first call per row of the table: a route's, or the function's own (a queue
    record about things the node does not sync, a schedule's tick)."""
    calls = {row: http_call(*request) for row, request in FIRST_REQUESTS.items()}
    calls["api_handler: console, signed in"]["http"]["headers"]["Cookie"] = signed_in(env)
    for call in handler_calls(the_app(), env):
        name = call["invoke"]["name"]
        body = call["invoke"]["event"].get("Records", [{}])[0].get("body")
        if body != "{}":
            calls.setdefault(name, call)
    return calls


def test_first_invocation_lists_what_a_first_call_loads(node_environment):  # noqa: F811
    calls = first_invocations(node_environment)
    assert set(calls) == set(FIRST_INVOCATION) - {"script_runner"}  # not a node function

    results = first_calls(list(calls.values()), node_environment)

    answered = dict(zip(calls, results, strict=True))
    signed_in_page = answered["api_handler: console, signed in"]
    assert signed_in_page.get("status") == 200, signed_in_page  # the page, not the sign-in form
    unlisted = {}
    for row, result in zip(calls, results, strict=True):
        listed = set(loaded_after(FIRST_INVOCATION[row]))
        ours = [
            m
            for m in result["loaded"]
            if (m.startswith("chalicelib") or m.split(".")[0] in LARGE) and m not in listed
        ]
        if ours:
            unlisted[row] = ours
    assert not unlisted, f"first calls load modules their FIRST_INVOCATION row does not: {unlisted}"
