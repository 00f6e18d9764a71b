"""One Twinsync node on this machine: the HTTP app plus its queue runner and schedules.

Run as its own process (``python -m devstack.node``) by the stack launcher, with the
node's settings in the environment exactly as a Lambda function would get them and
``AWS_ENDPOINT_URL`` pointing at the embedded AWS. A process per node keeps each node's
settings and table bindings apart, as separate deployments are.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

import boto3


def queue_bindings(resources) -> dict[str, str]:
    """Map the app's placeholder queue names to this node's real queues."""
    return {
        "twinsync-ingest.fifo": resources.ingest_queue_url,
        "twinsync-deliver.fifo": resources.deliver_queue_url,
        "twinsync-apply.fifo": resources.apply_queue_url,
        "twinsync-jobs.fifo": resources.jobs_queue_url,
        "twinsync-ingest-catchup.fifo": resources.ingest_catchup_queue_url,
        "twinsync-deliver-catchup.fifo": resources.deliver_catchup_queue_url,
        "twinsync-apply-catchup.fifo": resources.apply_catchup_queue_url,
    }


# what machines call (tracker webhooks, peer nodes), not people or the benchmarks' polling
MACHINE_PATHS = ("/webhooks/", "/node/v1/")


def _write_stats(runner, path: str, stop: threading.Event) -> None:
    """Benchmarks read what this node's functions did (invocations, records, seconds)."""
    import json

    while not stop.wait(0.5):
        tmp = f"{path}.tmp"
        with open(tmp, "w") as out:
            json.dump(runner.stats.as_dict(), out)
        os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--poll-every",
        type=float,
        default=None,
        help="seconds between poll_peers runs (deployed: 60)",
    )
    parser.add_argument(
        "--reconcile-every",
        type=float,
        default=None,
        help="seconds between reconcile runs (deployed: 300)",
    )
    parser.add_argument(
        "--stats", default=None, help="file to which the runner's invocation counts are written"
    )
    parser.add_argument(
        "--log-file",
        default=None,
        help="file to which the app's JSON log lines go (default: stdout, as in Lambda)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(  # the local stack's own loggers (devstack.*); the app's are JSON
        level=os.environ.get("TWINSYNC_LOG_LEVEL", "INFO"),
        format=f"%(asctime)s {os.environ.get('TWINSYNC_NODE_ID', 'node')} %(name)s "
        "%(levelname)s %(message)s",
    )
    # as in Lambda, the app is imported before its first invocation configures the logs
    # (Chalice(app_name="twinsync") resets the ``twinsync`` logger when it is created)
    from app import app
    from chalicelib.config import ConfigError
    from chalicelib.observability import logs, metrics
    from chalicelib.root import root

    if args.log_file:  # log lines and EMF metrics, as in the function's CloudWatch log group
        out = open(args.log_file, "a", buffering=1, encoding="utf-8")  # noqa: SIM115
        logs.configure(os.environ.get("TWINSYNC_LOG_LEVEL", "INFO"), stream=out)
        metrics.configure(os.environ.get("TWINSYNC_NODE_ID", "node"), stream=out)

    url_server = None
    if os.environ.get("TWINSYNC_PUBLIC_URL"):
        # a public node's function URL for its private peers' pulls (outbox_poll), on
        # loopback as the app's API is; the node advertises it as Lambda's would be
        from devstack.function_url import FunctionUrlServer

        url_server = FunctionUrlServer(app, "outbox_poll").start()
        os.environ["TWINSYNC_OUTBOX_URL"] = url_server.url

    trace = os.environ.get("BENCH_TRACE")
    if trace:  # the benchmarks' per-stage breakdown (devstack.aws_trace)
        from devstack import aws_trace

        node_id = os.environ.get("TWINSYNC_NODE_ID", "node")
        aws_trace.install(os.path.join(trace, f"{node_id}.jsonl"))
    try:
        settings = root().settings
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2

    from devstack.http import AppServer, ContractRequestHandler
    from devstack.runner import LocalRunner

    overrides = {}
    if args.poll_every is not None:
        overrides["poll_peers"] = args.poll_every
    if args.reconcile_every is not None:
        overrides["reconcile"] = args.reconcile_every
    server = AppServer(app, port=args.port).start()
    runner = LocalRunner(
        app,
        queue_urls=queue_bindings(settings.resources),
        sqs=boto3.client("sqs", region_name=settings.region),
        region=settings.region,
        schedule_overrides=overrides,
    )
    if url_server is not None:
        url_server.stats = runner.stats
    runner.start()
    stop = threading.Event()
    if args.stats:  # API Gateway's and api_handler's share: webhooks and peer calls
        ContractRequestHandler.on_request = lambda path, seconds: (
            runner.stats.count("api_handler", records=1, seconds=seconds)
            if path.startswith(MACHINE_PATHS)
            else None
        )
        threading.Thread(target=_write_stats, args=(runner, args.stats, stop), daemon=True).start()
    # the reconcile sweep on demand (LocalStack.sweep_now): a benchmark measures it
    signal.signal(signal.SIGUSR1, lambda *_: runner.fire_now("reconcile"))
    print(f"READY {server.url}", flush=True)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    runner.stop()
    server.stop()
    if url_server is not None:
        url_server.stop()
    # A poll_peers invocation may be inside a long poll in a worker thread that Python
    # would join at exit; like a Lambda container being frozen, just stop.
    logging.shutdown()
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
