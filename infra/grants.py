"""Identity-policy helpers shared by the constructs: named actions on named resources, nothing broader."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from functions.core.base.resources import STATUS_INDEX


def allow(grantee: iam.IGrantable, actions: Sequence[str], resources: Sequence[str]) -> None:
    """One identity-policy statement: the named actions (no wildcards) on the given resources."""
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(actions=list(actions), resources=list(resources))
    )


def allow_objects(grantee: iam.IGrantable, actions: Sequence[str], bucket: s3.IBucket, prefix: str) -> None:
    """`actions` on the objects under `prefix` of `bucket` (`""`: every key)."""
    allow(grantee, actions, [bucket.arn_for_objects(f"{prefix}/*" if prefix else "*")])


def allow_items(grantee: iam.IGrantable, actions: Sequence[str], table: dynamodb.ITable) -> None:
    """Item `actions` on the catalog table, plus Query on its status index when asked for."""
    item_actions = [a for a in actions if a != "dynamodb:Query"]
    if item_actions:
        allow(grantee, item_actions, [table.table_arn])
    if "dynamodb:Query" in actions:
        allow(grantee, ["dynamodb:Query"], [f"{table.table_arn}/index/{STATUS_INDEX}"])
