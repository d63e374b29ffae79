"""make-skill state machine: extract Lambda → SageMaker createTrainingJob.sync → register Lambda.

The training job's instance type, instance count, volume, max runtime and managed spot come from
the skill config's hardware profile in the execution input (training/launcher.py builds it);
a run asking for more than `max_runtime_cap_s` is refused before anything is started. Every role
gets only what its step does; the training role reads only the channels' prefixes and writes only
skills/.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import Aws, Duration, IgnoreMode, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.checkov import STEP_FUNCTIONS_TASK, skip_check
from infra.constructs.python_code import FunctionDefaults, zip_function
from infra.ecr import image_repository_arn
from infra.nag import acknowledge_function_basics, nag_resource, suppress
from training.launcher import metric_definitions

SAGEMAKER_EVENTS_RULE = "StepFunctionsGetEventsForSageMakerTrainingJobsRule"


@dataclass(frozen=True)
class TrainingSizing:
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN
    extract_memory_mb: int = 3008
    extract_timeout_s: int = 900
    register_timeout_s: int = 120
    max_runtime_cap_s: int = 6 * 3600
    state_machine_timeout_h: int = 30


TRAINING_DOCKERFILE = "training/Dockerfile"
# Docker-style patterns relative to the repository root: what training/Dockerfile copies, nothing else.
TRAINING_BUILD_CONTEXT_ALLOW = (
    "*",
    "!training/",
    "!functions/",
    "!requirements-lambda.txt",
    "!requirements-detect.txt",
    "!requirements-training.txt",
    "!constraints.txt",
    "**/__pycache__",
    "**/*.pyc",
    "functions/core/base/CODE_VERSION",
)


def training_image_asset(scope: Construct, repo_root: Path) -> ecr_assets.DockerImageAsset:
    """training/Dockerfile (a SageMaker PyTorch base with the training pins and code), built and pushed
    to the CDK assets repository by `cdk deploy`; never built at synth."""
    return ecr_assets.DockerImageAsset(
        scope,
        "TrainingImage",
        directory=str(repo_root),
        file=TRAINING_DOCKERFILE,
        platform=ecr_assets.Platform.LINUX_AMD64,
        exclude=list(TRAINING_BUILD_CONTEXT_ALLOW),
        ignore_mode=IgnoreMode.DOCKER,
    )


class Training(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        functions: FunctionDefaults,
        training_image_uri: str | None,
        artifacts_bucket: s3.IBucket,
        crops_bucket: s3.IBucket,
        table: dynamodb.ITable,
        split_salt: str,
        sizing: TrainingSizing | None = None,
        repo_root: Path | None = None,
    ) -> None:
        """`training_image_uri` None: training/Dockerfile of `repo_root`, built and pushed by `cdk deploy`."""
        super().__init__(scope, construct_id)
        sizing = sizing or TrainingSizing()
        self.training_image: ecr_assets.DockerImageAsset | None = None
        if training_image_uri is None:
            if repo_root is None:
                raise ValueError(
                    "training: give a training image URI, or the repository root to build it from"
                )
            self.training_image = training_image_asset(self, repo_root)
            self.training_image_uri = self.training_image.image_uri
            repository_arn = self.training_image.repository.repository_arn
        else:
            self.training_image_uri = training_image_uri
            repository_arn = image_repository_arn(training_image_uri)
        env = {
            "SKILLFORGE_CATALOG_TABLE": table.table_name,
            "SKILLFORGE_ARTIFACTS_BUCKET": artifacts_bucket.bucket_name,
            "SKILLFORGE_SPLIT_SALT": split_salt,
        }
        specs = {  # construct id: (module, description, timeout s, memory MB)
            "Extract": ("extract", "dataset extraction (split, min count, balance)",
                        sizing.extract_timeout_s, sizing.extract_memory_mb),
            "Register": ("register", "register a trained candidate skill version",
                         sizing.register_timeout_s, 512),
        }  # fmt: skip
        self.extract_fn, self.register_fn = (
            zip_function(
                self, name, module=module, description=text, defaults=functions, environment=env,
                timeout=Duration.seconds(timeout_s), memory_mb=memory_mb,
            )
            for name, (module, text, timeout_s, memory_mb) in specs.items()
        )  # fmt: skip
        acknowledge_function_basics(self, [self.extract_fn, self.register_fn])
        for function in (self.extract_fn, self.register_fn):
            skip_check(function, "CKV_AWS_116", STEP_FUNCTIONS_TASK)
        self._grant_extract(table, artifacts_bucket)
        self._grant_register(table, artifacts_bucket)
        self.training_role = self._training_role(artifacts_bucket, crops_bucket, repository_arn)
        self.state_machine_name = f"skillforge-{stage}-make-skill"
        self.state_machine = self._state_machine(stage, artifacts_bucket, sizing)

    def _grant_extract(self, table: dynamodb.ITable, artifacts: s3.IBucket) -> None:
        role = self.extract_fn.role
        assert role is not None
        # read verified crops (status index) and group splits (scan); persist new group splits
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["dynamodb:Query", "dynamodb:Scan", "dynamodb:GetItem", "dynamodb:PutItem"],
                resources=[table.table_arn, f"{table.table_arn}/index/*"],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["s3:PutObject"], resources=[artifacts.arn_for_objects("datasets/*")])
        )
        _grant_customer_keys(role, table, artifacts)
        suppress(
            role,
            "AwsSolutions-IAM5",
            "Query on the catalog's status index (index/* of this one table) and data-driven dataset keys "
            "under datasets/ of the artifacts bucket; the actions are listed one by one.",
            findings=[
                f"Resource::{nag_resource(self, f'{table.table_arn}/index/*')}",
                f"Resource::{nag_resource(self, artifacts.arn_for_objects('datasets/*'))}",
            ],
        )

    def _grant_register(self, table: dynamodb.ITable, artifacts: s3.IBucket) -> None:
        role = self.register_fn.role
        assert role is not None
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["dynamodb:PutItem"], resources=[table.table_arn])
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[artifacts.arn_for_objects("skills/*")])
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:PutObject"], resources=[artifacts.arn_for_objects("lineage/*")]
            )
        )
        # ListBucket (lineage/ only) so a missing lineage file reads as 404, not 403
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[artifacts.bucket_arn],
                conditions={"StringLike": {"s3:prefix": ["lineage/*"]}},
            )
        )
        _grant_customer_keys(role, table, artifacts)
        suppress(
            role,
            "AwsSolutions-IAM5",
            "Model archives (skills/) and lineage files (lineage/) have data-driven keys; "
            "actions listed one by one.",
            findings=[
                f"Resource::{nag_resource(self, artifacts.arn_for_objects('skills/*'))}",
                f"Resource::{nag_resource(self, artifacts.arn_for_objects('lineage/*'))}",
            ],
        )

    # --- SageMaker training role ------------------------------------------------------------------
    def _training_role(self, artifacts: s3.IBucket, crops: s3.IBucket, repository_arn: str) -> iam.Role:
        role = iam.Role(
            self,
            "TrainingJobRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="skillforge SageMaker training jobs: read channels, write skills/",
        )
        read_prefixes = ["datasets/*", "configs/*", "code/*", "models/*"]
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[artifacts.arn_for_objects(p) for p in read_prefixes]
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[artifacts.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [*read_prefixes, "skills/*"]}},
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[crops.arn_for_objects("crops/*")])
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[artifacts.arn_for_objects("skills/*")],
            )
        )
        for bucket in (artifacts, crops):
            if bucket.encryption_key is not None:
                bucket.encryption_key.grant_decrypt(role)
        if artifacts.encryption_key is not None:
            artifacts.encryption_key.grant_encrypt(role)
        log_arn = (
            f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:/aws/sagemaker/TrainingJobs"
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogStreams",
                ],
                resources=[log_arn, f"{log_arn}:*"],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
            )
        )
        role.add_to_policy(iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]))
        role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchCheckLayerAvailability",
                ],
                resources=[repository_arn],
            )
        )
        suppress(
            role,
            "AwsSolutions-IAM5",
            "The channels' prefixes of the artifacts bucket (datasets, configs, code, models), crops/ of the "
            "crops bucket and skills/ for the model output have data-driven keys; the job's log streams are "
            "named per job; PutMetricData (limited by namespace) and ecr:GetAuthorizationToken support no "
            "resource-level permissions.",
            findings=[
                "Resource::*",
                *(
                    f"Resource::{nag_resource(self, artifacts.arn_for_objects(p))}"
                    for p in [*read_prefixes, "skills/*"]
                ),
                f"Resource::{nag_resource(self, crops.arn_for_objects('crops/*'))}",
                "Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:"
                "/aws/sagemaker/TrainingJobs:*",
            ],
        )
        return role

    # --- state machine ----------------------------------------------------------------------------
    def _training_state(self, name: str, artifacts: s3.IBucket, spot: bool) -> sfn.CustomState:
        stopping: dict[str, Any] = {"MaxRuntimeInSeconds.$": "$.training.max_runtime_s"}
        parameters: dict[str, Any] = {
            "TrainingJobName.$": "$.job_name",
            "RoleArn": self.training_role.role_arn,
            "AlgorithmSpecification": {
                "TrainingImage.$": "$.training.image_uri",
                "TrainingInputMode": "File",
                "MetricDefinitions": metric_definitions(),
            },
            "HyperParameters.$": "$.hyperparameters",
            "InputDataConfig": [
                _channel("config", "$.config_uri"),
                _channel("dataset", "$.extracted.dataset_uri"),
                _channel("crops", "$.extracted.crops_manifest_uri", "ManifestFile"),
                _channel("models", "$.models_uri"),
            ],
            "OutputDataConfig": {
                "S3OutputPath.$": f"States.Format('s3://{artifacts.bucket_name}/skills/{{}}/', $.skill)"
            },
            "ResourceConfig": {
                "InstanceType.$": "$.training.instance_type",
                "InstanceCount.$": "$.training.instance_count",
                "VolumeSizeInGB.$": "$.training.volume_gb",
            },
            "StoppingCondition": stopping,
        }
        if spot:
            parameters["EnableManagedSpotTraining"] = True
            stopping["MaxWaitTimeInSeconds.$"] = "$.training.max_wait_s"
        state = sfn.CustomState(
            self,
            name,
            state_json={
                "Type": "Task",
                "Resource": f"arn:{Aws.PARTITION}:states:::sagemaker:createTrainingJob.sync",
                "Parameters": parameters,
                "ResultSelector": {
                    "TrainingJobName.$": "$.TrainingJobName",
                    "TrainingJobStatus.$": "$.TrainingJobStatus",
                    "ModelArtifacts.$": "$.ModelArtifacts",
                    "BillableTimeInSeconds.$": "$.BillableTimeInSeconds",
                },
                "ResultPath": "$.train",
            },
        )
        return state

    def _state_machine(self, stage: str, artifacts: s3.IBucket, sizing: TrainingSizing) -> sfn.StateMachine:
        failed = sfn.Fail(self, "MakeSkillFailed", cause="a make-skill step failed", error="MakeSkillFailed")
        too_long = sfn.Fail(
            self,
            "MaxRuntimeOverCap",
            error="MaxRuntimeOverCap",
            cause=f"training.max_runtime_s is over the deployment's cap of {sizing.max_runtime_cap_s} s",
        )
        check = sfn.Choice(self, "WithinRuntimeCap")
        extract = tasks.LambdaInvoke(
            self,
            "ExtractDataset",
            lambda_function=self.extract_fn,
            payload=sfn.TaskInput.from_object(
                {"skill": sfn.JsonPath.string_at("$.skill"), "dataset": sfn.JsonPath.object_at("$.dataset")}
            ),
            result_selector={"Payload.$": "$.Payload"},
            result_path="$.extracted_raw",
            retry_on_service_exceptions=True,
        )
        unwrap = sfn.Pass(
            self, "DatasetReady", input_path="$.extracted_raw.Payload", result_path="$.extracted"
        )
        spot_choice = sfn.Choice(self, "ManagedSpot")
        train_spot = self._training_state("TrainOnSpot", artifacts, spot=True)
        train_on_demand = self._training_state("TrainOnDemand", artifacts, spot=False)
        register = tasks.LambdaInvoke(
            self,
            "RegisterCandidate",
            lambda_function=self.register_fn,
            payload=sfn.TaskInput.from_object(
                {"model_artifacts": sfn.JsonPath.string_at("$.train.ModelArtifacts.S3ModelArtifacts")}
            ),
            payload_response_only=True,
            result_path="$.registered",
            retry_on_service_exceptions=True,
        )
        done = sfn.Succeed(self, "CandidateRegistered")
        for state in (extract, register):
            state.add_catch(failed, result_path="$.error")
        for training_state in (train_spot, train_on_demand):
            training_state.add_catch(failed, errors=["States.ALL"], result_path="$.error")
            training_state.next(register)
        register.next(done)
        definition = check.when(
            sfn.Condition.number_greater_than("$.training.max_runtime_s", sizing.max_runtime_cap_s), too_long
        ).otherwise(
            extract.next(unwrap).next(
                spot_choice.when(
                    sfn.Condition.boolean_equals("$.training.use_spot", True), train_spot
                ).otherwise(train_on_demand)
            )
        )
        log_group = logs.LogGroup(
            self, "StateMachineLogs", retention=sizing.log_retention, removal_policy=sizing.removal_policy
        )
        machine = sfn.StateMachine(
            self,
            "MakeSkill",
            state_machine_name=self.state_machine_name,
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=Duration.hours(sizing.state_machine_timeout_h),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        )
        training_job_arn = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:training-job/*"
        machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=[
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                ],
                resources=[training_job_arn],
            )
        )
        machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.training_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[
                    f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:rule/{SAGEMAKER_EVENTS_RULE}"
                ],
            )
        )
        suppress(
            machine,
            "AwsSolutions-IAM5",
            "Training job names are per run (training-job/*); CDK's LambdaInvoke grants the two functions' "
            "versions (<arn>:*); X-Ray and log delivery actions support no resource-level permissions.",
            findings=[
                "Resource::*",
                f"Resource::{nag_resource(self, self.extract_fn.function_arn)}:*",
                f"Resource::{nag_resource(self, self.register_fn.function_arn)}:*",
                "Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:training-job/*",
            ],
        )
        return machine


def _channel(name: str, uri_path: str, data_type: str = "S3Prefix") -> dict[str, Any]:
    """A training job input channel whose S3 URI comes from the execution state."""
    source = {"S3DataType": data_type, "S3Uri.$": uri_path, "S3DataDistributionType": "FullyReplicated"}
    return {"ChannelName": name, "DataSource": {"S3DataSource": source}}


def _grant_customer_keys(role: iam.IRole, table: dynamodb.ITable, artifacts: s3.IBucket) -> None:
    """Customer-managed keys of the table and the bucket, where they have one."""
    for key in (table.encryption_key, artifacts.encryption_key):
        if key is not None:
            key.grant_encrypt_decrypt(role)
