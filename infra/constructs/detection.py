"""The detect function: a container-image Lambda fed by the detect queue in batches.

The image is built from functions/detect/Dockerfile (the light runtime: OpenVINO, no torch) by the
CDK CLI when assets are published (`cdk deploy`), never at synth: synthesis only stages the (small,
allow-listed) build context. `DetectImage.code(artifact)` also builds the evaluate image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Aws, Duration, FileSystem, IgnoreMode, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk.aws_lambda_event_sources import SqsEventSource
from constructs import Construct

from infra.artifacts import DETECT_IMAGE, Artifact
from infra.checkov import skip_check
from infra.nag import suppress

IMAGE_MODELS_DIR = "/opt/skillforge/models"
MODELS_BUILD_CONTEXT = "models"
# Docker-style patterns (relative to the repository root): the image needs the function code and
# the pinned requirements, nothing else. Everything else stays out of the staged build context.
BUILD_CONTEXT_ALLOW = (
    "*",
    "!functions/",
    "!requirements-lambda.txt",
    "!requirements-lambda-light.txt",
    "!requirements-detect.txt",
    "!requirements-evaluate.txt",
    "!constraints.txt",
    "**/__pycache__",
    "**/*.pyc",
    "functions/core/base/CODE_VERSION",
)


@dataclass(frozen=True)
class DetectImage:
    """Where the detect image comes from: the repository, the model folder and the code version."""

    repo_root: Path
    models_dir: Path
    detector_model: str
    code_version: str

    @property
    def model_path(self) -> Path:
        return self.models_dir / self.detector_model

    def code(
        self, artifact: Artifact = DETECT_IMAGE, cmd: list[str] | None = None
    ) -> lambda_.DockerImageCode:
        """The image of `artifact` (its Dockerfile, its requirement set), with the detector model inside;
        `cmd` runs another handler of the same image."""
        model_path = self.model_path
        if artifact.dockerfile is None:
            raise ValueError(f"{artifact.name} is not an image artifact")
        return lambda_.DockerImageCode.from_image_asset(
            str(self.repo_root),
            file=artifact.dockerfile,
            platform=ecr_assets.Platform.LINUX_AMD64,
            build_args={
                "REQUIREMENTS": artifact.requirements,
                "CODE_VERSION": self.code_version,
                "DETECTOR_MODEL": self.detector_model,
                "MODELS_DIR": IMAGE_MODELS_DIR,
            },
            build_contexts={MODELS_BUILD_CONTEXT: str(model_path)},
            cmd=cmd,
            # The model folder is a second build context, which CDK does not fingerprint: hash it here
            # so a changed model rebuilds the image (absent folder: the build fails at deploy, not synth).
            extra_hash=FileSystem.fingerprint(str(model_path)) if model_path.is_dir() else "model-absent",
            exclude=list(BUILD_CONTEXT_ALLOW),
            ignore_mode=IgnoreMode.DOCKER,
        )


@dataclass(frozen=True)
class DetectSizing:
    memory_mb: int
    timeout_seconds: int
    batch_size: int
    max_batching_window_seconds: int
    max_concurrency: int
    reserved_concurrency: int | None
    log_retention: logs.RetentionDays
    removal_policy: RemovalPolicy


@dataclass(frozen=True)
class DetectorKnobs:
    """What the function's DetectorSettings read from the environment."""

    detector_model: str
    detector_version: int
    vehicle_classes: tuple[str, ...]
    confidence: float
    fallback_confidence: float
    log_level: str


