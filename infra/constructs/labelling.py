"""Crowd labelling: scheduled hand-off → Ground Truth job (pre/post Lambdas, its own role) → import.

Takes the resources it needs (crops and artifacts buckets, catalog table, function code) so it can be
synthesized alone. Functions are thin zip Lambdas running functions/<name>/handler.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from functions.core.base.resources import (
    LABELLING_JOB_STATE_CHANGE,
    LABELLING_JOBS_PREFIX,
    LABELLING_OUTPUT_PREFIX,
    LABELLING_TEMPLATES_PREFIX,
    STATUS_INDEX,
)
from functions.core.base.schedules import HANDOFF, HANDOFF_EVERY_MINUTES
from infra.checkov import skip_check
from infra.constructs.python_code import FunctionDefaults, zip_function
from infra.grants import allow, allow_items, allow_objects
from infra.nag import acknowledge_function_basics, acknowledge_resources, nag_resource, suppress
from infra.schedules import event_schedule

JOBS_PREFIX, TEMPLATES_PREFIX, OUTPUT_PREFIX = (
    LABELLING_JOBS_PREFIX,
    LABELLING_TEMPLATES_PREFIX,
    LABELLING_OUTPUT_PREFIX,
)


@dataclass(frozen=True)
class LabellingConfig:
    """Deploy-time labelling knobs (the functions read them as SKILLFORGE_LABELLING_*)."""

    workforce: str = "public"  # or "private" with workteam_arn
    workteam_arn: str | None = None
    workers_per_crop: int = 3
    seconds_per_task: float = 3.0
    hourly_rate_usd: float = 15.0
    batch_size: int = 1000
    max_age_minutes: float = 60.0
    jobs_per_run: int = 10
    handoff_every_minutes: int = HANDOFF_EVERY_MINUTES
    task_time_limit_s: int = 120
    task_availability_s: int = 6 * 3600

    def __post_init__(self) -> None:
        if self.workforce not in {"public", "private"}:
            raise ValueError(f"labelling workforce must be 'public' or 'private', not {self.workforce!r}")
        if self.workforce == "private" and not self.workteam_arn:
            raise ValueError("labelling workteam_arn is required for a private workforce")


class Labelling(Construct):
    """hand-off (schedule) · gt-pre · gt-post · label-import (EventBridge, DLQ) · the Ground Truth role."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        defaults: FunctionDefaults,
        config: LabellingConfig,
        crops_bucket: s3.IBucket,
        artifacts_bucket: s3.IBucket,
        table: dynamodb.ITable,
    ) -> None:
        super().__init__(scope, construct_id)
        self.defaults = defaults
        self.config = config
        self.job_prefix = f"skillforge-{defaults.stage}"
        self.labeling_jobs = Stack.of(self).format_arn(
            service="sagemaker", resource="labeling-job", resource_name=f"{self.job_prefix}-*"
        )
        self.common_environment = {
            "SKILLFORGE_CROPS_BUCKET": crops_bucket.bucket_name,
            "SKILLFORGE_ARTIFACTS_BUCKET": artifacts_bucket.bucket_name,
            "SKILLFORGE_CATALOG_TABLE": table.table_name,
        }
        self._annotation_functions(crops_bucket, artifacts_bucket)
        self._ground_truth_role(crops_bucket, artifacts_bucket)
        self.dead_letter_queue = self._dead_letter_queue()
        self._handoff(artifacts_bucket, table)
        self._label_import(artifacts_bucket, table)
        # A raised import (unreadable lines) is retried by Lambda's async invoke, then kept in the DLQ.
        for function in (self.import_function, self.handoff_function):
            function.configure_async_invoke(
                retry_attempts=2,
                max_event_age=Duration.hours(6),
                on_failure=destinations.SqsDestination(self.dead_letter_queue),
            )
            skip_check(
                function,
                "CKV_AWS_116",
                "Failed asynchronous invokes go to the labelling DLQ through an on-failure destination "
                "(EventInvokeConfig), which this check does not read.",
            )
        for function in (self.pre_function, self.post_function):
            skip_check(
                function,
                "CKV_AWS_116",
                "Invoked synchronously by Ground Truth, which retries and records the failure in the job.",
            )
        self._acknowledge(crops_bucket, artifacts_bucket, table, self.labeling_jobs)

    def _annotation_functions(self, crops_bucket: s3.IBucket, artifacts_bucket: s3.IBucket) -> None:
        """gt-pre (crop → task input) and gt-post (consolidation), both invoked by Ground Truth."""
        self.pre_function = zip_function(
            self,
            "PreAnnotation",
            module="gt_pre",
            description="Ground Truth pre-annotation (crop → task input)",
            defaults=self.defaults,
            environment={"SKILLFORGE_CROPS_BUCKET": crops_bucket.bucket_name},
            timeout=Duration.seconds(10),
            memory_mb=256,
        )
        self.post_function = zip_function(
            self,
            "PostAnnotation",
            module="gt_post",
            description="Ground Truth consolidation (majority vote per crop)",
            defaults=self.defaults,
            environment=self.common_environment,
            timeout=Duration.seconds(300),
        )
        # The consolidation request Ground Truth writes under the job's output path.
        allow_objects(self.post_function, ["s3:GetObject"], artifacts_bucket, OUTPUT_PREFIX)

    def _ground_truth_role(self, crops_bucket: s3.IBucket, artifacts_bucket: s3.IBucket) -> None:
        """The role Ground Truth assumes: read the manifest and crops (it presigns crop URLs for workers
        with grant_read_access), write the output, invoke the two Lambdas, write its own logs."""
        role = self.ground_truth_role = iam.Role(
            self,
            "GroundTruthRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"skillforge {self.defaults.stage}: Ground Truth labelling jobs",
        )
        allow_objects(role, ["s3:GetObject"], crops_bucket, "")
        allow_objects(role, ["s3:GetObject"], artifacts_bucket, JOBS_PREFIX)
        allow_objects(role, ["s3:GetObject"], artifacts_bucket, TEMPLATES_PREFIX)
        allow_objects(role, ["s3:GetObject", "s3:PutObject"], artifacts_bucket, OUTPUT_PREFIX)
        allow(
            role,
            ["s3:ListBucket", "s3:GetBucketLocation"],
            [crops_bucket.bucket_arn, artifacts_bucket.bucket_arn],
        )
        self.pre_function.grant_invoke(role)
        self.post_function.grant_invoke(role)
        self.ground_truth_logs = Stack.of(self).format_arn(
            service="logs",
            resource="log-group",
            resource_name="/aws/sagemaker/LabelingJobs*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.ground_truth_logs],
            )
        )

    def _dead_letter_queue(self) -> sqs.Queue:
        queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=self.defaults.removal_policy,
        )
        suppress(
            queue,
            "AwsSolutions-SQS3",
            "This queue is the dead-letter queue of the hand-off and import events.",
        )
        return queue

    def _handoff_environment(self) -> dict[str, str]:
        config = self.config
        environment = {
            **self.common_environment,
            "SKILLFORGE_LABELLING_WORKFORCE": config.workforce,
            "SKILLFORGE_LABELLING_ROLE_ARN": self.ground_truth_role.role_arn,
            "SKILLFORGE_LABELLING_PRE_LAMBDA_ARN": self.pre_function.function_arn,
            "SKILLFORGE_LABELLING_POST_LAMBDA_ARN": self.post_function.function_arn,
            "SKILLFORGE_LABELLING_WORKERS_PER_CROP": str(config.workers_per_crop),
            "SKILLFORGE_LABELLING_SECONDS_PER_TASK": str(config.seconds_per_task),
            "SKILLFORGE_LABELLING_HOURLY_RATE_USD": str(config.hourly_rate_usd),
            "SKILLFORGE_LABELLING_BATCH_SIZE": str(config.batch_size),
            "SKILLFORGE_LABELLING_MAX_AGE_MINUTES": str(config.max_age_minutes),
            "SKILLFORGE_LABELLING_JOBS_PER_RUN": str(config.jobs_per_run),
            "SKILLFORGE_LABELLING_TASK_TIME_LIMIT_S": str(config.task_time_limit_s),
            "SKILLFORGE_LABELLING_TASK_AVAILABILITY_S": str(config.task_availability_s),
            "SKILLFORGE_LABELLING_JOB_PREFIX": self.job_prefix,
        }
        if config.workteam_arn:
            environment["SKILLFORGE_LABELLING_WORKTEAM_ARN"] = config.workteam_arn
        return environment

    def _handoff(self, artifacts_bucket: s3.IBucket, table: dynamodb.ITable) -> None:
        """The scheduled hand-off: waiting crops → a Ground Truth labelling job."""
        function = self.handoff_function = zip_function(
            self,
            "Handoff",
            module="handoff",
            description="crops → Ground Truth labelling job (batched by size or age)",
            defaults=self.defaults,
            environment=self._handoff_environment(),
            timeout=Duration.seconds(300),
        )
        # New crops from the status index, a consistent re-read, then new → labelling (conditional put).
        allow_items(function, ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem"], table)
        allow_objects(function, ["s3:PutObject"], artifacts_bucket, JOBS_PREFIX)
        # The template is uploaded once per version: HEAD (GetObject; ListBucket makes a missing key a
        # 404, not a 403), then PutObject.
        allow_objects(function, ["s3:GetObject", "s3:PutObject"], artifacts_bucket, TEMPLATES_PREFIX)
        allow(function, ["s3:ListBucket"], [artifacts_bucket.bucket_arn])
        allow(function, ["sagemaker:CreateLabelingJob", "sagemaker:AddTags"], [self.labeling_jobs])
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.ground_truth_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        every = self.config.handoff_every_minutes
        self.schedule = events.Rule(
            self,
            "HandoffSchedule",
            description=f"skillforge {self.defaults.stage}: {HANDOFF.description}",
            schedule=event_schedule(HANDOFF, every),
            targets=[
                targets.LambdaFunction(
                    function,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=2,
                    max_event_age=Duration.minutes(every),
                )
            ],
        )

    def _label_import(self, artifacts_bucket: s3.IBucket, table: dynamodb.ITable) -> None:
        """Finished labelling jobs (EventBridge) → catalog, review queue, worker agreement."""
        function = self.import_function = zip_function(
            self,
            "LabelImport",
            module="label_import",
            description="finished labelling job → catalog, review queue, worker agreement",
            defaults=self.defaults,
            environment=self.common_environment,
            timeout=Duration.seconds(900),
            memory_mb=1024,
        )
        # Crops of the job (status index), their records (conditional put), per-worker tallies (update).
        allow_items(
            function, ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"], table
        )
        allow_objects(function, ["s3:GetObject"], artifacts_bucket, OUTPUT_PREFIX)
        allow(function, ["sagemaker:DescribeLabelingJob"], [self.labeling_jobs])
        self.job_state_rule = events.Rule(
            self,
            "JobStateChange",
            description=f"skillforge {self.defaults.stage}: import finished labelling jobs",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=[LABELLING_JOB_STATE_CHANGE],
                detail={"LabelingJobStatus": ["Completed", "Failed", "Stopped"]},
            ),
            targets=[
                targets.LambdaFunction(
                    function,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=4,
                    max_event_age=Duration.hours(6),
                )
            ],
        )

    def functions(self) -> list[lambda_.Function]:
        return [self.pre_function, self.post_function, self.handoff_function, self.import_function]

    def _acknowledge(
        self, crops_bucket: s3.IBucket, artifacts_bucket: s3.IBucket, table: dynamodb.ITable, jobs_arn: str
    ) -> None:
        acknowledge_function_basics(self, self.functions())
        acknowledge_resources(
            self,
            "Object-level access with named actions, scoped to the crops bucket (Ground Truth presigns crop "
            "URLs) and this capability's artifacts prefixes (labelling/jobs, /templates, /output); the "
            "catalog's status index.",
            [
                crops_bucket.arn_for_objects("*"),
                *(
                    artifacts_bucket.arn_for_objects(f"{prefix}/*")
                    for prefix in (JOBS_PREFIX, TEMPLATES_PREFIX, OUTPUT_PREFIX)
                ),
                f"{table.table_arn}/index/{STATUS_INDEX}",
            ],
        )
        suppress(
            self,
            "AwsSolutions-IAM5",
            "Labelling jobs of this stage only (named skillforge-<stage>-*), any version of the two "
            "annotation Lambdas (Ground Truth invokes them), and Ground Truth's own log groups.",
            findings=[
                f"Resource::{nag_resource(self, jobs_arn)}",
                f"Resource::{nag_resource(self, self.pre_function.function_arn + ':*')}",
                f"Resource::{nag_resource(self, self.post_function.function_arn + ':*')}",
                f"Resource::{nag_resource(self, self.ground_truth_logs)}",
            ],
        )
