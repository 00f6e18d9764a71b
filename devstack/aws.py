"""The embedded AWS: moto's server on loopback, and node resources made from ``infra/``.

Resources are created by moto's CloudFormation from the very template that deploys
(``infra/resources.json``), so local, test and deployed tables and queues cannot drift.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

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


def start_moto_server(port: int = 0) -> Any:
    """Start moto's server in this process on loopback; returns it (``.stop()`` ends it)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server


def moto_endpoint(server: Any) -> str:
    host, port = server.get_host_and_port()
    return f"http://{host}:{port}"


def dump(env: dict[str, str]) -> str:
    return json.dumps(env, indent=2, sort_keys=True)
