"""Serving: the deployed cascade answers every upload inside the detect function, and reprocessing.

* The detect function gets the cascade (data: `infra/cascade.json`), the deployment TTL, and read access
  to the stage's skill parameters (SSM) and to the skill versions' files in the artifacts bucket;
  a version that cannot answer raises the `crops_skill_unavailable` metric, which alarms.
* `reprocess`: a Step Functions Distributed Map over the ListObjectsV2 listing of the crops bucket
  (input `{"skill", "version", "prefix"}`), in batches, with a concurrency limit; each batch runs the
  reprocess function (the detect image with another handler); results go to the artifacts bucket.

    ListCrops (ItemReader s3:listObjectsV2, Prefix from the input)
      └─► batches of `batch_size` keys + BatchInput {skill, version, prefix}
            └─► Reprocess (lambda:invoke, retried) ── at most `max_concurrency` batches at once
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import ArnFormat, CfnOutput, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from functions.core.base.resources import parameter_prefix
from functions.core.serving.config import CascadeConfig
from infra.checkov import STEP_FUNCTIONS_TASK, skip_check
from infra.constructs.monitoring import Monitoring
from infra.nag import nag_resource, suppress

REPROCESS_HANDLER = "functions.reprocess.handler.handler"  # a second handler of the detect image
SKILLS_PREFIX = "skills/"
RESULTS_PREFIX = "reprocess/"
TRANSIENT_LAMBDA_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]


@dataclass(frozen=True)
class ServingSizing:
    deployment_ttl_s: int = 60
    batch_size: int = 100
    max_concurrency: int = 10
    reprocess_memory_mb: int = 2048
    reprocess_timeout_s: int = 300
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH


class Serving(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        cascade: CascadeConfig,
        detect_function: lambda_.Function,
        reprocess_code: lambda_.DockerImageCode,
        artifacts_bucket: s3.IBucket,
        crops_bucket: s3.IBucket,
        table: dynamodb.ITable,
        monitoring: Monitoring,
        sizing: ServingSizing | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        sizing = sizing or ServingSizing()
        stack = Stack.of(self)
        self.stage = stage
        self.parameters_arn = stack.format_arn(
            service="ssm", resource="parameter", resource_name=parameter_prefix(stage).strip("/") + "/*"
        )
        serving_env = {
            "SKILLFORGE_CASCADE": cascade.model_dump_json(exclude_none=True),
            "SKILLFORGE_DEPLOYMENT_TTL_S": str(sizing.deployment_ttl_s),
            "SKILLFORGE_SKILLS_CACHE_DIR": "/tmp/skillforge-skills",
        }
        for name, value in serving_env.items():
            detect_function.add_environment(name, value)
        self._grant_skill_reads(detect_function, artifacts_bucket)

        self.reprocess_function = lambda_.DockerImageFunction(
            self,
            "ReprocessFunction",
            description=f"skillforge {stage}: re-answer a batch of stored crops with a pinned skill version",
            code=reprocess_code,
            architecture=lambda_.Architecture.X86_64,
            memory_size=sizing.reprocess_memory_mb,
            timeout=Duration.seconds(sizing.reprocess_timeout_s),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=logs.LogGroup(self, "ReprocessLogs", retention=sizing.log_retention),
            environment={
                **serving_env,
                "SKILLFORGE_STAGE": stage,
                "SKILLFORGE_AWS_REGION": stack.region,
                "SKILLFORGE_CATALOG_TABLE": table.table_name,
                "SKILLFORGE_CROPS_BUCKET": crops_bucket.bucket_name,
                "SKILLFORGE_ARTIFACTS_BUCKET": artifacts_bucket.bucket_name,
                "POWERTOOLS_SERVICE_NAME": "skillforge-reprocess",
                "POWERTOOLS_METRICS_NAMESPACE": f"skillforge-{stage}",
            },
        )
        self._grant_skill_reads(self.reprocess_function, artifacts_bucket)
        skip_check(self.reprocess_function, "CKV_AWS_116", STEP_FUNCTIONS_TASK)
        for statement in (
            iam.PolicyStatement(
                actions=["dynamodb:BatchGetItem", "dynamodb:UpdateItem"],
                resources=[table.table_arn],
                conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["crop#*", "skill#*"]}},
            ),
            iam.PolicyStatement(
                actions=["dynamodb:GetItem"],
                resources=[table.table_arn],
                conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["skill#*"]}},
            ),
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[crops_bucket.arn_for_objects("crops/*")]
            ),
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[crops_bucket.bucket_arn]),
        ):
            self.reprocess_function.add_to_role_policy(statement)
        for bucket in (crops_bucket,):
            if bucket.encryption_key is not None:
                bucket.encryption_key.grant_decrypt(self.reprocess_function)

        self.state_machine_name = f"skillforge-{stage}-reprocess"
        self.state_machine = sfn.StateMachine(
            self,
            "ReprocessStateMachine",
            state_machine_name=self.state_machine_name,
            definition_body=sfn.DefinitionBody.from_chainable(
                sfn.CustomState(
                    self,
                    "ReprocessCrops",
                    state_json=reprocess_map_state(
                        crops_bucket=crops_bucket.bucket_name,
                        results_bucket=artifacts_bucket.bucket_name,
                        function_arn=self.reprocess_function.function_arn,
                        batch_size=sizing.batch_size,
                        max_concurrency=sizing.max_concurrency,
                    ),
                )
            ),
            timeout=Duration.hours(24),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=logs.LogGroup(self, "ReprocessStateMachineLogs", retention=sizing.log_retention),
                level=sfn.LogLevel.ALL,
            ),
        )
        self._grant_state_machine(crops_bucket, artifacts_bucket)
        self._alarms(monitoring, stage)
        self._acknowledge(detect_function, artifacts_bucket, crops_bucket)
        CfnOutput(
            self,
            "ReprocessStateMachineArn",
            value=self.state_machine.state_machine_arn,
            description="reprocess state machine (SKILLFORGE_REPROCESS_STATE_MACHINE_ARN)",
        )

    def _grant_skill_reads(self, function: lambda_.IFunction, artifacts_bucket: s3.IBucket) -> None:
        """The deployed versions (SSM) and the skill version files; ListBucket makes a missing file a 404."""
        for statement in (
            iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[self.parameters_arn]),
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[artifacts_bucket.arn_for_objects(f"{SKILLS_PREFIX}*")]
            ),
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[artifacts_bucket.bucket_arn]),
        ):
            function.add_to_role_policy(statement)
        if artifacts_bucket.encryption_key is not None:
            artifacts_bucket.encryption_key.grant_decrypt(function)

    def _grant_state_machine(self, crops_bucket: s3.IBucket, artifacts_bucket: s3.IBucket) -> None:
        stack = Stack.of(self)
        own_arn = stack.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=self.state_machine_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        executions = stack.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{self.state_machine_name}/*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        for statement in (
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"], resources=[self.reprocess_function.function_arn]
            ),
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[crops_bucket.bucket_arn]),
            iam.PolicyStatement(
                actions=[
                    "s3:PutObject",
                    "s3:GetObject",
                    "s3:ListMultipartUploadParts",
                    "s3:AbortMultipartUpload",
                ],
                resources=[artifacts_bucket.arn_for_objects(f"{RESULTS_PREFIX}*")],
            ),
            # a Distributed Map runs each batch as a child execution of this state machine
            iam.PolicyStatement(actions=["states:StartExecution"], resources=[own_arn]),
            iam.PolicyStatement(
                actions=["states:DescribeExecution", "states:StopExecution"], resources=[executions]
            ),
        ):
            self.state_machine.add_to_role_policy(statement)
        if artifacts_bucket.encryption_key is not None:
            artifacts_bucket.encryption_key.grant_encrypt_decrypt(self.state_machine)
        if crops_bucket.encryption_key is not None:
            crops_bucket.encryption_key.grant_decrypt(self.state_machine)

    def _alarms(self, monitoring: Monitoring, stage: str) -> None:
        unavailable = cloudwatch.Metric(
            namespace=f"skillforge-{stage}",
            metric_name="crops_skill_unavailable",
            dimensions_map={"service": "skillforge-detect"},
            statistic="Sum",
            period=Duration.minutes(5),
        )
        self.skill_unavailable_alarm = monitoring.add_alarm(
            unavailable.create_alarm(
                self,
                "SkillUnavailableAlarm",
                alarm_description="serving: a deployed skill version cannot answer (artifact missing or "
                "corrupt); crops are recorded 'detected, not classified' until it is fixed or rolled back",
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
        )
        monitoring.watch_function_errors("ReprocessErrorsAlarm", self.reprocess_function, "reprocess")
        self.reprocess_failed_alarm = monitoring.add_alarm(
            self.state_machine.metric_failed(period=Duration.minutes(5), statistic="Sum").create_alarm(
                self,
                "ReprocessFailedAlarm",
                alarm_description="reprocess: an execution failed; redrive it (re-running is safe)",
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
        )

    def _acknowledge(
        self,
        detect_function: lambda_.IFunction,
        artifacts_bucket: s3.IBucket,
        crops_bucket: s3.IBucket,
    ) -> None:
        ssm = (
            "Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter"
            + parameter_prefix(self.stage)
            + "*"
        )
        skills = f"Resource::{nag_resource(self, artifacts_bucket.bucket_arn)}/{SKILLS_PREFIX}*"
        reason = (
            "Serving reads the stage's skill parameters (one per skill, added by data) and the files of the "
            "skill versions they name under skills/ (versions are data too)."
        )
        suppress(detect_function.role or detect_function, "AwsSolutions-IAM5", reason, findings=[ssm, skills])
        suppress(
            self.reprocess_function,
            "AwsSolutions-IAM5",
            reason + " Reprocess also reads crop objects under crops/ (keys are per image).",
            findings=[ssm, skills, f"Resource::{nag_resource(self, crops_bucket.bucket_arn)}/crops/*"],
        )
        suppress(
            self.reprocess_function,
            "AwsSolutions-IAM4",
            "Lambda's AWS-managed basic execution policy: CloudWatch Logs only, for the function's own logs.",
            findings=[
                "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
            ],
        )
        suppress(
            self.reprocess_function,
            "AwsSolutions-IAM5",
            "X-Ray active tracing: xray:PutTraceSegments/PutTelemetryRecords accept no resource but *.",
            findings=["Resource::*"],
        )
        suppress(
            self.state_machine,
            "AwsSolutions-IAM5",
            "The Distributed Map writes its results under reprocess/, runs each batch as a child execution "
            "of this state machine (execution names are generated), and delivers logs / X-Ray (no resource "
            "but *).",
            findings=[
                f"Resource::{nag_resource(self, artifacts_bucket.bucket_arn)}/{RESULTS_PREFIX}*",
                "Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
                f"{self.state_machine_name}/*",
                "Resource::*",
            ],
        )


def reprocess_map_state(
    *, crops_bucket: str, results_bucket: str, function_arn: str, batch_size: int, max_concurrency: int
) -> dict[str, Any]:
    """The Distributed Map state (ASL): S3 listing of the crops → batches → the reprocess function."""
    return {
        "Type": "Map",
        "Comment": "re-answer every crop under the input's prefix with the input's skill version",
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:listObjectsV2",
            "Parameters": {"Bucket": crops_bucket, "Prefix.$": "$.prefix"},
        },
        "ItemBatcher": {
            "MaxItemsPerBatch": batch_size,
            "BatchInput": {"skill.$": "$.skill", "version.$": "$.version", "prefix.$": "$.prefix"},
        },
        "MaxConcurrency": max_concurrency,
        "ToleratedFailurePercentage": 0,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Reprocess",
            "States": {
                "Reprocess": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": function_arn, "Payload.$": "$"},
                    "OutputPath": "$.Payload",
                    "TimeoutSeconds": 900,
                    "Retry": [
                        {
                            "ErrorEquals": TRANSIENT_LAMBDA_ERRORS,
                            "IntervalSeconds": 2,
                            "MaxAttempts": 6,
                            "BackoffRate": 2,
                        },
                        {
                            "ErrorEquals": ["States.ALL"],
                            "IntervalSeconds": 10,
                            "MaxAttempts": 2,
                            "BackoffRate": 2,
                        },
                    ],
                    "End": True,
                }
            },
        },
        "ResultWriter": {
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": results_bucket, "Prefix": RESULTS_PREFIX},
        },
        "End": True,
    }
