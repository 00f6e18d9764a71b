"""Resolving the lifecycle's keyword-only dependencies to their working defaults."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TypeVar

from chalicelib.config import Settings
from chalicelib.connections.wiring import providers
from chalicelib.net.peer import PeerClient
from chalicelib.runtime import ready
from chalicelib.trackers.base import Tracker

T = TypeVar("T")


def _given(value: T) -> Callable[[], T]:
    return lambda: value


@dataclass(frozen=True)
class Deps:
    settings: Settings
    tracker: Callable[[], Tracker]
    peer: Callable[[], PeerClient]
    now: float


def resolve(
    settings: Settings | None = None,
    tracker: Tracker | None = None,
    peer: PeerClient | None = None,
    now: float | None = None,
) -> Deps:
    """Fill what the caller did not pass; the tracker and peer are built only when used."""
    current = settings or ready()
    chosen = providers()
    return Deps(
        settings=current,
        tracker=_given(tracker) if tracker is not None else cache(lambda: chosen.tracker(current)),
        peer=_given(peer) if peer is not None else cache(lambda: chosen.peer(current)),
        now=time.time() if now is None else now,
    )
