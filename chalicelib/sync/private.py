"""A private node's half of a public-private connection: it only ever calls out.

Its own changes are pushed by the deliver worker as soon as they are queued (an outbound
call). What the public side has for it is pulled here, by the ``poll_peers`` schedule.

How hard it listens follows the connection (issue 19: a private node's polling at most $5
a month). While the connection is *hot* (a change went either way in the last
``TWINSYNC_POLL_HOT_SECONDS``, 15 minutes; or it was never polled), an invocation keeps
long-polling it until shortly before its own timeout, so consecutive invocations cover the
time between them and a change arrives within about a second. While it is *cool*, an
invocation makes one short pull and ends: a change then waits for the next run (a minute
at most), and that change makes the connection hot again. Quiet mode never listens (one
short pull per run). Each pull also reads the public side's twin status notices (a change
of ours it refused, or later applied): one more call per pull, and a notice counts as a
change (ours went the other way).

Where the public side advertises a function URL for pulls (``outbox_url`` in its outbox
answer, contract v1 addition), pulls go there, off the public node's API (a small function
of its own holds the long poll); any failure there sends the next pull back to the API,
which still answers and advertises the URL again.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import quote, urlsplit

import msgspec
from msgspec.structs import replace

from chalicelib.net.errors import OutboundError, PeerRefused
from chalicelib.net.peer import PeerClient, PeerEnd
from chalicelib.store.models import ConnectionModel
from chalicelib.store.namespaces import poll_state_key, pull_cursor_key
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
# A change seen while hot is written down at most this often (one write, not one a pull).
ACTIVE_WRITE_S = 60.0
MAX_URL = 2048


class PollState(msgspec.Struct, frozen=True):
    """How this end polls one connection (kept in the keys table between runs)."""

    url: str | None = None  # the public side's ``outbox_url``, learned from its answer
    active_at: float | None = None  # when a change last went either way (epoch seconds)

    def hot(self, now: float, hot_seconds: int) -> bool:
        return self.active_at is not None and now - self.active_at < hot_seconds


class Pulled(msgspec.Struct, frozen=True):
    """What one pull brought."""

    items: int
    notices: int = 0
    outbox_url: str | None = None  # what the answer advertised


def load_state(connection_id: str) -> PollState:
    item = get_key(poll_state_key(connection_id))
    try:
        data = json.loads(item.value) if item and item.value else {}
    except ValueError:
        data = {}
    url, active = data.get("url"), data.get("active_at")
    return PollState(
        url=url if isinstance(url, str) and url else None,
        active_at=float(active) if isinstance(active, (int, float)) else None,
    )


def save_state(connection_id: str, state: PollState) -> None:
    set_key(
        poll_state_key(connection_id), json.dumps({"url": state.url, "active_at": state.active_at})
    )


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


def advertised_url(answer: Any) -> str | None:
    """The ``outbox_url`` of an outbox answer, if it is an http(s) URL; else None."""
    url = answer.get("outbox_url") if isinstance(answer, dict) else None
    if not isinstance(url, str) or len(url) > MAX_URL:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return url.rstrip("/")


class _At:
    """A peer client that calls the other end at ``url`` (its outbox URL) instead."""

    def __init__(self, client: PeerClient, url: str) -> None:
        self.client, self.url = client, url

    def call(self, end: PeerEnd, method: str, path: str, body: Any = None) -> Any:
        return self.client.call(replace(end, url=self.url), method, path, body)


def pull_once(
    connection: ConnectionModel, *, wait: int, deps: SyncDeps, via: str | None = None
) -> Pulled:
    """One pull (at ``via``, the public side's outbox URL, if given): accept what the public
    side has, acknowledge it, read its twin status notices."""
    end = peer_end(connection)
    if via:
        end = replace(end, url=via)
    base = f"/node/v1/connections/{quote(connection.id, safe='')}/outbox"
    after = pulled_upto(connection.id)
    client = _pull_client(deps, wait)
    answer = client.call(end, "GET", f"{base}?after={after}&wait={wait}&limit=50")
    items = answer.get("items", []) if isinstance(answer, dict) else []
    if items:
        accept(connection, [from_wire(item["replica"]) for item in items], deps=deps)
        seqs = sorted({int(item["seq"]) for item in items})
        # the answer may offer again entries below the cursor (saved late, or not acked):
        # the cursor never goes back, and the ack names what came (not "all up to")
        if seqs[-1] > after:
            set_key(pull_cursor_key(connection.id), str(seqs[-1]))
        client.call(end, "POST", f"{base}/ack", {"upto": seqs[-1], "seqs": seqs})
    notices = _pull_notices(connection, deps=deps, via=via)
    return Pulled(items=len(items), notices=notices, outbox_url=advertised_url(answer))


def _pull_notices(connection: ConnectionModel, *, deps: SyncDeps, via: str | None = None) -> int:
    """How the public side fared with our changes (twin status notices); best effort: a
    peer without the route, or one that is down, must not stop the outbox pulls."""
    from chalicelib.sync.twin_status import pull_from_peer

    try:
        return pull_from_peer(connection, deps=deps, client=_At(deps.peer, via) if via else None)
    except (OutboundError, PeerRefused) as exc:
        log.info("twin status of %s not pulled: %s", connection.id, exc)
        return 0


def follow(
    connection: ConnectionModel,
    *,
    remaining_ms: Callable[[], int],
    deps: SyncDeps,
    clock: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """Pull one connection: while it is hot, until the invocation is nearly out of time;
    while it is cool (or in quiet mode), once, without waiting.

    Each long poll waits at most what the invocation has left (less a margin), so the last
    pull ends just before the timeout and the next scheduled invocation takes over.
    ``again`` in the answer: stopped early on an unreachable peer while hot, worth a retry
    within this run.
    """
    settings = deps.settings
    quiet = settings.quiet_poll
    stored = load_state(connection.id)
    state = stored
    if state.active_at is None:  # never polled: a new connection, its first syncs come now
        state = replace(state, active_at=clock())
    received = pulls = 0
    hot = again = False
    failed: set[str] = set()  # URLs that failed in this run: not learned again until the next
    while True:
        hot = not quiet and state.hot(clock(), settings.poll_hot_seconds)
        budget_s = (remaining_ms() - MARGIN_MS) / 1000
        if budget_s < 1:
            break
        wait = int(min(settings.poll_wait_seconds, budget_s - 1)) if hot else 0
        if hot and wait < 1 <= settings.poll_wait_seconds:
            # Less than a second left: a pull now would not wait, and the next would follow
            # at once, a burst of pulls each answered empty (issue 19: about half of an idle
            # minute's pulls). The next scheduled run takes over in a moment.
            break
        try:
            pulled = pull_once(connection, wait=max(0, wait), deps=deps, via=state.url)
        except (OutboundError, PeerRefused) as exc:
            if state.url:  # the URL failed: back to the API, which advertises it again
                log.info(
                    "outbox URL of %s failed (%s); pulling through the API", connection.id, exc
                )
                failed.add(state.url)
                state = replace(state, url=None)
                continue
            again = hot and isinstance(exc, OutboundError)
            _stopped(connection, exc, deps=deps)
            break
        note_reached(connection.id)
        pulls += 1
        received += pulled.items
        state = _learn(state, pulled, failed, clock())
        if _worth_writing(stored, state):
            save_state(connection.id, state)
            stored = state
        if quiet or not (hot or state.hot(clock(), settings.poll_hot_seconds)):
            break  # one short pull: quiet mode, or a cool connection with nothing new
    if state != stored:
        save_state(connection.id, state)
    return {
        "connection_id": connection.id,
        "pulls": pulls,
        "received": received,
        "hot": hot,
        "again": again,
    }


def _learn(state: PollState, pulled: Pulled, failed: set[str], now: float) -> PollState:
    """The state after a pull: the URL it advertised (unless it failed in this run), and
    whether it carried a change."""
    if pulled.outbox_url and pulled.outbox_url not in failed | {state.url}:
        state = replace(state, url=pulled.outbox_url)
    if pulled.items or pulled.notices:
        state = replace(state, active_at=now)
    return state


def _worth_writing(stored: PollState, state: PollState) -> bool:
    if state.url != stored.url or stored.active_at is None or state.active_at is None:
        return True
    return state.active_at - stored.active_at >= ACTIVE_WRITE_S


def _stopped(
    connection: ConnectionModel, exc: OutboundError | PeerRefused, *, deps: SyncDeps
) -> None:
    """A pull through the API failed: note how, pause a connection the other end is done
    with."""
    if isinstance(exc, OutboundError):
        note_unreachable(connection.id, exc)
        log.info("public side of %s unreachable (%s); next run retries", connection.id, exc)
        return
    note_reached(connection.id)  # it answered, if only to refuse
    if exc.status in CONNECTION_GONE:
        pause(connection, f"The public side refused the connection: {exc}", exc.code, deps=deps)
        return
    log.warning("pull on %s refused: %s", connection.id, exc)


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
                    done = running.result()
                    if not done.get("again"):
                        continue  # pulled as much as this run should (or cool)
                    results.append(done)
                followers[connection.id] = pool.submit(
                    follow, connection, remaining_ms=remaining_ms, deps=deps
                )
            if deps.settings.quiet_poll or (remaining_ms() - MARGIN_MS) / 1000 < rescan_s + 1:
                break  # quiet mode: one short pull per connection and per scheduled run
            time.sleep(rescan_s)
        results.extend(f.result() for f in followers.values())
    return {"polled": len(followers), "results": results}
