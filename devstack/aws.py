"""The embedded AWS: moto's server on loopback, and node resources made from ``infra/``.

Resources are created by moto's CloudFormation from the very template that deploys
(``infra/resources.json``), so local, test and deployed tables and queues cannot drift.
"""

from __future__ import annotations

import io
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


COUNTS_PATH = "/_twinsync/counts"
READY = "READY"


class PortInUse(OSError):
    """The embedded AWS cannot listen on its port: another program has it."""

    def __init__(self, port: int) -> None:
        super().__init__(
            f"port {port} (aws.port) is already in use on 127.0.0.1 by a program this stack "
            "did not start; stop it or choose another port (0 picks a free one)"
        )
        self.port = port


# DynamoDB's batch and transaction calls are billed per item (a transaction's item twice):
# counted as request units, so batching does not look cheaper than it is.
_PER_ITEM = {
    "dynamodb.BatchWriteItem": ("RequestItems", 1),
    "dynamodb.BatchGetItem": ("RequestItems", 1),
    "dynamodb.TransactWriteItems": ("TransactItems", 2),
    "dynamodb.TransactGetItems": ("TransactItems", 2),
}
_WRITES = (
    "dynamodb.PutItem",
    "dynamodb.UpdateItem",
    "dynamodb.DeleteItem",
    "dynamodb.BatchWriteItem",
    "dynamodb.TransactWriteItems",
)
# what a write's units are counted under: ``WRITE_UNITS + operation`` (per_change sums them)
WRITE_UNITS = "wru."


def _read_body(environ: dict[str, Any]) -> dict[str, Any]:
    size = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(size) if size else b""
    environ["wsgi.input"] = io.BytesIO(raw)  # moto reads the body after us
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _request_units(name: str, body: dict[str, Any]) -> int:
    """How many request units a call is billed as: 1, or per item for :data:`_PER_ITEM`."""
    if name not in _PER_ITEM:
        return 1
    key, weight = _PER_ITEM[name]
    items = body.get(key)
    if isinstance(items, dict):  # batch: {table: [requests]} or {table: {"Keys": [...]}}
        count = sum(
            len(v.get("Keys", ())) if isinstance(v, dict) else len(v) for v in items.values()
        )
    else:
        count = len(items or ())
    return max(1, count) * weight


def _written(name: str, body: dict[str, Any]) -> list[tuple[str, dict[str, Any], int]]:
    """(table, item or key, weight) of each item a write request touches."""
    if name in ("dynamodb.PutItem", "dynamodb.UpdateItem", "dynamodb.DeleteItem"):
        return [(body.get("TableName", ""), body.get("Item") or body.get("Key") or {}, 1)]
    found: list[tuple[str, dict[str, Any], int]] = []
    if name == "dynamodb.BatchWriteItem":
        for table, requests in (body.get("RequestItems") or {}).items():
            for request in requests:
                put, delete = request.get("PutRequest"), request.get("DeleteRequest")
                found.append((table, (put or {}).get("Item") or (delete or {}).get("Key"), 1))
    elif name == "dynamodb.TransactWriteItems":
        for action in body.get("TransactItems") or ():
            for spec in action.values():
                found.append((spec.get("TableName", ""), spec.get("Item") or spec.get("Key"), 2))
    return found


class _MotoItems:
    """Items as moto's DynamoDB holds them (this process's backend), to size a write."""

    def __init__(self, region: str) -> None:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        self.backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][region]

    def table(self, name: str) -> Any:
        return self.backend.tables.get(name)

    def get(self, table: Any, key_or_item: dict[str, Any]) -> dict[str, Any] | None:
        from moto.dynamodb.models.dynamo_type import DynamoType

        hash_key = key_or_item.get(table.hash_key_attr)
        range_key = key_or_item.get(table.range_key_attr) if table.range_key_attr else None
        if hash_key is None:
            return None
        found = table.get_item(
            DynamoType(hash_key), DynamoType(range_key) if range_key is not None else None
        )
        return found.to_json()["Attributes"] if found is not None else None


def _region(environ: dict[str, Any]) -> str:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    marker = "Credential="
    if marker in auth:  # Credential=KEY/DATE/REGION/SERVICE/aws4_request
        parts = auth.split(marker, 1)[1].split("/")
        if len(parts) > 2:
            return parts[2]
    return REGION


def _billed_writes(
    items: _MotoItems, touched: list[tuple[str, dict[str, Any], int]], call: Any
) -> tuple[Any, int]:
    """Run ``call`` (the write) and return (its response, the write units it billed)."""
    from devstack.capacity import Index, write_units

    plans = []
    for table_name, key, weight in touched:
        table = items.table(table_name)
        if table is None or not isinstance(key, dict):
            plans.append(None)
            continue
        plans.append((table, key, weight, items.get(table, key)))
    response = call()
    total = 0
    for plan in plans:
        if plan is None:
            total += 1
            continue
        table, key, weight, before = plan
        after = items.get(table, key)
        indexes = [Index.from_description(i.describe()) for i in table.global_indexes or ()]
        keys = [k for k in (table.hash_key_attr, table.range_key_attr) if k]
        total += weight * write_units(before, after, indexes=indexes, table_keys=keys)
    return response, total


