"""The composition root: what every route, queue handler and schedule works with.

Built once per container (a Lambda execution environment) on its first invocation, never
at import, so ``chalice package`` and cold starts import ``app.py`` without an environment:

- the logs: JSON lines at the stage's level (:mod:`chalicelib.observability.logs`), and
  the node named on every metric (:mod:`chalicelib.observability.metrics`);
- the settings: one typed object from the environment (:mod:`chalicelib.config`); a
  misconfigured stage fails on its first invocation with one message naming every problem;
- the tables, bound to the stage's names (:func:`chalicelib.store.models.bind`), and with
  them the sealer of the connection keys they hold: the tenant's KMS key through this
  container's KMS client (:func:`chalicelib.connections.sealing.bind`);
- the tracker adapter of ``settings.tracker``, and for the sync stages the same adapter
  paced by the node's budget (:mod:`chalicelib.trackers.paced`);
- the SSRF-guarded fetcher and the peer client over it; the blob store; the queue sender.

The layers below take these as parameters; none of them builds a collaborator or reads a
global. Tests and the local stack install other providers (a fake tracker, a transport that
routes to an in-process node) with :func:`use_providers`: a seam, not a flag.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any

import msgspec

from chalicelib.config import Settings, get_settings
from chalicelib.observability import logs, metrics

if TYPE_CHECKING:  # each collaborator's module is imported where it is built (cold start)
    from chalicelib.net.outbound import Fetcher
    from chalicelib.net.peer import PeerClient
    from chalicelib.sync.services import SyncDeps
    from chalicelib.trackers.base import Tracker

MAX_ATTACHMENT_BYTES = 256 * 1024 * 1024

# At DEBUG these log whole request and response bodies: DynamoDB items, KMS Decrypt answers
# (an opened connection key), Secrets Manager answers. They never log below INFO, whatever
# TWINSYNC_LOG_LEVEL or the root logger says (issue 13 item 10).
WIRE_LOGGERS = ("botocore", "boto3", "pynamodb", "urllib3", "s3transfer")
# urllib3 logs a followed redirect at INFO with the whole target URL: Jira Cloud's media
# store URL for an attachment carries a signed token. WARNING or above.
URL_LOGGERS = ("urllib3.poolmanager",)


def default_tracker(settings: Settings) -> Tracker:
    from chalicelib.trackers.factory import make_tracker

    return make_tracker(settings.tracker)


@lru_cache(maxsize=4)
def kms_client(region: str) -> Any:
    """One KMS client per container (a client costs a botocore model load)."""
    from chalicelib import aws_clients

    return aws_clients.client("kms", region=region)


def default_fetcher(settings: Settings) -> Fetcher:
    from chalicelib.net.outbound import GuardedFetcher
    from chalicelib.net.ssrf import OutboundPolicy

    return GuardedFetcher(OutboundPolicy.from_settings(settings))


class Deferred:
    """Stands for a collaborator that is built on its first use (an attribute read), then
    is that collaborator's: a webhook's intake never calls the tracker, so its first
    invocation neither imports nor builds the adapter (issue 19, cold start)."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build: Callable[[], Any] | None = build
        self._built: Any = None
        self._lock = threading.Lock()  # built once, whichever thread reads it first

    def built(self) -> Any:
        if self._build is not None:
            with self._lock:
                if self._build is not None:
                    self._built, self._build = self._build(), None
        return self._built

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # not yet set (copy, pickle): never build for these
            raise AttributeError(name)
        return getattr(self.built(), name)


class Providers(msgspec.Struct, frozen=True):
    """Factories of the node's outside collaborators, each given the node's settings.

    Neither this nor :class:`Root` is a dataclass: every function's first invocation
    imports this module, and a frozen dataclass's methods are compiled when it is defined
    (issue 19, cold start)."""

    tracker: Callable[[Settings], Tracker] = default_tracker
    fetcher: Callable[[Settings], Fetcher] = default_fetcher


