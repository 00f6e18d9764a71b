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


def test_the_embedded_aws_counts_the_write_units_a_write_bills():
    """A small change to a big item bills the whole item, and again in an index that
    projects every attribute; a keys-only index is not written when its keys stay."""
    import boto3

    from devstack.aws import WRITE_UNITS, MotoProcess

    moto = MotoProcess()
    try:
        db = boto3.client(
            "dynamodb",
            region_name="us-east-1",
            endpoint_url=moto.endpoint,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        keys = [{"AttributeName": "pk", "AttributeType": "S"}]
        for name, projection in (("everything", "ALL"), ("keys", "KEYS_ONLY")):
            db.create_table(
                TableName=name,
                AttributeDefinitions=[*keys, {"AttributeName": "other", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                BillingMode="PAY_PER_REQUEST",
                GlobalSecondaryIndexes=[
                    {
                        "IndexName": "by_other",
                        "KeySchema": [{"AttributeName": "other", "KeyType": "HASH"}],
                        "Projection": {"ProjectionType": projection},
                    }
                ],
            )
        before = moto.counter.snapshot()
        for name in ("everything", "keys"):
            item = {"pk": {"S": "1"}, "other": {"S": "o"}, "blob": {"S": "x" * 2500}}
            db.put_item(TableName=name, Item=item)  # 3 units, and 3 or 1 in the index
            db.update_item(  # 3 units, and 3 or none in the index
                TableName=name,
                Key={"pk": {"S": "1"}},
                UpdateExpression="SET lease = :l",
                ExpressionAttributeValues={":l": {"S": "now"}},
            )
        counted = moto.counter.snapshot() - before
    finally:
        moto.stop()
    assert counted["dynamodb.PutItem"] == 2 and counted["dynamodb.UpdateItem"] == 2
    assert counted[WRITE_UNITS + "dynamodb.PutItem"] == (3 + 3) + (3 + 1)
    assert counted[WRITE_UNITS + "dynamodb.UpdateItem"] == (3 + 3) + 3
