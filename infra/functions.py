"""Which Lambda functions the Chalice app defines, and what each needs from the template.

The app is the source of truth for the functions (their names, queue bindings and
schedules); this module reads it and adds what Chalice cannot express per function: the
timeout, which of our queues a placeholder queue name stands for, and whether a function
is sandboxed (no permissions, no secrets). Logical ids follow Chalice's own naming, so the
merge template addresses exactly the resources ``chalice package`` generates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalice.utils import to_cfn_resource_name

API_HANDLER = "api_handler"
# Sandboxed functions run user-written scripts: they get a role without any policy and an
# environment without settings or secret references (DESIGN.md, "Script rules").
SANDBOXED = frozenset({"script_runner"})
# Seconds. API Gateway gives up on an integration after 29 s, so the API function stops
# there too; a poll must end before the next one starts (rate 1 minute); queue consumers
# stay well under their queue's VisibilityTimeout / 6 (checked by tests/infra).
TIMEOUTS = {
    API_HANDLER: 29,
    "ingest": 60,
    "deliver": 60,
    "apply": 120,
    "ingest_catchup": 60,
    "deliver_catchup": 60,
    "apply_catchup": 120,
    "poll_peers": 59,  # long polls until ~2 s before its end: the next run takes over
    "outbox_poll": 30,  # holds a private peer's long poll up to 25 s (outbox_api.MAX_WAIT)
    "reconcile": 240,
    "script_runner": 10,
}
DEFAULT_TIMEOUT = 60
# MB, where a function differs from the stage's ``lambda_memory_size`` (.chalice/config.json).
# poll_peers runs all the time on a private node (long polls, waiting on the network): the
# smallest size keeps that node's polling cheap (issue 19, bench/private_latency.py); its
# cold process (app, its first-invocation imports, a peer token) holds about 66 MB.
# outbox_poll holds the other half of those long polls on a public node (issue 19): it only
# waits on DynamoDB between answers.
MEMORY = {"poll_peers": 128, "outbox_poll": 128}
# Functions served on a Lambda function URL of their own (AuthType NONE: every call carries
# the connection's JWT, checked by the app as behind the API), and the variable through
# which the other functions learn the URL (a public node advertises it to private peers).
URLS = {"outbox_poll": "TWINSYNC_OUTBOX_URL"}

_QUEUE_NAME = re.compile(r"^twinsync-(?P<kind>[a-z]+(?:-[a-z]+)*)\.fifo$")


class UnknownQueue(ValueError):
    """A handler listens on a queue name the resource template does not define."""


@dataclass(frozen=True)
class FunctionSpec:
    """One deployed Lambda function as the merge template sees it."""

    name: str
    timeout: int
    queue: str | None = None  # logical id of the consumed queue in infra/resources.json
    event_source: str | None = None  # logical id of Chalice's SQS event inside the function
    sandboxed: bool = False
    memory: int | None = None  # MB; None: the stage's lambda_memory_size
    url_variable: str | None = None  # served on a function URL, named by this variable

    @property
    def url_id(self) -> str:
        """Logical id of its ``AWS::Lambda::Url`` (when it has one)."""
        return f"{self.logical_id}Url"

    @property
    def logical_id(self) -> str:
        return "APIHandler" if self.name == API_HANDLER else to_cfn_resource_name(self.name)

    @property
    def role_id(self) -> str:
        # With autogen_policy false, Chalice makes one role per function: "<name>_role".
        return to_cfn_resource_name(f"{self.name}_role")


def queue_logical_id(queue_name: str, resources: Mapping[str, Any]) -> str:
    """Map a placeholder queue name (``twinsync-ingest.fifo``, ``twinsync-ingest-catchup.fifo``)
    to its template resource (``IngestQueue``, ``IngestCatchupQueue``)."""
    match = _QUEUE_NAME.match(queue_name)
    kind = "".join(part.capitalize() for part in match["kind"].split("-")) if match else ""
    logical_id = f"{kind}Queue" if kind else ""
    if resources.get(logical_id, {}).get("Type") != "AWS::SQS::Queue":
        raise UnknownQueue(
            f"queue {queue_name!r} has no {logical_id or 'matching'} queue in infra/resources.json"
        )
    return logical_id


def discover(app: Any, resources: Mapping[str, Any]) -> list[FunctionSpec]:
    """Every Lambda function ``chalice package`` will generate for ``app``."""
    specs: dict[str, FunctionSpec] = {}
    if app.routes:
        specs[API_HANDLER] = _spec(API_HANDLER)
    for source in app.event_sources:
        queue = getattr(source, "queue", None)
        if queue is not None:
            specs[source.name] = _spec(
                source.name,
                queue=queue_logical_id(queue, resources),
                event_source=f"{to_cfn_resource_name(source.name)}SqsEventSource",
            )
        else:
            specs[source.name] = _spec(source.name)
    for function in app.pure_lambda_functions:
        specs[function.name] = _spec(function.name)
    return sorted(specs.values(), key=lambda s: s.name)


def _spec(name: str, **kwargs: Any) -> FunctionSpec:
    return FunctionSpec(
        name=name,
        timeout=TIMEOUTS.get(name, DEFAULT_TIMEOUT),
        memory=MEMORY.get(name),
        url_variable=URLS.get(name),
        sandboxed=name in SANDBOXED,
        **kwargs,
    )
