"""The catalog table: images, crops and group splits, one string key `pk` (functions/core/base/catalog.py)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from functions.core.base.resources import STATUS_INDEX
from infra.checkov import skip_check


class Catalog(Construct):
    """On-demand, point-in-time-recoverable, encrypted, and retained when the stack is deleted."""

    def __init__(self, scope: Construct, construct_id: str, *, table_name: str) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            table_name=table_name,
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.RETAIN,
            time_to_live_attribute="expires_at",  # short-lived items only (the notify idempotency markers)
        )
        self.table.add_global_secondary_index(
            index_name=STATUS_INDEX,
            partition_key=dynamodb.Attribute(name="kind_status", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        skip_check(
            self.table,
            "CKV_AWS_119",
            "Encrypted with the AWS-managed KMS key (aws/dynamodb); access is by IAM on this table, which a "
            "customer key would not narrow further.",
        )
