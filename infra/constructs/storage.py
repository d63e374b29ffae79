"""The pipeline's buckets: raw uploads, crops, quarantine, artifacts, and their access-log bucket."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from functions.core.base.resources import ResourceNames
from infra.checkov import skip_check

_ABORT_MULTIPART = Duration.days(7)


@dataclass(frozen=True)
class StorageRetention:
    """How long object versions, quarantined images and access logs are kept."""

    noncurrent_version_days: int
    quarantine_days: int
    access_log_days: int


class Storage(Construct):
    """Private, encrypted, SSL-only buckets; data buckets are retained when the stack is deleted.

    Raw uploads and artifacts are versioned (they are the data); crops can be regenerated from
    raw images, quarantined copies expire. Every bucket logs its requests to `access_logs`.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, names: ResourceNames, retention: StorageRetention
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,  # the only encryption S3 log delivery supports
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(retention.access_log_days),
                    abort_incomplete_multipart_upload_after=_ABORT_MULTIPART,
                )
            ],
        )
        noncurrent = s3.LifecycleRule(
            id="expire-old-versions",
            noncurrent_version_expiration=Duration.days(retention.noncurrent_version_days),
            abort_incomplete_multipart_upload_after=_ABORT_MULTIPART,
        )
        self.raw = self._bucket("Raw", names.raw_bucket, versioned=True, rules=[noncurrent])
        self.crops = self._bucket("Crops", names.crops_bucket, versioned=False, rules=[])
        self.quarantine = self._bucket(
            "Quarantine",
            names.quarantine_bucket,
            versioned=False,
            rules=[
                s3.LifecycleRule(
                    id="expire-quarantined-copies",
                    expiration=Duration.days(retention.quarantine_days),
                    abort_incomplete_multipart_upload_after=_ABORT_MULTIPART,
                )
            ],
        )
        self.artifacts = self._bucket("Artifacts", names.artifacts_bucket, versioned=True, rules=[noncurrent])
        self._acknowledge()

    def _acknowledge(self) -> None:
        skip_check(
            self.access_logs, "CKV_AWS_18", "This is the access-log bucket: logging it to itself loops."
        )
        skip_check(
            self.access_logs, "CKV_AWS_21", "Access logs are written once and expire; no versions to keep."
        )
        skip_check(
            self.crops, "CKV_AWS_21", "Crops are derived data, re-created from the versioned raw uploads."
        )
        skip_check(
            self.quarantine,
            "CKV_AWS_21",
            "Quarantined copies expire (quarantineExpiryDays); the raw original stays versioned.",
        )

    @property
    def data_buckets(self) -> list[s3.Bucket]:
        return [self.raw, self.crops, self.quarantine, self.artifacts]

    def _bucket(
        self, construct_id: str, name: str, *, versioned: bool, rules: list[s3.LifecycleRule]
    ) -> s3.Bucket:
        if not rules:
            rules = [
                s3.LifecycleRule(
                    id="abort-incomplete-uploads", abort_incomplete_multipart_upload_after=_ABORT_MULTIPART
                )
            ]
        return s3.Bucket(
            self,
            construct_id,
            bucket_name=name,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=versioned,
            lifecycle_rules=rules,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=f"{construct_id.lower()}/",
            removal_policy=RemovalPolicy.RETAIN,
        )
