"""Crowd labelling: scheduled hand-off → Ground Truth job (pre/post Lambdas, its own role) → import.

Takes the resources it needs (crops and artifacts buckets, catalog table, function code) so it can be
synthesized alone. Functions are thin zip Lambdas running functions/<name>/handler.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import Acknowledgment, ArnFormat, Aws, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct

from functions.core.labelling import JOBS_PREFIX, OUTPUT_PREFIX, TEMPLATES_PREFIX
from functions.core.labelling_import import JOB_STATE_CHANGE

RUNTIME = lambda_.Runtime.PYTHON_3_11  # the project's Python (pyproject: >=3.11,<3.12)


def acknowledge(construct: IConstruct, rule: str, reason: str, findings: Sequence[str] = ()) -> None:
    """cdk-nag v3 acknowledgment with its written reason (one per finding for IAM4/IAM5)."""
    ids = [f"{rule}[{finding}]" for finding in findings] if findings else [rule]
    Validations.of(construct).acknowledge(*(Acknowledgment(id=i, reason=reason) for i in ids))


def nag_resource(scope: IConstruct, value: str) -> str:
    """How cdk-nag writes a (token) resource in a finding id: `<LogicalId.Attr>`, `<AWS::Region>`..."""

    def render(part: Any) -> str:
        if isinstance(part, str):
            return part
        if isinstance(part, dict) and "Fn::GetAtt" in part:
            logical_id, attribute = part["Fn::GetAtt"]
            return f"<{logical_id}.{attribute}>"
        if isinstance(part, dict) and "Ref" in part:
            return f"<{part['Ref']}>"
        if isinstance(part, dict) and "Fn::Join" in part:
            separator, parts = part["Fn::Join"]
            return str(separator).join(render(p) for p in parts)
        raise ValueError(f"cannot render {part!r} as a cdk-nag finding")

    return render(Stack.of(scope).resolve(value))


BASIC_EXECUTION_ROLE = "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
S3_READ_ACTIONS = ("s3:GetObject*", "s3:GetBucket*", "s3:List*")
S3_GRANT_ACTIONS = (*S3_READ_ACTIONS, "s3:DeleteObject*", "s3:Abort*")


def acknowledge_function_basics(scope: IConstruct, functions: Sequence[lambda_.Function]) -> None:
    """The findings every thin zip function of this project raises, with their reasons."""
    acknowledge(
        scope,
        "AwsSolutions-IAM4",
        "Lambda's AWS-managed basic execution policy: CloudWatch Logs only, for the function's own logs.",
        findings=[BASIC_EXECUTION_ROLE],
    )
    acknowledge(
        scope,
        "AwsSolutions-IAM5",
        "X-Ray active tracing: xray:PutTraceSegments/PutTelemetryRecords accept no resource but *.",
        findings=["Resource::*"],
    )
    for function in functions:
        acknowledge(
            function,
            "AwsSolutions-L1",
            "Pinned to Python 3.11, the project's runtime (pyproject requires-python <3.12); "
            "raised together with the rest of the code base.",
        )


def acknowledge_grants(
    scope: IConstruct, reason: str, resources: Sequence[str], actions: Sequence[str] = S3_GRANT_ACTIONS
) -> None:
    """CDK's bucket grant actions and the given (prefix-scoped) resources, acknowledged with `reason`."""
    findings = [f"Action::{a}" for a in actions]
    findings += [f"Resource::{nag_resource(scope, r)}" for r in resources]
    acknowledge(scope, "AwsSolutions-IAM5", reason, findings=findings)


@dataclass(frozen=True)
class FunctionDefaults:
    """What every zip function of a capability shares: code package, layers, logs, environment."""

    code: lambda_.Code
    stage: str
    layers: Sequence[lambda_.ILayerVersion] = ()
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    removal_policy: RemovalPolicy = RemovalPolicy.DESTROY
    log_level: str = "INFO"
    environment: Mapping[str, str] = field(default_factory=dict)


