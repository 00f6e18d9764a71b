"""Where the connection lifecycle gets its collaborators: the tracker and the peer client.

Service functions take ``tracker`` and ``peer`` as keyword-only parameters; the API views
get them from here. The defaults build the real ones from the settings (the tracker adapter
of ``settings.tracker``, and a :class:`PeerClient` over the SSRF-guarded fetcher). A test
or the local stack installs other providers with :func:`use_providers` (a fake tracker, a
transport that routes to an in-process node): a seam, not a flag.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from chalicelib.config import Settings
from chalicelib.net.outbound import Fetcher, GuardedFetcher
from chalicelib.net.peer import PeerClient
from chalicelib.net.ssrf import OutboundPolicy
from chalicelib.trackers.base import Tracker


def default_tracker(settings: Settings) -> Tracker:
    from chalicelib.trackers.factory import make_tracker

    return make_tracker(settings.tracker)


def default_fetcher(settings: Settings) -> Fetcher:
    return GuardedFetcher(OutboundPolicy.from_settings(settings))


@dataclass(frozen=True)
class Providers:
    """Factories of the lifecycle's collaborators, each given the node's settings."""

    tracker: Callable[[Settings], Tracker] = default_tracker
    fetcher: Callable[[Settings], Fetcher] = default_fetcher

    def peer(self, settings: Settings) -> PeerClient:
        return PeerClient(node_id=settings.node_id, fetch=self.fetcher(settings))


_current = Providers()


def providers() -> Providers:
    """The providers in use."""
    return _current


@contextmanager
def use_providers(replacement: Providers) -> Iterator[Providers]:
    """Install ``replacement`` for the duration of the block."""
    global _current
    previous, _current = _current, replacement
    try:
        yield replacement
    finally:
        _current = previous
