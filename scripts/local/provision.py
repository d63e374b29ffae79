"""Creates the stack's data resources (same names as the CDK stack) in an emulator or moto."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from functions.core.base.resources import STATUS_INDEX, ResourceNames

DETECT_MAX_RECEIVE_COUNT = 3  # receives of an upload's message before it is given up on (then the DLQ)


def provision(names: ResourceNames, s3: Any, dynamodb: Any, sqs: Any) -> dict[str, str]:
    """Buckets, catalog table (with its status index), detect queue + DLQ, S3 → SQS notification.

    Idempotent: existing resources are kept. Returns the detect queue URL under "detect_queue_url".
    """
    for bucket in names.buckets():
        try:
            s3.create_bucket(Bucket=bucket)
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                raise
    _create_table(names.catalog_table, dynamodb)
    dlq_url = sqs.create_queue(QueueName=names.detect_dlq)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = sqs.create_queue(
        QueueName=names.detect_queue,
        Attributes={
            "VisibilityTimeout": "30",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(DETECT_MAX_RECEIVE_COUNT)}
            ),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    s3.put_bucket_notification_configuration(
        Bucket=names.raw_bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    return {"detect_queue_url": queue_url, "detect_dlq_url": dlq_url}


def _create_table(name: str, dynamodb: Any) -> None:
    try:
        dynamodb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "kind_status", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": STATUS_INDEX,
                    "KeySchema": [
                        {"AttributeName": "kind_status", "KeyType": "HASH"},
                        {"AttributeName": "pk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceInUseException":
            raise
        return
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
    )
