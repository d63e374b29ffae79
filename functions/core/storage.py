"""Thin S3 adapter: the only place that knows the S3 API shapes used by the domain."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError


@dataclass(frozen=True)
class StoredObject:
    data: bytes
    metadata: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    content_type: str | None = None


class ObjectMissingError(KeyError):
    """The object is not (or no longer) in the bucket."""


class BlobStore:
    def __init__(self, s3_client: Any) -> None:
        self.s3 = s3_client

    def get(self, bucket: str, key: str) -> StoredObject:
        try:
            response = self.s3.get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in {"NoSuchKey", "404", "NotFound"}:
                raise ObjectMissingError(f"s3://{bucket}/{key}") from exc
            raise
        return StoredObject(
            data=response["Body"].read(),
            metadata={k.lower(): v for k, v in response.get("Metadata", {}).items()},
            etag=str(response.get("ETag", "")).strip('"') or None,
            content_type=response.get("ContentType"),
        )

    def put(
        self,
        bucket: str,
        key: str,
        data: bytes,
        content_type: str = "application/octet-stream",
        metadata: dict[str, str] | None = None,
    ) -> None:
        self.s3.put_object(
            Bucket=bucket, Key=key, Body=data, ContentType=content_type, Metadata=metadata or {}
        )

    def copy(
        self, source_bucket: str, source_key: str, bucket: str, key: str, metadata: dict[str, str]
    ) -> None:
        self.s3.copy_object(
            Bucket=bucket,
            Key=key,
            CopySource={"Bucket": source_bucket, "Key": source_key},
            Metadata=metadata,
            MetadataDirective="REPLACE",
        )

    def exists(self, bucket: str, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in {"NoSuchKey", "404", "NotFound"}:
                return False
            raise
        return True

    def list_keys(self, bucket: str, prefix: str = "") -> list[str]:
        keys: list[str] = []
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        return keys

    def presign_get(self, bucket: str, key: str, expires_s: int = 900) -> str:
        url: str = self.s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_s
        )
        return url
