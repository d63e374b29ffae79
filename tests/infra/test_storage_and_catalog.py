"""Buckets and the catalog table in the synthesized template."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws
from aws_cdk.assertions import Match

from functions.core.base.resources import STATUS_INDEX, ResourceNames
from tests.infra.conftest import STAGE, Synthesized


def _bucket_policy_statements(synthesized: Synthesized, bucket_id: str) -> list[dict[str, Any]]:
    for policy in synthesized.of_type("AWS::S3::BucketPolicy").values():
        if policy["Properties"]["Bucket"] == {"Ref": bucket_id}:
            statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
            return statements
    return []


def _data_bucket_ids(synthesized: Synthesized) -> dict[str, str]:
    storage = synthesized.stack.storage
    return {
        "raw": synthesized.logical_id(storage.raw),
        "crops": synthesized.logical_id(storage.crops),
        "quarantine": synthesized.logical_id(storage.quarantine),
        "artifacts": synthesized.logical_id(storage.artifacts),
    }


def test_every_bucket_is_encrypted_private_and_retained(synthesized: Synthesized) -> None:
    # GIVEN the synthesized stage
    buckets = synthesized.of_type("AWS::S3::Bucket")
    # THEN there are the four data buckets plus the access-log bucket
    assert len(buckets) == 5
    for name, bucket in buckets.items():
        props = bucket["Properties"]
        # AND each one is encrypted at rest
        rules = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rules[0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}, name
        # AND blocks every kind of public access
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, name
        # AND survives a stack deletion (data is never deleted by CloudFormation)
        assert bucket["DeletionPolicy"] == "Retain", name


def test_every_bucket_denies_requests_without_tls(synthesized: Synthesized) -> None:
    # GIVEN every bucket of the stage
    for bucket_id in synthesized.of_type("AWS::S3::Bucket"):
        # WHEN its bucket policy is read
        statements = _bucket_policy_statements(synthesized, bucket_id)
        # THEN one statement denies every request that is not over TLS
        deny_plain_http = [
            s
            for s in statements
            if s["Effect"] == "Deny"
            and s["Condition"].get("Bool", {}).get("aws:SecureTransport") == "false"
            and s["Action"] == "s3:*"
        ]
        assert deny_plain_http, f"{bucket_id} has no SSL-only bucket policy"


def test_raw_and_artifacts_are_versioned_crops_and_quarantine_are_not(synthesized: Synthesized) -> None:
    # GIVEN the data buckets
    ids = _data_bucket_ids(synthesized)
    versioning = {
        role: synthesized.resources[logical]["Properties"].get("VersioningConfiguration", {}).get("Status")
        for role, logical in ids.items()
    }
    # THEN the data that matters (uploads, artifacts) is versioned; derived/temporary copies are not
    assert versioning == {"raw": "Enabled", "artifacts": "Enabled", "crops": None, "quarantine": None}


def test_lifecycle_rules_expire_old_versions_quarantine_copies_and_stale_uploads(
    synthesized: Synthesized,
) -> None:
    # GIVEN the stage config and the data buckets
    config = synthesized.stack.config
    ids = _data_bucket_ids(synthesized)

    def rules(role: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = synthesized.resources[ids[role]]["Properties"][
            "LifecycleConfiguration"
        ]["Rules"]
        return found

    # THEN every bucket aborts incomplete multipart uploads
    for role in ids:
        assert any("AbortIncompleteMultipartUpload" in rule for rule in rules(role)), role
    # AND versioned buckets expire noncurrent versions after the configured days
    for role in ("raw", "artifacts"):
        assert {
            rule.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays") for rule in rules(role)
        } == {config.noncurrent_version_expiry_days}
    # AND quarantined copies expire after the configured days
    assert [rule.get("ExpirationInDays") for rule in rules("quarantine")] == [config.quarantine_expiry_days]


def test_data_buckets_log_requests_to_the_access_log_bucket(synthesized: Synthesized) -> None:
    # GIVEN the access-log bucket
    logs_id = synthesized.logical_id(synthesized.stack.storage.access_logs)
    # THEN every data bucket sends its server access logs there, under its own prefix
    for role, logical in _data_bucket_ids(synthesized).items():
        logging = synthesized.resources[logical]["Properties"]["LoggingConfiguration"]
        assert logging == {"DestinationBucketName": {"Ref": logs_id}, "LogFilePrefix": f"{role}/"}


def test_resource_names_come_from_resource_names(synthesized: Synthesized) -> None:
    # GIVEN the shared naming rule (the local emulator uses it without a suffix)
    names = ResourceNames(stage=STAGE, suffix=f"{Aws.ACCOUNT_ID}-{Aws.REGION}")
    stack = synthesized.stack
    # WHEN the synthesized names are read
    actual = {
        "raw": synthesized.resources[synthesized.logical_id(stack.raw_bucket)]["Properties"]["BucketName"],
        "crops": synthesized.resources[synthesized.logical_id(stack.crops_bucket)]["Properties"][
            "BucketName"
        ],
        "quarantine": synthesized.resources[synthesized.logical_id(stack.quarantine_bucket)]["Properties"][
            "BucketName"
        ],
        "artifacts": synthesized.resources[synthesized.logical_id(stack.artifacts_bucket)]["Properties"][
            "BucketName"
        ],
        "table": synthesized.resources[synthesized.logical_id(stack.catalog_table)]["Properties"][
            "TableName"
        ],
        "queue": synthesized.resources[synthesized.logical_id(stack.ingest.queue)]["Properties"]["QueueName"],
        "dlq": synthesized.resources[synthesized.logical_id(stack.ingest.dlq)]["Properties"]["QueueName"],
    }
    # THEN they are exactly ResourceNames' (buckets suffixed with account and region)
    assert actual == {
        "raw": synthesized.resolve(names.raw_bucket),
        "crops": synthesized.resolve(names.crops_bucket),
        "quarantine": synthesized.resolve(names.quarantine_bucket),
        "artifacts": synthesized.resolve(names.artifacts_bucket),
        "table": names.catalog_table,
        "queue": names.detect_queue,
        "dlq": names.detect_dlq,
    }
    # AND the bucket names start with the local-mode names
    local = ResourceNames(stage=STAGE)
    assert actual["raw"]["Fn::Join"][1][0] == f"{local.raw_bucket}-"


def test_catalog_table_matches_the_catalog_adapter(synthesized: Synthesized) -> None:
    # GIVEN the catalog table
    synthesized.template.resource_count_is("AWS::DynamoDB::Table", 1)
    # THEN its keys and status index are the ones functions/core/base/catalog.py and local mode use,
    # AND it is on-demand, point-in-time recoverable and encrypted
    synthesized.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": Match.array_equals(
                [
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "kind_status", "AttributeType": "S"},
                ]
            ),
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": STATUS_INDEX,
                    "KeySchema": [
                        {"AttributeName": "kind_status", "KeyType": "HASH"},
                        {"AttributeName": "pk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
        },
    )
    # AND it survives a stack deletion
    synthesized.template.has_resource("AWS::DynamoDB::Table", {"DeletionPolicy": "Retain"})
