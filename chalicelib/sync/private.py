"""A private node's half of a public-private connection: it only ever calls out.

Its own changes are pushed by the deliver worker as soon as they are queued (an outbound
call). What the public side has for it is pulled here, by the ``poll_peers`` schedule:
each invocation keeps long-polling every connection (concurrently) until shortly before
its own timeout, so consecutive invocations cover the time between them. In quiet mode an
invocation makes one short pull per connection instead (cheaper, slower). Each pull also
reads the public side's twin status notices (a change of ours it refused, or later
applied): one more call per pull.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

from chalicelib.net.errors import OutboundError, PeerRefused
from chalicelib.net.peer import PeerClient
from chalicelib.store.models import ConnectionModel
from chalicelib.store.namespaces import pull_cursor_key
from chalicelib.sync.deliver import CONNECTION_GONE, pause
from chalicelib.sync.inbox import accept
from chalicelib.sync.links import peer_end
from chalicelib.sync.messages import from_wire
from chalicelib.sync.peer_contact import note_reached, note_unreachable
from chalicelib.sync.services import SyncDeps
from chalicelib.sync.store import get_key, set_key

log = logging.getLogger("twinsync.private")

MARGIN_MS = 2_000
RESCAN_S = 2.0
MAX_FOLLOWERS = 32


def pulled_upto(connection_id: str) -> int:
    item = get_key(pull_cursor_key(connection_id))
    return int(item.value) if item and item.value else 0


def _pull_client(deps: SyncDeps, wait: int) -> PeerClient:
    """A client whose read timeout outlasts the long poll."""
    from chalicelib.net.outbound import GuardedFetcher

    fetch = deps.fetch
    if isinstance(fetch, GuardedFetcher):
        fetch = GuardedFetcher(
            fetch.policy,
            resolve=fetch.resolve,
            timeout=(fetch.timeout[0], wait + 10.0),
            max_bytes=16 * 1024 * 1024,
            verify=fetch.verify,
        )
    return PeerClient(node_id=deps.settings.node_id, fetch=fetch)


def pull_once(connection: ConnectionModel, *, wait: int, deps: SyncDeps) -> int:
    """One pull: accept what the public side has, acknowledge it; how many items."""
    end = peer_end(connection)
    base = f"/node/v1/connections/{quote(connection.id, safe='')}/outbox"
    after = pulled_upto(connection.id)
    client = _pull_client(deps, wait)
    answer = client.call(end, "GET", f"{base}?after={after}&wait={wait}&limit=50")
    items = answer.get("items", []) if isinstance(answer, dict) else []
    if items:
        accept(connection, [from_wire(item["replica"]) for item in items], deps=deps)
        upto = max(int(item["seq"]) for item in items)
        set_key(pull_cursor_key(connection.id), str(upto))
        client.call(end, "POST", f"{base}/ack", {"upto": upto})
    _pull_notices(connection, deps=deps)
    return len(items)


def _pull_notices(connection: ConnectionModel, *, deps: SyncDeps) -> None:
    """How the public side fared with our changes (twin status notices); best effort: a
    peer without the route, or one that is down, must not stop the outbox pulls."""
    from chalicelib.sync.twin_status import pull_from_peer

    try:
        pull_from_peer(connection, deps=deps)
    except (OutboundError, PeerRefused) as exc:
        log.info("twin status of %s not pulled: %s", connection.id, exc)


def follow(
    connection: ConnectionModel, *, remaining_ms: Callable[[], int], deps: SyncDeps
) -> dict[str, Any]:
    """Keep pulling one connection until the invocation is nearly out of time.

    Each long poll waits at most what the invocation has left (less a margin), so the last
    pull ends just before the timeout and the next scheduled invocation takes over.
    """
    quiet = deps.settings.quiet_poll
    received = pulls = 0
    while True:
        budget_s = (remaining_ms() - MARGIN_MS) / 1000
        if budget_s < 1:
            break
        wait = 0 if quiet else int(min(deps.settings.poll_wait_seconds, budget_s - 1))
        if wait < 1 <= deps.settings.poll_wait_seconds and not quiet:
            # Less than a second left: a pull now would not wait, and the next would follow
            # at once, a burst of pulls each answered empty (issue 19: about half of an idle
            # minute's pulls). The next scheduled run takes over in a moment.
            break
        try:
            received += pull_once(connection, wait=max(0, wait), deps=deps)
        except PeerRefused as exc:
            note_reached(connection.id)  # it answered, if only to refuse
            if exc.status in CONNECTION_GONE:
                pause(
                    connection,
                    f"The public side refused the connection: {exc}",
                    exc.code,
                    deps=deps,
                )
                break
            log.warning("pull on %s refused: %s", connection.id, exc)
            break
        except OutboundError as exc:
            note_unreachable(connection.id, exc)
            log.info("public side of %s unreachable (%s); next run retries", connection.id, exc)
            break
        note_reached(connection.id)
        pulls += 1
        if quiet:
            break
    return {"connection_id": connection.id, "pulls": pulls, "received": received}


def _pollable() -> list[ConnectionModel]:
    return [
        c
        for c in ConnectionModel.scan()
        if c.status == "active" and c.remote_public and c.remote_url and not c.local_peer_id
    ]


def poll_connections(
    *,
    remaining_ms: Callable[[], int],
    deps: SyncDeps,
    rescan_s: float = RESCAN_S,
) -> dict[str, Any]:
    """Follow every pollable connection concurrently for the whole invocation.

    The set is looked at again every few seconds, so a connection accepted (or activated)
    while a run is under way is followed at once, not a minute later, and a follower that
    stopped (its peer unreachable) is started again.
    """
    followers: dict[str, Future[dict[str, Any]]] = {}
    results: list[dict[str, Any]] = []
    with ThreadPoolExecutor(max_workers=MAX_FOLLOWERS) as pool:
        while True:
            for connection in _pollable():
                running = followers.get(connection.id)
                if running is not None and not running.done():
                    continue
                if running is not None:
                    results.append(running.result())
                followers[connection.id] = pool.submit(
                    follow, connection, remaining_ms=remaining_ms, deps=deps
                )
            if deps.settings.quiet_poll or (remaining_ms() - MARGIN_MS) / 1000 < rescan_s + 1:
                break  # quiet mode: one short pull per connection and per scheduled run
            time.sleep(rescan_s)
        results.extend(f.result() for f in followers.values())
    return {"polled": len(followers), "results": results}
