"""The embedded AWS counts what DynamoDB bills: a batch or a transaction per item."""

from __future__ import annotations

import io
import json

from devstack.aws import RequestCounter


def call(counter: RequestCounter, target: str, body: dict) -> bytes:
    raw = json.dumps(body).encode()
    seen = {}

    def app(environ, start_response):
        seen["body"] = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        start_response("200 OK", [])
        return [b"{}"]

    counter.app = app
    environ = {
        "HTTP_X_AMZ_TARGET": target,
        "CONTENT_LENGTH": str(len(raw)),
        "wsgi.input": io.BytesIO(raw),
        "PATH_INFO": "/",
    }
    counter(environ, lambda *a: None)
    return seen["body"]


def test_single_calls_count_one_and_batches_count_their_items():
    counter = RequestCounter(None)
    call(counter, "DynamoDB_20120810.PutItem", {"TableName": "t", "Item": {}})
    forwarded = call(
        counter,
        "DynamoDB_20120810.BatchWriteItem",
        {"RequestItems": {"t": [{"PutRequest": {}}] * 3, "u": [{"DeleteRequest": {}}]}},
    )
    call(counter, "DynamoDB_20120810.BatchGetItem", {"RequestItems": {"t": {"Keys": [{}, {}]}}})
    call(counter, "DynamoDB_20120810.TransactWriteItems", {"TransactItems": [{}, {}]})
    counts = counter.snapshot()
    assert counts["dynamodb.PutItem"] == 1
    assert counts["dynamodb.BatchWriteItem"] == 4
    assert counts["dynamodb.BatchGetItem"] == 2
    assert counts["dynamodb.TransactWriteItems"] == 4  # a transaction's item is billed twice
    assert json.loads(forwarded)["RequestItems"]["u"] == [{"DeleteRequest": {}}]  # body intact
