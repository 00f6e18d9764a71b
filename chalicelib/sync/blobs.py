"""Attachment bytes in S3: they travel through presigned URLs, never inside a message."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

PRESIGN_SECONDS = 900


class BlobStore:
    """One bucket of this node's: ``out/`` holds what we offer, ``in/`` what a peer gave us."""

    def __init__(self, bucket: str, *, client: Any) -> None:
        self.bucket = bucket
        self.client = client

    def put(self, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes | None:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except Exception:  # botocore ClientError 404
            return False
        return True

    def presign_get(self, key: str) -> str:
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=PRESIGN_SECONDS
        )

    def presign_put(self, key: str) -> str:
        return self.client.generate_presigned_url(
            "put_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=PRESIGN_SECONDS
        )


def outgoing_key(connection_id: str, attachment_id: str) -> str:
    return f"out/{connection_id}/{attachment_id}"


def incoming_key(connection_id: str, attachment_id: str) -> str:
    return f"in/{connection_id}/{attachment_id}"


@lru_cache(maxsize=2)
def s3_client(region: str) -> Any:
    from botocore.config import Config

    from chalicelib import aws_clients

    return aws_clients.client("s3", region=region, config=Config(signature_version="s3v4"))