def zip_function(
    scope: Construct,
    construct_id: str,
    *,
    module: str,
    description: str,
    defaults: FunctionDefaults,
    environment: Mapping[str, str],
    timeout: Duration = Duration.seconds(60),
    memory_mb: int = 512,
    function_name: str | None = None,
) -> lambda_.Function:
    """A thin Python Lambda running `functions.<module>.handler.handler`, its own log group and role."""
    log_group = logs.LogGroup(
        scope, f"{construct_id}Logs", retention=defaults.log_retention, removal_policy=defaults.removal_policy
    )
    return lambda_.Function(
        scope,
        construct_id,
        function_name=function_name,
        description=f"skillforge {defaults.stage}: {description}",
        runtime=RUNTIME,
        architecture=lambda_.Architecture.ARM_64,
        handler=f"functions.{module}.handler.handler",
        code=defaults.code,
        layers=list(defaults.layers),
        memory_size=memory_mb,
        timeout=timeout,
        log_group=log_group,
        tracing=lambda_.Tracing.ACTIVE,
        environment={
            "SKILLFORGE_STAGE": defaults.stage,
            "SKILLFORGE_AWS_REGION": Aws.REGION,
            "POWERTOOLS_SERVICE_NAME": f"skillforge-{module}",
            "POWERTOOLS_METRICS_NAMESPACE": "skillforge",
            "POWERTOOLS_LOG_LEVEL": defaults.log_level,
            **defaults.environment,
            **environment,
        },
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
    handoff_every_minutes: int = 15
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
        stage = defaults.stage
        job_prefix = f"skillforge-{stage}"
        common = {
            "SKILLFORGE_CROPS_BUCKET": crops_bucket.bucket_name,
            "SKILLFORGE_ARTIFACTS_BUCKET": artifacts_bucket.bucket_name,
            "SKILLFORGE_CATALOG_TABLE": table.table_name,
        }
        self.pre_function = zip_function(
            self,
            "PreAnnotation",
            module="gt_pre",
            description="Ground Truth pre-annotation (crop → task input)",
            defaults=defaults,
            environment={"SKILLFORGE_CROPS_BUCKET": crops_bucket.bucket_name},
            timeout=Duration.seconds(10),
            memory_mb=256,
        )
        self.post_function = zip_function(
            self,
            "PostAnnotation",
            module="gt_post",
            description="Ground Truth consolidation (majority vote per crop)",
            defaults=defaults,
            environment=common,
            timeout=Duration.seconds(300),
        )
        artifacts_bucket.grant_read(self.post_function, f"{OUTPUT_PREFIX}/*")

        # The role Ground Truth assumes: read the manifest and crops (it presigns crop URLs for
        # workers with grant_read_access), write the output, invoke the two Lambdas.
        self.ground_truth_role = iam.Role(
            self,
            "GroundTruthRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"skillforge {stage}: Ground Truth labelling jobs",
        )
        crops_bucket.grant_read(self.ground_truth_role)
        artifacts_bucket.grant_read(self.ground_truth_role, f"{JOBS_PREFIX}/*")
        artifacts_bucket.grant_read(self.ground_truth_role, f"{TEMPLATES_PREFIX}/*")
        artifacts_bucket.grant_read_write(self.ground_truth_role, f"{OUTPUT_PREFIX}/*")
        self.pre_function.grant_invoke(self.ground_truth_role)
        self.post_function.grant_invoke(self.ground_truth_role)
        self.ground_truth_logs = Stack.of(self).format_arn(
            service="logs",
            resource="log-group",
            resource_name="/aws/sagemaker/LabelingJobs*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.ground_truth_role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.ground_truth_logs],
            )
        )

        labelling_env = {
            **common,
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
            "SKILLFORGE_LABELLING_JOB_PREFIX": job_prefix,
        }
        if config.workteam_arn:
            labelling_env["SKILLFORGE_LABELLING_WORKTEAM_ARN"] = config.workteam_arn

        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=defaults.removal_policy,
        )
        acknowledge(
            self.dead_letter_queue,
            "AwsSolutions-SQS3",
            "This queue is the dead-letter queue of the hand-off and import events.",
        )

        self.handoff_function = zip_function(
            self,
            "Handoff",
            module="handoff",
            description="crops → Ground Truth labelling job (batched by size or age)",
            defaults=defaults,
            environment=labelling_env,
            timeout=Duration.seconds(300),
        )
        table.grant_read_write_data(self.handoff_function)
        artifacts_bucket.grant_read_write(self.handoff_function, f"{JOBS_PREFIX}/*")
        artifacts_bucket.grant_read_write(self.handoff_function, f"{TEMPLATES_PREFIX}/*")
        labeling_jobs = Stack.of(self).format_arn(
            service="sagemaker", resource="labeling-job", resource_name=f"{job_prefix}-*"
        )
        self.handoff_function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["sagemaker:CreateLabelingJob", "sagemaker:AddTags"], resources=[labeling_jobs]
            )
        )
        self.handoff_function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.ground_truth_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        self.schedule = events.Rule(
            self,
            "HandoffSchedule",
            description=f"skillforge {stage}: send waiting crops to labelling",
            schedule=events.Schedule.rate(Duration.minutes(config.handoff_every_minutes)),
            targets=[
                targets.LambdaFunction(
                    self.handoff_function,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=2,
                    max_event_age=Duration.minutes(config.handoff_every_minutes),
                )
            ],
        )

        self.import_function = zip_function(
            self,
            "LabelImport",
            module="label_import",
            description="finished labelling job → catalog, review queue, worker agreement",
            defaults=defaults,
            environment=common,
            timeout=Duration.seconds(900),
            memory_mb=1024,
        )
        table.grant_read_write_data(self.import_function)
        artifacts_bucket.grant_read(self.import_function, f"{OUTPUT_PREFIX}/*")
        self.import_function.add_to_role_policy(
            iam.PolicyStatement(actions=["sagemaker:DescribeLabelingJob"], resources=[labeling_jobs])
        )
        self.job_state_rule = events.Rule(
            self,
            "JobStateChange",
            description=f"skillforge {stage}: import finished labelling jobs",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=[JOB_STATE_CHANGE],
                detail={"LabelingJobStatus": ["Completed", "Failed", "Stopped"]},
            ),
            targets=[
                targets.LambdaFunction(
                    self.import_function,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=4,
                    max_event_age=Duration.hours(6),
                )
            ],
        )
        # A raised import (unreadable lines) is retried by Lambda's async invoke, then kept in the DLQ.
        for function in (self.import_function, self.handoff_function):
            function.configure_async_invoke(
                retry_attempts=2,
                max_event_age=Duration.hours(6),
                on_failure=destinations.SqsDestination(self.dead_letter_queue),
            )
        self._acknowledge(crops_bucket, artifacts_bucket, labeling_jobs)

    def functions(self) -> list[lambda_.Function]:
        return [self.pre_function, self.post_function, self.handoff_function, self.import_function]

    def _acknowledge(self, crops_bucket: s3.IBucket, artifacts_bucket: s3.IBucket, jobs_arn: str) -> None:
        acknowledge_function_basics(self, self.functions())
        acknowledge_grants(
            self,
            "CDK bucket grants, scoped to the crops bucket and this capability's artifacts prefixes "
            "(labelling/jobs, labelling/templates, labelling/output); Ground Truth presigns crop URLs.",
            [
                f"{crops_bucket.bucket_arn}/*",
                *(
                    f"{artifacts_bucket.bucket_arn}/{p}/*"
                    for p in (JOBS_PREFIX, TEMPLATES_PREFIX, OUTPUT_PREFIX)
                ),
            ],
        )
        acknowledge(
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