class Root:
    """One node's collaborators; each is built on first use and then kept."""

    def __init__(self, settings: Settings, providers: Providers) -> None:
        self.settings = settings
        self.providers = providers

    def __repr__(self) -> str:
        return f"Root(node_id={self.settings.node_id!r})"

    @cached_property
    def tracker(self) -> Tracker:
        """The tracker adapter as the admin operations use it (unpaced: an admin waits)."""
        return self.providers.tracker(self.settings)

    @cached_property
    def fetch(self) -> Fetcher:
        return self.providers.fetcher(self.settings)

    @cached_property
    def peer(self) -> PeerClient:
        from chalicelib.net.peer import PeerClient

        return PeerClient(node_id=self.settings.node_id, fetch=self.fetch)

    @cached_property
    def sync(self) -> SyncDeps:
        """What the sync stages and jobs work with (the paced tracker built on first use)."""
        tracker = Deferred(lambda: _paced(self.tracker))
        peer = Deferred(lambda: self.peer)
        return build_sync(self.settings, self.providers, tracker=tracker, peer=peer)


def build_sync(
    settings: Settings, providers: Providers | None = None, **overrides: Any
) -> SyncDeps:
    """The sync stages' collaborators from the settings; ``overrides`` replace any of them.
    The tracker adapter, the peer client and the S3 client are built on first use
    (:class:`Deferred`): a webhook's intake uses none of them (issue 19, cold start). The
    fetchers are built at once (``sync.private`` looks at the fetcher's type)."""
    from chalicelib.sync.blobs import BlobStore, s3_client
    from chalicelib.sync.services import SyncDeps

    chosen = providers or _current
    fetch = overrides.pop("fetch", None) or chosen.fetcher(settings)
    values: dict[str, Any] = {
        "settings": settings,
        "tracker": overrides.pop("tracker", None)
        or Deferred(lambda: _paced(chosen.tracker(settings))),
        "peer": overrides.pop("peer", None) or Deferred(lambda: _peer(settings, fetch)),
        "fetch": fetch,
        "blobs": overrides.pop("blobs", None)
        or BlobStore(
            settings.resources.blob_bucket, client=Deferred(lambda: s3_client(settings.region))
        ),
    }
    values.update(overrides)
    if "blob_fetch" not in values:
        values["blob_fetch"] = fetch if "fetch" in overrides else _blob_fetcher(settings, fetch)
    return SyncDeps(**values)


def _peer(settings: Settings, fetch: Fetcher) -> PeerClient:
    from chalicelib.net.peer import PeerClient

    return PeerClient(node_id=settings.node_id, fetch=fetch)


def _paced(tracker: Tracker) -> Tracker:
    """The adapter counted against the node's budget (:mod:`chalicelib.trackers.paced`)."""
    from chalicelib.trackers.paced import paced

    return paced(tracker)


def _blob_fetcher(settings: Settings, fetch: Fetcher) -> Fetcher:
    """Attachment bytes are bigger than API answers: the same guard, a larger cap."""
    from chalicelib.net.outbound import GuardedFetcher
    from chalicelib.net.ssrf import OutboundPolicy

    if not isinstance(fetch, GuardedFetcher):
        return fetch  # a test transport
    return GuardedFetcher(OutboundPolicy.from_settings(settings), max_bytes=MAX_ATTACHMENT_BYTES)


_current = Providers()
_built: dict[tuple[int, int], Root] = {}


def root() -> Root:
    """This container's root: settings loaded and tables bound before anything else runs."""
    settings = get_settings()
    key = (id(settings), id(_current))
    built = _built.get(key)
    if built is None:
        logs.configure(settings.log_level, node_id=settings.node_id)
        metrics.configure(settings.node_id)
        quiet_wire_loggers()
        from chalicelib.connections import sealing
        from chalicelib.store.models import bind

        bind(settings)
        # the KMS client is built when a connection key is first sealed or opened
        kms = Deferred(lambda: kms_client(settings.region))
        sealing.bind(sealing.KeySealer(kms, settings.resources.kms_key_arn))
        _built.clear()
        built = _built[key] = Root(settings=settings, providers=_current)
    return built


def quiet_wire_loggers() -> None:
    """Keep the AWS SDK's and PynamoDB's loggers at INFO or above (no wire bodies), and
    urllib3's redirects unlogged (no signed URLs)."""
    for name in WIRE_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(max(logger.getEffectiveLevel(), logging.INFO))
    for name in URL_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))


def reset() -> None:
    """Forget the settings and everything built from them (tests that change the
    environment call this)."""
    _built.clear()
    get_settings.cache_clear()


@contextmanager
def use_providers(replacement: Providers) -> Iterator[Providers]:
    """Install ``replacement`` for the duration of the block."""
    global _current
    previous, _current = _current, replacement
    try:
        yield replacement
    finally:
        _current = previous
