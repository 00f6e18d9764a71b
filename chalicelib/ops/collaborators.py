"""What the connection operations work with: the node's settings, tracker and peer client.

The API views hand over the composition root's (:mod:`chalicelib.root`); an operation that
needs no tracker (or no peer) is given none, and asking for it then is a programming error.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import msgspec

from chalicelib.config import Settings

if TYPE_CHECKING:  # types only: the adapter's modules load where it is built (cold start)
    from chalicelib.net.peer import PeerClient
    from chalicelib.trackers.base import Tracker

T = TypeVar("T")


def _given(value: T | None, what: str) -> Callable[[], T]:
    def get() -> T:
        if value is None:
            raise RuntimeError(f"this operation was given no {what}")
        return value

    return get


class Deps(msgspec.Struct, frozen=True):
    settings: Settings
    tracker: Callable[[], Tracker]
    peer: Callable[[], PeerClient]
    now: float


def resolve(
    settings: Settings,
    tracker: Tracker | None = None,
    peer: PeerClient | None = None,
    now: float | None = None,
) -> Deps:
    return Deps(
        settings=settings,
        tracker=_given(tracker, "tracker"),
        peer=_given(peer, "peer client"),
        now=time.time() if now is None else now,
    )
