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


DEFAULT_PRESIGN_EXPIRY_S = 900  # 15 minutes
MAX_PRESIGN_EXPIRY_S = 3600  # a presigned URL is a bearer credential: never valid longer than 1 hour


def checked_presign_expiry(expires_s: int) -> int:
    """The lifetime of a presigned URL, refused unless 1 s ≤ expires_s ≤ MAX_PRESIGN_EXPIRY_S."""
    if isinstance(expires_s, bool) or not isinstance(expires_s, int):
        raise ValueError(f"presigned URL expiry must be whole seconds, got {expires_s!r}")
    if not 1 <= expires_s <= MAX_PRESIGN_EXPIRY_S:
        raise ValueError(
            f"presigned URL expiry must be between 1 and {MAX_PRESIGN_EXPIRY_S} seconds, got {expires_s}"
        )
    return expires_s


class ObjectMissingError(KeyError):
    """The object is not (or no longer) in the bucket."""


class BlobStore:
    def __init__(self, s3_client: Any, presign_expiry_s: int = DEFAULT_PRESIGN_EXPIRY_S) -> None:
        self.s3 = s3_client
        self.presign_expiry_s = checked_presign_expiry(presign_expiry_s)

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

    def etag(self, bucket: str, key: str) -> str | None:
        """The object's current ETag (HEAD), None when it does not exist."""
        try:
            response = self.s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in {"NoSuchKey", "404", "NotFound"}:
                return None
            raise
        return str(response.get("ETag", "")).strip('"') or None

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

    def presign_get(self, bucket: str, key: str, expires_s: int | None = None) -> str:
        """A GET URL valid for `expires_s` (default: the store's, 15 minutes), at most one hour."""
        expiry = self.presign_expiry_s if expires_s is None else checked_presign_expiry(expires_s)
        url: str = self.s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expiry
        )
        return url
