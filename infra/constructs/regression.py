"""Step Functions "train-and-gate": train → evaluate (regression gate) → promote + notify, or notify.

    Train ──► Evaluate ──► Gate? ── promote ──► Promote ──► NotifyOutcome ──► Done
      │          │           └──── otherwise ─► NotifyInvestigation ──────► NeedsInvestigation
      └──────────┴── any error (Promote too) ─► NotifyFailure ──► Failed

The training step is given by the caller (the training construct's SageMaker createTrainingJob.sync
task); it must leave DescribeTrainingJob's output at `$.training` (so `$.training.ModelArtifacts.
S3ModelArtifacts` is the model.tar.gz with skill.json). Every task has retries, a timeout and a catch;
notification tasks never fail the run. Nothing is left running: training jobs stop by their max
runtime, evaluation runs in a Lambda, no endpoint is created.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from aws_cdk import CfnMapping, Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ssm as ssm
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from functions.core.base.resources import parameter_prefix
from functions.core.gate.rule import GateConfig
from functions.core.skills.deployment import MappingFile, parameter_name
from infra.checkov import STEP_FUNCTIONS_TASK, skip_check
from infra.constructs.python_code import FunctionDefaults, log_group, zip_function
from infra.nag import acknowledge_function_basics, nag_resource, suppress

if TYPE_CHECKING:  # the cascade module loads the detector stack; synth needs only the type
    from functions.core.serving.config import CascadeConfig

_SSM_REASON = "one run-time parameter per skill under /skillforge/<stage>/skills/; skills are added by data"


def _ssm_finding(stage: str) -> str:
    arn = "arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter"
    return f"Resource::{arn}{parameter_prefix(stage)}*"


TRANSIENT_LAMBDA_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]


class TrainAndGate(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        defaults: FunctionDefaults,
        train_step: sfn.TaskStateBase,
        table: dynamodb.ITable,
        artifacts_bucket: s3.IBucket,
        raw_bucket: s3.IBucket,
        evaluate_code: lambda_.DockerImageCode,
        notify_function: lambda_.IFunction,
        gate: GateConfig | None = None,
        cascade: CascadeConfig | None = None,
        auto_promote_stages: list[str] | None = None,
        training_output_prefix: str = "training/",
        evaluate_timeout: Duration = Duration.minutes(15),
        run_timeout: Duration = Duration.hours(12),
    ) -> None:
        super().__init__(scope, construct_id)
        self.defaults = defaults
        stage = defaults.stage
        self.parameters_arn = Stack.of(self).format_arn(
            service="ssm", resource="parameter", resource_name=parameter_prefix(stage).strip("/") + "/*"
        )
        environment = {
            "SKILLFORGE_CATALOG_TABLE": table.table_name,
            "SKILLFORGE_ARTIFACTS_BUCKET": artifacts_bucket.bucket_name,
            "SKILLFORGE_AUTO_PROMOTE_STAGES": ",".join(auto_promote_stages or ["dev", "staging"]),
            "SKILLFORGE_GATE": (gate or GateConfig()).model_dump_json(),
        }
        if cascade is not None:
            environment["SKILLFORGE_CASCADE"] = cascade.model_dump_json()
        self.evaluate_function = self._evaluate_function(evaluate_code, environment, evaluate_timeout)
        self._grant_evaluate(table, artifacts_bucket, raw_bucket, training_output_prefix)
        self.promote_function = self._promote_function(environment, table)
        for function in (self.evaluate_function, self.promote_function):
            skip_check(function, "CKV_AWS_116", STEP_FUNCTIONS_TASK)
        self.state_machine = self._state_machine(train_step, notify_function, evaluate_timeout, run_timeout)

    def _evaluate_function(
        self, code: lambda_.DockerImageCode, environment: dict[str, str], timeout: Duration
    ) -> lambda_.DockerImageFunction:
        """Evaluate: its own container image (torch for the candidate, fpdf2 for the report)."""
        defaults = self.defaults
        function = lambda_.DockerImageFunction(
            self,
            "EvaluateFunction",
            code=code,
            memory_size=4096,
            timeout=timeout,
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                "SKILLFORGE_STAGE": defaults.stage,
                "POWERTOOLS_SERVICE_NAME": "skillforge-evaluate",
                "POWERTOOLS_METRICS_NAMESPACE": "skillforge",
                "POWERTOOLS_LOG_LEVEL": defaults.log_level,
                "YOLO_OFFLINE": "1",
                **defaults.environment,
                **environment,
            },
            log_group=log_group(self, "EvaluateFunction", defaults),
        )
        acknowledge_function_basics(function)
        return function

    def _grant_evaluate(
        self, table: dynamodb.ITable, artifacts_bucket: s3.IBucket, raw_bucket: s3.IBucket, output_prefix: str
    ) -> None:
        function = self.evaluate_function
        table.grant_read_data(function)  # registry, catalog (replay), gate log reads
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:PutItem"],  # register an unpacked SageMaker output; log the decision
                resources=[table.table_arn],
                conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["skill#*", "gate#*"]}},
            )
        )
        for statement in (
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:PutObject"],  # reports are written next to the model
                resources=[
                    artifacts_bucket.arn_for_objects("skills/*"),
                    artifacts_bucket.arn_for_objects(f"{output_prefix}*"),
                ],
            ),
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[
                    artifacts_bucket.arn_for_objects("harness/*"),
                    artifacts_bucket.arn_for_objects("datasets/*"),
                    raw_bucket.arn_for_objects("*"),
                ],
            ),
            # listing lets a missing harness/model read as 404 (not 403) and skill folders be listed
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[artifacts_bucket.bucket_arn]),
            iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[self.parameters_arn]),
        ):
            function.add_to_role_policy(statement)
        if artifacts_bucket.encryption_key is not None:
            artifacts_bucket.encryption_key.grant_encrypt_decrypt(function)
        if raw_bucket.encryption_key is not None:
            raw_bucket.encryption_key.grant_decrypt(function)
        suppress(
            function,
            "AwsSolutions-IAM5",
            "Prefix-scoped reads/writes of the evaluate function: the catalog's status index (replayed "
            "records), skill version folders under skills/, frozen harness images under harness/, dataset "
            "manifests, the model.tar.gz of each training job (report written beside it), any raw upload "
            "(replayed photos, read only), and the stage's skill parameters (one per skill).",
            findings=[
                f"Resource::{nag_resource(self, table.table_arn)}/index/*",
                f"Resource::{nag_resource(self, artifacts_bucket.bucket_arn)}/skills/*",
                f"Resource::{nag_resource(self, artifacts_bucket.bucket_arn)}/harness/*",
                f"Resource::{nag_resource(self, artifacts_bucket.bucket_arn)}/datasets/*",
                f"Resource::{nag_resource(self, artifacts_bucket.bucket_arn)}/{output_prefix}*",
                f"Resource::{nag_resource(self, raw_bucket.bucket_arn)}/*",
                _ssm_finding(self.defaults.stage),
            ],
        )

    def _promote_function(self, environment: dict[str, str], table: dynamodb.ITable) -> lambda_.Function:
        function = zip_function(
            self,
            "PromoteFunction",
            module="promote",
            description="promote a gated skill version (auto-promote stages only)",
            defaults=self.defaults,
            environment=environment,
        )
        acknowledge_function_basics(self, [function])
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["ssm:GetParameter", "ssm:PutParameter"], resources=[self.parameters_arn]
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem"],
                resources=[table.table_arn],
                conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["skill#*"]}},
            )
        )
        suppress(function, "AwsSolutions-IAM5", _SSM_REASON, findings=[_ssm_finding(self.defaults.stage)])
        return function

    def _state_machine(
        self,
        train_step: sfn.TaskStateBase,
        notify_function: lambda_.IFunction,
        evaluate_timeout: Duration,
        run_timeout: Duration,
    ) -> sfn.StateMachine:
        definition = self._definition(train_step, notify_function, evaluate_timeout)
        machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=f"skillforge-{self.defaults.stage}-train-and-gate",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=run_timeout,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=log_group(self, "StateMachine", self.defaults), level=sfn.LogLevel.ALL
            ),
        )
        invoked = [self.evaluate_function, self.promote_function, notify_function]
        suppress(
            machine,
            "AwsSolutions-IAM5",
            "LambdaInvoke may call any version/alias of its own function (CDK grants ARN:*); log delivery "
            "and X-Ray accept no resource but *; createTrainingJob.sync describes/stops the job it started "
            "(names are generated per execution).",
            findings=[
                *(f"Resource::{nag_resource(self, f.function_arn)}:*" for f in invoked),
                "Resource::*",
                "Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:training-job/*",
            ],
        )
        return machine

    def _definition(
        self, train_step: sfn.TaskStateBase, notify: lambda_.IFunction, evaluate_timeout: Duration
    ) -> sfn.IChainable:
        failed = sfn.Fail(self, "Failed", error="TrainAndGateFailed", cause="a step failed; notified")
        notify_failure = self._invoke(
            "NotifyFailure",
            notify,
            {
                "kind": "failure",
                "skill.$": "$.skill",
                "error.$": "$.error",
                "execution.$": "$$.Execution.Id",
            },
            result_path="$.notified",
        )
        notify_failure.add_catch(failed, result_path="$.notify_error").next(failed)

        train_step.add_retry(
            errors=["SageMaker.AmazonSageMakerException", "ThrottlingException"],
            interval=Duration.seconds(30),
            max_attempts=2,
            backoff_rate=2,
        )
        train_step.add_catch(notify_failure, result_path="$.error")

        evaluate = self._invoke(
            "Evaluate",
            self.evaluate_function,
            {"skill.$": "$.skill", "model_artifacts.$": "$.training.ModelArtifacts.S3ModelArtifacts"},
            result_path="$.evaluation",
            timeout=evaluate_timeout.plus(Duration.minutes(1)),
        )
        evaluate.add_catch(notify_failure, result_path="$.error")

        promote = self._invoke(
            "Promote",
            self.promote_function,
            {"skill.$": "$.evaluation.skill", "skill_version.$": "$.evaluation.skill_version"},
            result_path="$.promotion",
        )
        promote.add_catch(notify_failure, result_path="$.error")

        done = sfn.Succeed(self, "Done", comment="promoted (or passed, awaiting a deliberate promotion)")
        held = sfn.Succeed(self, "NeedsInvestigation", comment="the gate held the candidate back")
        notify_outcome = self._invoke(
            "NotifyOutcome",
            notify,
            {
                "kind": "gate",
                "evaluation.$": "$.evaluation",
                "promotion.$": "$.promotion",
                "execution.$": "$$.Execution.Id",
            },
            result_path="$.notified",
        )
        notify_outcome.add_catch(done, result_path="$.notify_error")
        notify_investigation = self._invoke(
            "NotifyInvestigation",
            notify,
            {"kind": "gate", "evaluation.$": "$.evaluation", "execution.$": "$$.Execution.Id"},
            result_path="$.notified",
        )
        notify_investigation.add_catch(held, result_path="$.notify_error")

        gate = (
            sfn.Choice(self, "Gate")
            .when(
                sfn.Condition.string_equals("$.evaluation.outcome", "promote"),
                promote.next(notify_outcome.next(done)),
            )
            .otherwise(notify_investigation.next(held))
        )
        return train_step.next(evaluate).next(gate)

    def _invoke(
        self,
        name: str,
        function: lambda_.IFunction,
        payload: dict[str, object],
        result_path: str,
        timeout: Duration = Duration.minutes(2),
    ) -> tasks.LambdaInvoke:
        task = tasks.LambdaInvoke(
            self,
            name,
            lambda_function=function,
            payload=sfn.TaskInput.from_object(payload),
            payload_response_only=True,
            retry_on_service_exceptions=False,
            result_path=result_path,
            task_timeout=sfn.Timeout.duration(timeout),
        )
        task.add_retry(
            errors=TRANSIENT_LAMBDA_ERRORS, interval=Duration.seconds(2), max_attempts=3, backoff_rate=2
        )
        return task


class SkillVersions(Construct):
    """The deployed skill versions of a stage, from the repo's mapping file.

    The stage's entries become a CloudFormation mapping (`Mappings.SkillVersions`); each skill gets
    its run-time SSM parameter `/skillforge/<stage>/skills/<skill>` whose value is `Fn::FindInMap`
    on the skill name. `skillforge promote` rewrites the file, so a later `cdk deploy` keeps the
    version the running system was promoted to.
    """

    def __init__(self, scope: Construct, construct_id: str, *, stage: str, mapping: MappingFile) -> None:
        super().__init__(scope, construct_id)
        entries = mapping.load().get(stage, {})
        self.parameters: dict[str, ssm.StringParameter] = {}
        if not entries:
            return
        self.mapping = CfnMapping(
            self,
            "SkillVersions",
            mapping={
                skill: {"parameter": json.dumps({"version": e.version, "artifact_uri": e.artifact_uri})}
                for skill, e in sorted(entries.items())
            },
            lazy=False,
        )
        for skill in sorted(entries):
            self.parameters[skill] = ssm.StringParameter(
                self,
                f"Skill-{skill}",
                parameter_name=parameter_name(stage, skill),
                string_value=self.mapping.find_in_map(skill, "parameter"),
                description=f"deployed version of skill {skill} (seeded from infra/skill_versions.json)",
            )
