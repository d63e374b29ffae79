"""Raw uploads → S3 ObjectCreated notification → the detect queue (with its dead-letter queue)."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from constructs import Construct

# The longest SQS allows: a message that failed max_receive_count times waits here for a redrive.
_DLQ_RETENTION = Duration.days(14)


@dataclass(frozen=True)
class QueueSettings:
    queue_name: str
    dlq_name: str
    visibility_timeout_seconds: int
    max_receive_count: int
    removal_policy: RemovalPolicy


class Ingest(Construct):
    """Every object created in `raw_bucket` becomes a message on `queue`; poison messages land in `dlq`.

    SQS-managed encryption (SSE-SQS) lets S3 publish without a KMS key policy; both queues refuse
    plain-HTTP requests.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, raw_bucket: s3.IBucket, settings: QueueSettings
    ) -> None:
        super().__init__(scope, construct_id)
        self.dlq = sqs.Queue(
            self,
            "DeadLetterQueue",
            queue_name=settings.dlq_name,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=_DLQ_RETENTION,
            removal_policy=settings.removal_policy,
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            queue_name=settings.queue_name,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(settings.visibility_timeout_seconds),
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dlq, max_receive_count=settings.max_receive_count
            ),
            removal_policy=settings.removal_policy,
        )
        raw_bucket.add_event_notification(s3.EventType.OBJECT_CREATED, s3n.SqsDestination(self.queue))
