"""Schemathesis against a running node: every operation of the contract, fuzzed over HTTP.

The node's OpenAPI document (``GET /api/v1/openapi.json``) drives Schemathesis: for each
operation it generates requests that fit the document (and, in negative mode, requests
that do not), sends them to node ``a`` of a stack of its own (two public nodes on
loopback, ``a`` on a sandbox Jira Cloud and ``c`` on a sandbox Jira Server, connected
to each other), and checks every answer with Schemathesis's checks: no 5xx, the status,
headers, content type and body as the document says, data outside the document refused.

Requests carry what a real caller carries, so the node does real work past its doors:

- the admin API: ``a``'s admin token;
- the node API: a JWT signed with the key of the connection ``a`` ↔ ``c`` (derived, as
  ``c`` derives it, from the invitation code), as ``c`` would sign it;
- the webhook: a body signed with ``a``'s webhook secret;
- a ``cid`` path parameter is the real connection's id half of the time, so operations
  on a connection reach the connection (the other half: unknown ids, 404).

The stack is the fuzz's own, so what the fuzz creates, changes or deletes does not touch
the other stack tests. The default run (``make test``) sends a few examples per
operation; ``make test-all`` runs the ``slow`` one with many more.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from devstack.stack import REPO, LocalStack
from devstack.stackfile import NodeSpec, load, with_free_ports

pytestmark = pytest.mark.stack

SHORT = 20  # examples per operation in `make test`
LONG = 150  # and in `make test-all`


@dataclass(frozen=True)
class Target:
    """Node ``a`` and what a caller of each of its doors holds."""

    url: str
    admin_token: str
    webhook_secret: str
    node_id: str
    peer_id: str
    connection_id: str
    connection_key: bytes


def fuzz_stack_spec() -> Any:
    spec = with_free_ports(load(REPO / "devstack" / "stack.toml"))
    a = spec.nodes["a"]
    c = NodeSpec(name="c", label="Initech (public)", port=0, public=True, tracker="b")
    return replace(spec, nodes={"a": a, "c": c}, poll_every=1.0, reconcile_every=5.0)


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    stack = LocalStack(fuzz_stack_spec(), workdir=Path(tmp_path_factory.mktemp("fuzzstack")))
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def target(fuzz_stack: LocalStack) -> Target:
    """Connect ``a`` → ``c`` over the admin API, as two administrators would."""
    from chalicelib.connections import invitation
    from chalicelib.connections.keys import derive_connection_key

    a, c = fuzz_stack.nodes["a"], fuzz_stack.nodes["c"]
    created = requests.post(
        f"{a.url}/api/v1/connections",
        json={
            "destination_url": c.public_url,
            "mode": "script",
            "local_short_name": "Acme",
            "remote_short_name": "Initech",
            "name": "fuzzed",
            "incoming_project": "ALPHA",
        },
        headers={"Authorization": f"Bearer {a.admin_token}"},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    code = created.json()["invitation_code"]
    accepted = requests.post(
        f"{c.url}/api/v1/invitations/accept",
        json={"invitation_code": code, "incoming_project": "SUP"},
        headers={"Authorization": f"Bearer {c.admin_token}"},
        timeout=30,
    )
    assert accepted.status_code == 201, accepted.text
    decoded = invitation.decode(code, check_expiry=False)
    return Target(
        url=a.url,
        admin_token=a.admin_token,
        webhook_secret=a.webhook_secret,
        node_id=a.env["TWINSYNC_NODE_ID"],
        peer_id=c.env["TWINSYNC_NODE_ID"],
        connection_id=decoded.connection_id,
        connection_key=derive_connection_key(decoded.secret, decoded.connection_id),
    )


@pytest.fixture(scope="module")
def contract(target: Target) -> Any:
    """The document as the node serves it."""
    schema = schemathesis.openapi.from_url(f"{target.url}/api/v1/openapi.json")
    # Query parameters the document does not name are ignored by the node (as GitHub's
    # API does, docs/contract.md), so requests with extra ones are not "invalid data".
    schema.config.generation.update(allow_extra_parameters=False)
    return schema


def send(case: Any, target: Target) -> Any:
    """Send ``case`` to node ``a`` the way a real caller of its door would."""
    from chalicelib.connections.tokens import issue_token

    path = case.operation.path
    # half the cases, chosen by their content (stable across processes, unlike hash())
    given = case.path_parameters or {}
    if "cid" in given and zlib.crc32(repr(given).encode()) % 2:
        case.path_parameters["cid"] = target.connection_id
    kwargs = case.as_transport_kwargs(base_url=target.url)
    headers = dict(kwargs.pop("headers", None) or {})
    # Real credentials where the generated request has some; a negative case that leaves
    # them out is sent without (the node must answer 401).
    has_auth = "Authorization" in headers
    if has_auth and path.startswith("/api/v1/"):
        headers["Authorization"] = f"Bearer {target.admin_token}"
    elif has_auth and path.startswith("/node/v1/connections/"):
        token = issue_token(
            target.connection_key,
            issuer=target.peer_id,
            audience=target.node_id,
            connection_id=case.path_parameters["cid"],
        )
        headers["Authorization"] = f"Bearer {token}"
    if "json" in kwargs:
        kwargs["data"] = json.dumps(kwargs.pop("json")).encode()
        headers.setdefault("Content-Type", "application/json")
    if path == "/webhooks/jira" and "X-Hub-Signature" in headers:
        body = kwargs.get("data") or b""
        if isinstance(body, str):
            body = body.encode()
        digest = hmac.new(target.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
        headers["X-Hub-Signature"] = f"sha256={digest}"
    response = requests.request(headers=headers, timeout=30, **kwargs)
    # The credentials are real, not generated: Schemathesis then probes the same request
    # without them and with wrong ones, and expects a 401 or 403 (its ignored_auth check).
    case._has_explicit_auth = "Authorization" in headers or "X-Hub-Signature" in headers
    case.validate_response(response, headers=headers, excluded_checks=[positive_data_acceptance])
    return response


def fuzz(contract: Any, target: Target, examples: int) -> None:
    """Every operation, positive and negative data: collect every failure, then report."""
    failures: list[str] = []
    for result in contract.get_all_operations():
        operation = result.ok()
        if os.environ.get("FUZZ_ONLY", "") not in operation.label:  # to chase one finding
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=examples,
                deadline=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.explicit, Phase.generate, Phase.shrink],
            )
            def run(case: Any) -> None:
                send(case, target)

            try:
                run()
            except Unsatisfiable:  # nothing can be invalid (GET /node/v1/info takes nothing)
                assert mode is GenerationMode.NEGATIVE, operation.label
            except (Exception, BaseExceptionGroup) as exc:  # every failure, not only the first
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)


def test_every_operation_answers_as_documented(contract: Any, target: Target) -> None:
    """A few requests per operation: no 5xx, every answer as the document says."""
    fuzz(contract, target, SHORT)


@pytest.mark.slow
@pytest.mark.timeout(3600)  # about ten minutes on two cores; the suite's 300 s is too short
def test_every_operation_answers_as_documented_long(contract: Any, target: Target) -> None:
    """The long run (``make test-all``): many more requests per operation."""
    fuzz(contract, target, LONG)
