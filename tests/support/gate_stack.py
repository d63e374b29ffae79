"""A small test stack composing the gate constructs the way the foundation stack should."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import App, Duration, Size, Stack, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from cdk_nag import AwsSolutionsChecks

from functions.core.skills.deployment import MappingFile
from infra.constructs.notifications import Notifications
from infra.constructs.python_code import FunctionDefaults
from infra.constructs.regression import SkillVersions, TrainAndGate
from infra.nag import nag_resource, suppress

# What CDK's SageMakerCreateTrainingJob task grants on its S3 output (wildcards by CDK's design).
S3_GRANT_ACTIONS = ("s3:GetObject*", "s3:GetBucket*", "s3:List*", "s3:DeleteObject*", "s3:Abort*")


def sagemaker_training_step(stack: Stack, bucket: s3.IBucket) -> sfn.TaskStateBase:
    """What the training construct provides: createTrainingJob.sync, output at $.training."""
    return tasks.SageMakerCreateTrainingJob(
        stack,
        "Train",
        training_job_name=sfn.JsonPath.format(
            "skillforge-{}-{}", sfn.JsonPath.string_at("$.skill"), sfn.JsonPath.string_at("$$.Execution.Name")
        ),
        algorithm_specification=tasks.AlgorithmSpecification(
            training_image=tasks.DockerImage.from_registry(
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/skillforge-training:1"
            ),
        ),
        input_data_config=[
            tasks.Channel(
                channel_name="train",
                data_source=tasks.DataSource(
                    s3_data_source=tasks.S3DataSource(
                        s3_location=tasks.S3Location.from_bucket(bucket, "datasets/")
                    )
                ),
            )
        ],
        output_data_config=tasks.OutputDataConfig(
            s3_output_location=tasks.S3Location.from_bucket(bucket, "training/")
        ),
        resource_config=tasks.ResourceConfig(
            instance_count=1,
            instance_type=__import__("aws_cdk.aws_ec2", fromlist=["InstanceType"]).InstanceType("g5.xlarge"),
            volume_size=Size.gibibytes(30),
        ),
        stopping_condition=tasks.StoppingCondition(max_runtime=Duration.hours(2)),
        integration_pattern=sfn.IntegrationPattern.RUN_JOB,
        result_path="$.training",
    )


def gate_stack(mapping: Path) -> tuple[App, Stack, TrainAndGate, Notifications]:
    app = App()
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    stack = Stack(app, "GateTest")
    table = dynamodb.TableV2(
        stack, "Catalog", partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING)
    )
    artifacts = s3.Bucket(stack, "Artifacts", enforce_ssl=True)
    raw = s3.Bucket(stack, "Raw", enforce_ssl=True)
    code = lambda_.Code.from_inline("def handler(event, context):\n    return event\n")
    defaults = FunctionDefaults(code=code, stage="test")
    notifications = Notifications(
        stack, "Notifications", defaults=defaults, table=table, email_addresses=["ml@example.com"]
    )
    step = sagemaker_training_step(stack, artifacts)
    gate = TrainAndGate(
        stack,
        "TrainAndGate",
        defaults=defaults,
        train_step=step,
        table=table,
        artifacts_bucket=artifacts,
        raw_bucket=raw,
        evaluate_code=lambda_.DockerImageCode.from_ecr(
            ecr.Repository(stack, "Images"), tag_or_digest="evaluate"
        ),
        notify_function=notifications.function,
    )
    notifications.watch(gate.state_machine)
    SkillVersions(stack, "SkillVersions", stage="test", mapping=MappingFile(mapping))
    stand_in = "test stand-in for the foundation stack's buckets and the training construct's task"
    for bucket in (artifacts, raw):
        suppress(bucket, "AwsSolutions-S1", stand_in)
    findings = [
        "Resource::*",
        *(f"Action::{a}" for a in S3_GRANT_ACTIONS),
        f"Resource::{nag_resource(stack, artifacts.bucket_arn)}/datasets/*",
        f"Resource::{nag_resource(stack, artifacts.bucket_arn)}/training/*",
    ]
    suppress(step, "AwsSolutions-IAM5", stand_in, findings=findings)
    return app, stack, gate, notifications
