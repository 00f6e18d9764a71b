"""Run a sandbox Jira as a process: prints its URL on stdout when ready, stops on SIGINT/TERM.

    python -m devstack.sandbox_jira --flavour cloud --port 8081 --state .devstack/cloud.json \
        --config devstack/sandbox-cloud.json
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from .sandbox import FLAVOURS, SandboxJira


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devstack.sandbox_jira", description=__doc__)
    parser.add_argument("--flavour", choices=FLAVOURS, default="cloud")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--state", help="JSON state: loaded on start, saved 0.5 s after changes")
    parser.add_argument("--config", help="JSON file: users, projects, webhooks to create")
    parser.add_argument("--admin-secret", help="require X-Sandbox-Admin on /_sandbox/ calls")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    site = SandboxJira(
        args.flavour,
        host=args.host,
        port=args.port,
        persist_path=args.state,
        config=args.config,
        admin_secret=args.admin_secret,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    site.start()
    print(site.url, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        site.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
