"""SQS records as Lambda's event source mapping hands them to a queue handler.

The one place tests build them (as Powertools' test factories do): ``sqs_record`` gives a
record with a fresh ``messageId``, ``sqs_event`` wraps records as the handler's event, and
``queue_message`` is a record parsed the way the app parses it at the edge.

A record has no receipt handle unless one is given: it was not received from a real queue,
so nothing tries to change its visibility.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

REGION = "us-east-1"
ACCOUNT = "123456789012"


def sqs_record(
    body: Mapping[str, Any] | str,
    *,
    group: str | None = None,
    dedup: str | None = None,
    receive_count: int = 1,
    queue: str = "twinsync-ingest.fifo",
    receipt_handle: str = "",
) -> dict[str, Any]:
    """One record; ``body`` (a mapping is sent as JSON) from ``queue`` in message ``group``."""
    text = body if isinstance(body, str) else json.dumps(body)
    now = str(int(time.time() * 1000))
    attributes = {
        "ApproximateReceiveCount": str(receive_count),
        "SentTimestamp": now,
        "SenderId": "AIDAEXAMPLE",
        "ApproximateFirstReceiveTimestamp": now,
    }
    if group is not None:
        attributes["MessageGroupId"] = group
    if dedup is not None:
        attributes["MessageDeduplicationId"] = dedup
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": receipt_handle,
        "body": text,
        "attributes": attributes,
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(text.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}",
        "awsRegion": REGION,
    }


def sqs_event(*records: Mapping[str, Any]) -> dict[str, Any]:
    """The event a queue handler gets for ``records``."""
    return {"Records": [dict(r) for r in records]}


def queue_message(body: Mapping[str, Any] | str, **options: Any) -> Any:
    """A record (as :func:`sqs_record` takes ``options``) parsed as the app parses it."""
    from chalicelib.queues import parse_records

    (message,) = parse_records([sqs_record(body, **options)])
    return message