class Detection(Construct):
    """detect: SQS batch → functions.detect.handler → crops, quarantine copies and catalog records.

    Grants are exactly what detect_and_catalog does: read raw objects, put crops and quarantine
    copies, get/put catalog items, plus sending to the detect DLQ. Partial batch failures are
    reported, so one bad record is retried alone; on its last receive (the queue's max receive
    count), or at once when it is not an S3 event, the function sends it to the DLQ with the reason
    in message attributes (an SQS event source has no on-failure destination; the queue's redrive
    policy, which moves a message without a reason, stays for timeouts and crashes).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        image: DetectImage,
        sizing: DetectSizing,
        knobs: DetectorKnobs,
        queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
        max_receive_count: int,
        raw_bucket: s3.IBucket,
        crops_bucket: s3.IBucket,
        quarantine_bucket: s3.IBucket,
        artifacts_bucket: s3.IBucket,
        table: dynamodb.ITable,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self, "Logs", retention=sizing.log_retention, removal_policy=sizing.removal_policy
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"skillforge {stage} detect function",
        )
        self.function = lambda_.DockerImageFunction(
            self,
            "Function",
            description=f"skillforge {stage}: YOLO car detection, crops and catalog",
            code=image.code(),
            architecture=lambda_.Architecture.X86_64,
            memory_size=sizing.memory_mb,
            timeout=Duration.seconds(sizing.timeout_seconds),
            reserved_concurrent_executions=sizing.reserved_concurrency,
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                "SKILLFORGE_STAGE": stage,
                "SKILLFORGE_AWS_REGION": Aws.REGION,
                "SKILLFORGE_RAW_BUCKET": raw_bucket.bucket_name,
                "SKILLFORGE_CROPS_BUCKET": crops_bucket.bucket_name,
                "SKILLFORGE_QUARANTINE_BUCKET": quarantine_bucket.bucket_name,
                "SKILLFORGE_ARTIFACTS_BUCKET": artifacts_bucket.bucket_name,
                "SKILLFORGE_CATALOG_TABLE": table.table_name,
                "SKILLFORGE_MODELS_DIR": IMAGE_MODELS_DIR,
                "SKILLFORGE_DETECTOR_MODEL": knobs.detector_model,
                "SKILLFORGE_DETECTOR_VERSION": str(knobs.detector_version),
                "SKILLFORGE_VEHICLE_CLASSES": ",".join(knobs.vehicle_classes),
                "SKILLFORGE_CONFIDENCE": str(knobs.confidence),
                "SKILLFORGE_FALLBACK_CONFIDENCE": str(knobs.fallback_confidence),
                "SKILLFORGE_DETECT_DLQ_URL": dead_letter_queue.queue_url,
                "SKILLFORGE_DETECT_MAX_RECEIVE_COUNT": str(max_receive_count),
                "POWERTOOLS_SERVICE_NAME": "skillforge-detect",
                "POWERTOOLS_METRICS_NAMESPACE": f"skillforge-{stage}",
                "POWERTOOLS_LOG_LEVEL": knobs.log_level,
            },
        )
        self._grant(raw_bucket, crops_bucket, quarantine_bucket, table)
        dead_letter_queue.grant_send_messages(self.role)  # a message given up on, with its reason
        skip_check(
            self.function,
            "CKV_AWS_116",
            "Fed by an SQS event source: the function sends a message it gives up on to the detect DLQ with "
            "the reason, and the queue's redrive policy keeps the rest (a function DLQ applies to "
            "asynchronous invokes only).",
        )
        self.function.add_event_source(
            SqsEventSource(
                queue,
                batch_size=sizing.batch_size,
                max_batching_window=Duration.seconds(sizing.max_batching_window_seconds),
                max_concurrency=sizing.max_concurrency,
                report_batch_item_failures=True,
            )
        )
        suppress(
            self.role,
            "AwsSolutions-IAM5",
            "X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions.",
            findings=["Resource::*"],
        )
        for bucket in (raw_bucket, crops_bucket, quarantine_bucket):
            suppress(
                self.role,
                "AwsSolutions-IAM5",
                "Object-level access to the keys of this one bucket: uploads and crops have "
                "data-driven keys; the actions are listed one by one (no s3:* and no action wildcard).",
                findings=[f"Resource::<{_logical_ref(bucket)}>/*"],
            )

    def _grant(
        self,
        raw_bucket: s3.IBucket,
        crops_bucket: s3.IBucket,
        quarantine_bucket: s3.IBucket,
        table: dynamodb.ITable,
    ) -> None:
        self.log_group.grant_write(self.role)
        statements = [
            # GetObject for the image; ListBucket so a deleted upload reads as NoSuchKey, not AccessDenied;
            # GetObjectTagging because a quarantine copy copies the object's tags.
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:GetObjectTagging"], resources=[raw_bucket.arn_for_objects("*")]
            ),
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[raw_bucket.bucket_arn]),
            iam.PolicyStatement(actions=["s3:PutObject"], resources=[crops_bucket.arn_for_objects("*")]),
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:PutObjectTagging"],
                resources=[quarantine_bucket.arn_for_objects("*")],
            ),
            iam.PolicyStatement(
                # BatchWriteItem: the crop records of one upload are written in one batch
                actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:BatchWriteItem"],
                resources=[table.table_arn],
            ),
        ]
        for statement in statements:
            self.role.add_to_policy(statement)


def _logical_ref(bucket: s3.IBucket) -> str:
    """How cdk-nag names a bucket ARN in IAM5 findings: `<LogicalId.Arn>`."""
    stack = Stack.of(bucket)
    return f"{stack.get_logical_id(bucket.node.default_child)}.Arn"  # type: ignore[arg-type]
