"""One skillforge stage: storage, catalog, ingest → detection, monitoring.

Later capabilities (labelling, review, training, notifications) are constructs that take the
resources they need from this stack's attributes: `raw_bucket`, `crops_bucket`, `quarantine_bucket`,
`artifacts_bucket`, `catalog_table`, `alarm_topic`, and `monitoring` to add their own alarms.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Aws, Duration, RemovalPolicy, Stack, Tags
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from functions.core.resources import ResourceNames
from infra.config import LOG_RETENTION_DAYS, StageConfig
from infra.constructs.catalog import Catalog
from infra.constructs.detection import DetectImage, Detection, DetectorKnobs, DetectSizing
from infra.constructs.ingest import Ingest, QueueSettings
from infra.constructs.monitoring import Monitoring
from infra.constructs.storage import Storage, StorageRetention
from infra.nag import suppress

CLOUD_NAME_SUFFIX = f"{Aws.ACCOUNT_ID}-{Aws.REGION}"


def cloud_names(stage: str) -> ResourceNames:
    """The stage's resource names in the cloud: the shared naming rule, buckets suffixed account-region."""
    return ResourceNames(stage=stage, suffix=CLOUD_NAME_SUFFIX)


def stack_name(stage: str) -> str:
    return f"skillforge-{stage}"


class SkillforgeStack(Stack):
    """The foundation of one stage (see DESIGN.md): upload → detect → crops + catalog, alarms."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        config: StageConfig,
        repo_root: Path,
        models_dir: Path,
        code_version: str,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        Tags.of(self).add("project", "skillforge")
        Tags.of(self).add("stage", stage)
        self.stage_name = stage
        self.config = config
        self.names = cloud_names(stage)
        removal = RemovalPolicy.DESTROY if config.removal_policy == "destroy" else RemovalPolicy.RETAIN

        self.storage = Storage(
            self,
            "Storage",
            names=self.names,
            retention=StorageRetention(
                noncurrent_version_days=config.noncurrent_version_expiry_days,
                quarantine_days=config.quarantine_expiry_days,
                access_log_days=config.access_log_expiry_days,
            ),
        )
        self.catalog = Catalog(self, "Catalog", table_name=self.names.catalog_table)
        self.monitoring = Monitoring(
            self, "Monitoring", alarm_email=config.alarm_email, removal_policy=removal
        )
        self.ingest = Ingest(
            self,
            "Ingest",
            raw_bucket=self.raw_bucket,
            settings=QueueSettings(
                queue_name=self.names.detect_queue,
                dlq_name=self.names.detect_dlq,
                visibility_timeout_seconds=config.queue_visibility_timeout_seconds,
                max_receive_count=config.detect_max_receive_count,
                removal_policy=removal,
            ),
        )
        self.detection = Detection(
            self,
            "Detection",
            stage=stage,
            image=DetectImage(
                repo_root=repo_root,
                models_dir=models_dir,
                detector_model=config.detector_model,
                code_version=code_version,
            ),
            sizing=DetectSizing(
                memory_mb=config.detect_memory_mb,
                timeout_seconds=config.detect_timeout_seconds,
                batch_size=config.detect_batch_size,
                max_batching_window_seconds=config.detect_max_batching_window_seconds,
                max_concurrency=config.detect_max_concurrency,
                reserved_concurrency=config.detect_reserved_concurrency,
                log_retention=logs.RetentionDays[LOG_RETENTION_DAYS[config.log_retention_days]],
                removal_policy=removal,
            ),
            knobs=DetectorKnobs(
                detector_model=config.detector_model,
                detector_version=config.detector_version,
                vehicle_classes=tuple(config.vehicle_classes),
                confidence=config.confidence,
                log_level=config.log_level,
            ),
            queue=self.ingest.queue,
            raw_bucket=self.raw_bucket,
            crops_bucket=self.crops_bucket,
            quarantine_bucket=self.quarantine_bucket,
            artifacts_bucket=self.artifacts_bucket,
            table=self.catalog_table,
        )
        self.monitoring.watch_dead_letter_queue("DetectDlqAlarm", self.ingest.dlq, "detect")
        self.monitoring.watch_function_errors("DetectErrorsAlarm", self.detection.function, "detect")
        self.monitoring.watch_queue_age(
            "DetectBacklogAlarm",
            self.ingest.queue,
            "detect",
            max_age=Duration.seconds(2 * config.queue_visibility_timeout_seconds),
        )
        self._acknowledge_cdk_internals()

    @property
    def raw_bucket(self) -> s3.Bucket:
        return self.storage.raw

    @property
    def crops_bucket(self) -> s3.Bucket:
        return self.storage.crops

    @property
    def quarantine_bucket(self) -> s3.Bucket:
        return self.storage.quarantine

    @property
    def artifacts_bucket(self) -> s3.Bucket:
        return self.storage.artifacts

    @property
    def catalog_table(self) -> dynamodb.Table:
        return self.catalog.table

    @property
    def alarm_topic(self) -> sns.Topic:
        return self.monitoring.topic

    def _acknowledge_cdk_internals(self) -> None:
        """Findings on resources CDK itself adds (the S3-notification custom-resource handler)."""
        handler = self.node.try_find_child("BucketNotificationsHandler050a0587b7544547bf325f094a3db834")
        if handler is None:
            return
        suppress(
            handler,
            "AwsSolutions-IAM4",
            "CDK's built-in BucketNotificationsHandler uses the AWS-managed basic execution policy "
            "(CloudWatch Logs only); it runs once per deployment to configure S3 notifications.",
            findings=[
                "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
            ],
        )
