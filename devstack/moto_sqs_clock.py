"""One clock reading per queue scan in the embedded AWS's SQS (moto 5.2.5).

moto's ``Queue.messages`` asks each message whether it is visible and not delayed, and each
of those questions reads the clock (``utcnow`` → ``datetime`` arithmetic): about 4 µs a
message. ``SendMessage`` on a FIFO queue builds ``Queue.attributes`` up to three times,
and each build counts the messages twice, so one send costs about 25 µs per message already
in the queue. With a few thousand messages waiting (the 2,000-change soak), the embedded
AWS spent most of a core on clock reads and drained about 75 messages a minute.

The replacement reads the clock once per scan and compares numbers; what a scan returns is
unchanged (the same rule, ``visible_at < now`` and ``delayed_until <= now``, at one instant
instead of a few microseconds apart). Only the local stack's server process installs it:
tests using ``mock_aws`` in-process keep moto as it is.
"""

from __future__ import annotations

from typing import Any

_INSTALLED = False


def _now() -> float:
    from moto.core.utils import unix_time_millis

    return unix_time_millis()


def visible_messages(queue: Any) -> list[Any]:
    """``Queue.messages``: visible and not delayed, at one instant."""
    now = _now()
    return [m for m in queue._messages if m.visible_at < now and m.delayed_until <= now]


def count_visible(queue: Any) -> int:
    return len(visible_messages(queue))


def count_not_visible(queue: Any) -> int:
    now = _now()
    return sum(1 for m in queue._messages if not m.visible_at < now)


def count_delayed(queue: Any) -> int:
    now = _now()
    return sum(1 for m in queue._messages if m.delayed_until > now)


def install() -> None:
    """Patch moto's SQS queue scans in this process (idempotent)."""
    global _INSTALLED
    if _INSTALLED:
        return
    from moto.sqs.models import Queue

    Queue.messages = property(visible_messages)  # type: ignore[method-assign,assignment]
    Queue.approximate_number_of_messages = property(count_visible)  # type: ignore[method-assign,assignment]
    Queue.approximate_number_of_messages_not_visible = property(count_not_visible)  # type: ignore[method-assign,assignment]
    Queue.approximate_number_of_messages_delayed = property(count_delayed)  # type: ignore[method-assign,assignment]
    _INSTALLED = True
