"""Structured logs: one JSON line per event, with the unit of work's correlation keys.

Chalice configures the logger named after the app (``twinsync``) at ERROR without
propagation, so every ``twinsync.*`` info line used to vanish. :func:`configure` takes that
logger over with Powertools' ``Logger``: one JSON object per line on stdout (CloudWatch
Logs in Lambda; ``.devstack/logs/<node>.jsonl`` on the local stack), at the level the stage
names (``TWINSYNC_LOG_LEVEL``). Modules keep logging through the standard
``logging.getLogger("twinsync.<part>")``; their records propagate to it.

A line carries ``level``, ``location``, ``message``, ``timestamp``, ``service``, ``logger``,
``node`` (the node id), the keys of the unit of work it belongs to (:func:`context`:
``request_id``, ``function``, ``message_id``, ``connection_id``, ``issue_key``,
``replica_id``, ``job_id``…) and whatever the call passes as ``extra`` (``event``,
``outcome``, ``duration_ms``…). Keys are per thread (a context variable), so the local
stack's threads do not mix them.

No secret is logged: callers log ids, keys, names and outcomes, never tokens, keys,
invitation codes, webhook secrets or bodies. :func:`redact` masks a value that might hold
one (a URL with credentials in it).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import IO, Any

SERVICE = "twinsync"

# Correlation keys a unit of work may carry (anything else is dropped from a context).
CORRELATION_KEYS = (
    "request_id",
    "function",
    "stage",
    "message_id",
    "connection_id",
    "issue_key",
    "local_key",
    "remote_key",
    "replica_id",
    "seq",
    "job_id",
    "trigger_id",
    "delivery_id",
)

_KEYS: ContextVar[dict[str, Any]] = ContextVar("twinsync_log_keys")
_state: dict[str, Any] = {}


class _CorrelationFilter(logging.Filter):
    """Puts this thread's correlation keys on each record (Powertools writes a record's
    extra attributes as keys); a key the call passed itself wins."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.logger = record.name
        for key, value in _KEYS.get({}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class _Stdout(logging.StreamHandler):
    """A stream handler on whatever ``sys.stdout`` is when a line is written (a test's
    capture replaces it; a handler bound once would write to a closed file)."""

    @property
    def stream(self) -> IO[str]:
        return sys.stdout

    @stream.setter
    def stream(self, value: IO[str]) -> None:
        pass


def _powertools_logger(stream: IO[str] | None) -> Any:
    from aws_lambda_powertools.logging import Logger

    app_logger = logging.getLogger(SERVICE)
    for handler in list(app_logger.handlers):
        if type(handler) is logging.StreamHandler:  # Chalice's plain-text one (not a listener)
            app_logger.removeHandler(handler)
    logger = Logger(
        service=SERVICE,
        logger_handler=logging.StreamHandler(stream) if stream is not None else _Stdout(),
        utc=True,
        use_rfc3339=True,
        log_record_order=["timestamp", "level", "message", "logger"],
    )
    logger.registered_handler.addFilter(_CorrelationFilter())
    app_logger.propagate = False  # one line per record: Lambda's root handler would repeat it
    return logger


def configure(level: str, *, node_id: str | None = None, stream: IO[str] | None = None) -> None:
    """Make the ``twinsync`` loggers write JSON lines at ``level``; called by the
    composition root on each (re)build, and first by the local stack with its log file.

    The first call chooses where lines go (``stream``, or stdout); later calls set the
    level and the node.
    """
    logger = _state.get("logger")
    if logger is None:
        logger = _state["logger"] = _powertools_logger(stream)
    logging.getLogger(SERVICE).setLevel(_level(level))
    if node_id:
        logger.append_keys(node=node_id)


def _level(name: str) -> int:
    value = logging.getLevelName(name.upper())
    return value if isinstance(value, int) else logging.INFO


def _chosen(keys: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in keys.items() if k in CORRELATION_KEYS and v not in (None, "")}


def current_keys() -> dict[str, Any]:
    """The correlation keys of this thread's unit of work."""
    return dict(_KEYS.get({}))


@contextmanager
def context(**keys: Any) -> Iterator[dict[str, Any]]:
    """Attach ``keys`` (those of :data:`CORRELATION_KEYS` that are not ``None``) to every
    line logged in this thread inside the block; the keys before it come back after it."""
    token = _KEYS.set({**_KEYS.get({}), **_chosen(keys)})
    try:
        yield _KEYS.get({})
    finally:
        _KEYS.reset(token)


def bind(**keys: Any) -> None:
    """Add keys to the current unit of work once they are known (e.g. a job's connection);
    the enclosing :func:`context` drops them when it ends."""
    _KEYS.set({**_KEYS.get({}), **_chosen(keys)})


def keys_of(body: Mapping[str, Any]) -> dict[str, Any]:
    """The correlation keys found in a queue message's body (ids only, never content)."""
    found: dict[str, Any] = {}
    for name in CORRELATION_KEYS:
        value = body.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool):
            found[name] = value
    return found


_CREDENTIALS_IN_URL = re.compile(r"(?<=://)[^/@\s]+@")


def redact(text: str) -> str:
    """``text`` without credentials in URLs (``https://user:pw@host`` → ``https://***@host``)."""
    return _CREDENTIALS_IN_URL.sub("***@", text)
