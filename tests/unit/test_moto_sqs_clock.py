"""The embedded AWS's faster SQS scans answer what moto's own scans answer."""

from __future__ import annotations

from moto.core.utils import unix_time_millis
from moto.sqs.models import Message, Queue

from devstack import moto_sqs_clock

HOUR_MS = 3_600_000.0


def queue_with_every_kind_of_message() -> Queue:
    queue = Queue("q", "123456789012", "us-east-1")
    now = unix_time_millis()
    kinds = [  # (visible_at, delayed_until): ready, in flight, delayed, both, was in flight
        (0.0, 0.0),
        (now + HOUR_MS, 0.0),
        (0.0, now + HOUR_MS),
        (now + HOUR_MS, now + HOUR_MS),
        (now - HOUR_MS, now - HOUR_MS),
    ]
    for i, (visible_at, delayed_until) in enumerate(kinds * 3):
        message = Message(f"m{i}", f"body {i}")
        message.visible_at, message.delayed_until = visible_at, delayed_until
        queue._messages.append(message)
    return queue


def test_the_scans_match_moto_s_own() -> None:
    queue = queue_with_every_kind_of_message()
    assert moto_sqs_clock.visible_messages(queue) == queue.messages
    assert moto_sqs_clock.count_visible(queue) == queue.approximate_number_of_messages == 6
    assert (
        moto_sqs_clock.count_not_visible(queue)
        == queue.approximate_number_of_messages_not_visible
        == 6
    )
    assert moto_sqs_clock.count_delayed(queue) == queue.approximate_number_of_messages_delayed == 6
