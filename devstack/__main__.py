"""``make run``: start the local Twinsync stack and keep it up until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from devstack.stack import LocalStack
from devstack.stackfile import StackFileError, load


def quickstart(stack: LocalStack) -> str:
    info = stack.info()
    lines = ["", "Twinsync local stack is up.", f"  embedded AWS    {info['aws_endpoint']}"]
    for name, tracker in info["trackers"].items():
        lines.append(f"  tracker {name:<7} {tracker['url']}  ({tracker['kind']})")
    for name, node in info["nodes"].items():
        kind = (
            f"public at {node['public_url']}" if node["public_url"] else "private (no public URL)"
        )
        lines.append(f"  node {name:<10} {node['url']}  {kind}, tracker {node['tracker']}")
    lines.append("Admin console (sign in with the node's admin token from stack.json):")
    for name, node in info["nodes"].items():
        lines.append(f"  node {name:<10} {node['url']}/console/")
    first = next(iter(info["nodes"].values()))
    lines += [
        "",
        f"Everything a client needs (tokens included): {stack.workdir / 'stack.json'}",
        f"Node logs (one JSON object a line): {stack.workdir / 'logs'}/<node>.jsonl",
        "Try:",
        f"  curl -H 'Authorization: Bearer {first['admin_token']}' {first['url']}/api/v1/node",
        "",
        "Ctrl-C stops everything.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    parser.add_argument("--stack", default="devstack/stack.toml", help="stack file (TOML)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    try:
        spec = load(args.stack)
    except StackFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        stack = LocalStack(spec).start()
    except (RuntimeError, OSError) as exc:
        print(f"error: the stack did not start: {exc}", file=sys.stderr)
        return 1
    print(quickstart(stack), flush=True)
    try:
        stop.wait()
    finally:
        print("stopping...", flush=True)
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
