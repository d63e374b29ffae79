"""The make-skill state machine construct alone in a small test stack (template tests, moto runs)."""

from __future__ import annotations

from typing import Any

from aws_cdk import App, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3

from infra.constructs.python_code import FunctionDefaults
from infra.constructs.training import Training

REGISTRY = "763104351884.dkr.ecr.us-east-1.amazonaws.com"
IMAGE = f"{REGISTRY}/pytorch-training:2.5.1-gpu-py311-cu124-ubuntu22.04-sagemaker"


def training_stack(app: App, stage: str = "test") -> tuple[Stack, Training, s3.Bucket]:
    stack = Stack(app, "TrainingTest")
    bucket_props: dict[str, Any] = {
        "encryption": s3.BucketEncryption.S3_MANAGED,
        "enforce_ssl": True,
        "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
        "server_access_logs_prefix": "access/",
        "versioned": True,
    }
    artifacts = s3.Bucket(stack, "Artifacts", **bucket_props)
    crops = s3.Bucket(stack, "Crops", **bucket_props)
    table = dynamodb.TableV2(
        stack,
        "Catalog",
        partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
    )
    training = Training(
        stack,
        "Training",
        stage=stage,
        functions=FunctionDefaults(
            code=lambda_.Code.from_inline("def handler(event, context):\n    return event\n"), stage=stage
        ),
        training_image_uri=IMAGE,
        artifacts_bucket=artifacts,
        crops_bucket=crops,
        table=table,
        split_salt="test-salt",
    )
    return stack, training, artifacts
