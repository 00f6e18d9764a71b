"""The embedded AWS: moto's server on loopback, and node resources made from ``infra/``.

Resources are created by moto's CloudFormation from the very template that deploys
(``infra/resources.json``), so local, test and deployed tables and queues cannot drift.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import boto3

TEMPLATE = Path(__file__).resolve().parent.parent / "infra" / "resources.json"
REGION = "us-east-1"


def template_body() -> str:
    return TEMPLATE.read_text()


def create_node_resources(stack_name: str, *, endpoint_url: str | None = None) -> dict[str, str]:
    """Create one node's resources as a CloudFormation stack; return its environment.

    The returned mapping is ``{TWINSYNC_… variable: physical name or URL}``, read from the
    template's outputs (each output's Description names its variable).
    """
    credentials = {}
    if endpoint_url:  # the embedded AWS takes any credentials; the user's are never sent
        credentials = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
    cfn = boto3.client(
        "cloudformation", region_name=REGION, endpoint_url=endpoint_url, **credentials
    )
    cfn.create_stack(StackName=stack_name, TemplateBody=template_body())
    deadline = time.monotonic() + 30
    while True:
        stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        status = stack["StackStatus"]
        if status == "CREATE_COMPLETE":
            break
        if (
            status.endswith("FAILED")
            or status.startswith("ROLLBACK")
            or time.monotonic() > deadline
        ):
            raise RuntimeError(f"stack {stack_name} did not create: {status}")
        time.sleep(0.05)
    return {o["Description"]: o["OutputValue"] for o in stack.get("Outputs", [])}


class RequestCounter:
    """WSGI middleware counting AWS API calls by operation (for the benchmarks)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target:
            name = target.replace("DynamoDB_20120810.", "dynamodb.").replace("AmazonSQS.", "sqs.")
        else:
            query = parse_qs(environ.get("QUERY_STRING", ""))
            action = query.get("Action", [""])[0]
            name = f"sqs.{action}" if action else f"s3.{environ.get('REQUEST_METHOD', '')}"
        with self.lock:
            self.counts[name] += 1
        return self.app(environ, start_response)

    def snapshot(self) -> Counter[str]:
        with self.lock:
            return Counter(self.counts)


def start_moto_server(port: int = 0) -> Any:
    """Start moto's server in this process on loopback; returns it (``.stop()`` ends it).

    Its requests are counted by operation (``server.counter``), so benchmarks can report
    DynamoDB and SQS calls per synced change.
    """
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    counter = RequestCounter(DomainDispatcherApplication(create_backend_app))

    class CountingMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            self._server = make_server(
                self._ip_address, self._port, counter, True, request_handler=MotoRequestHandler
            )
            self._server_ready_event.set()
            self._server.serve_forever()

    server = CountingMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.counter = counter  # type: ignore[attr-defined]
    server.start()
    return server


def moto_endpoint(server: Any) -> str:
    host, port = server.get_host_and_port()
    return f"http://{host}:{port}"


def dump(env: dict[str, str]) -> str:
    return json.dumps(env, indent=2, sort_keys=True)