class RequestCounter:
    """WSGI middleware counting AWS API calls by operation (for the benchmarks); DynamoDB's
    batch and transaction calls count their billed request units (:func:`_request_units`),
    and its writes also the write request units they bill (item sizes and index writes,
    :mod:`devstack.capacity`) under ``WRITE_UNITS + operation``."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        self._items: dict[str, _MotoItems | None] = {}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == COUNTS_PATH:
            body = json.dumps(self.snapshot()).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target:
            name = (
                target.replace("DynamoDB_20120810.", "dynamodb.")
                .replace("AmazonSQS.", "sqs.")
                .replace("TrentService.", "kms.")
            )
        else:
            query = parse_qs(environ.get("QUERY_STRING", ""))
            action = query.get("Action", [""])[0]
            name = f"sqs.{action}" if action else f"s3.{environ.get('REQUEST_METHOD', '')}"
        body = _read_body(environ) if name in _PER_ITEM or name in _WRITES else {}
        units = _request_units(name, body)
        with self.lock:
            self.counts[name] += units
        items = self._moto_items(environ) if name in _WRITES else None
        if items is None:
            return self.app(environ, start_response)
        response, billed = _billed_writes(
            items, _written(name, body), lambda: list(self.app(environ, start_response))
        )
        with self.lock:
            self.counts[WRITE_UNITS + name] += billed
        return response

    def _moto_items(self, environ: dict[str, Any]) -> _MotoItems | None:
        region = _region(environ)
        if region not in self._items:
            try:
                self._items[region] = _MotoItems(region)
            except (ImportError, KeyError):  # not moto's server (a test's app)
                self._items[region] = None
        return self._items[region]

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

    from devstack import moto_sqs_clock

    moto_sqs_clock.install()  # one clock read per queue scan (the soak's backlog)

    counter = RequestCounter(DomainDispatcherApplication(create_backend_app))

    class CountingMotoServer(ThreadedMotoServer):
        bind_error: BaseException | None = None

        def _server_entry(self) -> None:
            try:
                self._server = make_server(
                    self._ip_address, self._port, counter, True, request_handler=MotoRequestHandler
                )
            except (OSError, SystemExit) as exc:  # werkzeug exits when the port is taken
                self.bind_error = exc
                self._server_ready_event.set()
                return
            self._server_ready_event.set()
            self._server.serve_forever()

    server = CountingMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.counter = counter  # type: ignore[attr-defined]
    server.start()
    if server.bind_error is not None:
        raise PortInUse(port) from server.bind_error
    return server


def moto_endpoint(server: Any) -> str:
    host, port = server.get_host_and_port()
    return f"http://{host}:{port}"


def dump(env: dict[str, str]) -> str:
    return json.dumps(env, indent=2, sort_keys=True)


class MotoProcess:
    """The embedded AWS in a process of its own.

    moto keeps its state in module globals, so a server inside the test process would be
    wiped by any in-process ``mock_aws`` test running meanwhile; a process of its own is
    isolated, like real AWS. Its request counts are read over HTTP.

    The process says ``READY <port>`` on its standard output once *it* listens; nothing
    is sent to the port before that, so a server that already answered there (another
    moto, another program) is never mistaken for ours. When the port is taken the process
    exits and :class:`PortInUse` names the port.
    """

    def __init__(self, port: int = 0, *, timeout: float = 30.0) -> None:
        import socket
        import subprocess
        import sys
        import tempfile

        if not port:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
        self.port = port
        self.endpoint = f"http://127.0.0.1:{port}"
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devstack.aws", "--port", str(port)],
            cwd=TEMPLATE.parent.parent,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        self.counter = self
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        import selectors
        import subprocess

        assert self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if selector.select(timeout=0.1):
                    line = self.process.stdout.readline().decode(errors="replace")
                    if line.startswith(f"{READY} "):
                        return
                    if not line:  # the process closed its output: it ended
                        break
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None  # alive but silent past the deadline (stop() ends it)
        if code == PORT_IN_USE_EXIT:
            raise PortInUse(self.port)
        self._stderr.seek(0)
        detail = self._stderr.read().decode(errors="replace")[-2000:]
        raise RuntimeError(f"the embedded AWS did not start on port {self.port}:\n{detail}")

    def snapshot(self) -> Counter[str]:
        import urllib.request

        with urllib.request.urlopen(self.endpoint + COUNTS_PATH, timeout=5) as answer:  # noqa: S310
            return Counter(json.loads(answer.read()))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except Exception:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._stderr.close()


PORT_IN_USE_EXIT = 3


def main(argv: list[str] | None = None) -> int:
    """``python -m devstack.aws --port N``: serve the embedded AWS until stopped."""
    import argparse
    import logging
    import signal
    import sys

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    try:
        server = start_moto_server(args.port)
    except PortInUse as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return PORT_IN_USE_EXIT
    print(f"{READY} {moto_endpoint(server)}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
