"""Notifications: the notify Lambda, its Slack secret and email topic, and the EventBridge rules that
feed it (SageMaker training job state changes; train-and-gate executions that end badly)."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.checkov import skip_check
from infra.constructs.python_code import FunctionDefaults, zip_function
from infra.nag import acknowledge_function_basics, suppress

REPORT_OBJECTS = "skills/*/evaluation/report.pdf"


def _bucket_token(scope: Construct, bucket: s3.IBucket) -> str:
    """The bucket's logical id as cdk-nag writes it in a finding."""
    return Stack.of(scope).get_logical_id(bucket.node.default_child)  # type: ignore[arg-type]


class Notifications(Construct):
    """Slack (incoming webhook; URL in Secrets Manager) and email (SNS) for the whole pipeline."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        defaults: FunctionDefaults,
        table: dynamodb.ITable,
        email_addresses: list[str] | None = None,
        training_job_prefix: str = "skillforge-",
        slack_secret_name: str | None = None,
        reports_bucket: s3.IBucket | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.slack_secret = secretsmanager.Secret(
            self,
            "SlackWebhook",
            secret_name=slack_secret_name,
            description=(
                f"skillforge {defaults.stage}: Slack incoming webhook URL (set the value after deploy; "
                'a plain URL or {"url": ...})'
            ),
        )
        self.topic = sns.Topic(
            self,
            "Email",
            display_name=f"skillforge {defaults.stage}",
            enforce_ssl=True,
            master_key=kms.Alias.from_alias_name(self, "SnsKey", "alias/aws/sns"),
        )
        for address in email_addresses or []:
            self.topic.add_subscription(subscriptions.EmailSubscription(address))
        self.function = zip_function(
            self,
            "Notify",
            module="notify",
            description="Slack + email notifications",
            defaults=defaults,
            environment={
                "SKILLFORGE_SLACK_SECRET_ID": self.slack_secret.secret_arn,
                "SKILLFORGE_EMAIL_TOPIC_ARN": self.topic.topic_arn,
                "SKILLFORGE_CATALOG_TABLE": table.table_name,
            },
        )
        acknowledge_function_basics(self, [self.function])
        skip_check(
            self.slack_secret,
            "CKV_AWS_149",
            "The webhook URL is encrypted with Secrets Manager's AWS-managed key; only the notify role "
            "reads it.",
        )
        skip_check(
            self.function,
            "CKV_AWS_116",
            "Failed asynchronous invokes (EventBridge) go to the notify DLQ through an on-failure "
            "destination (EventInvokeConfig), which this check does not read; Step Functions invokes it "
            "synchronously.",
        )
        self.slack_secret.grant_read(self.function)
        if reports_bucket is not None:
            # the presigned report link in a message is signed with this function's role: it may read
            # the gate's PDF reports, nothing else (the bucket is S3-managed encrypted: no key grant)
            self.function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["s3:GetObject"],
                    resources=[reports_bucket.arn_for_objects(REPORT_OBJECTS)],
                )
            )
            suppress(
                self.function,
                "AwsSolutions-IAM5",
                "The presigned report link needs s3:GetObject on every skill version's gate report "
                f"({REPORT_OBJECTS}): versions are created at run time.",
                findings=[f"Resource::<{_bucket_token(self, reports_bucket)}.Arn>/{REPORT_OBJECTS}"],
            )
        self.topic.grant_publish(self.function)
        # idempotency markers only: one notification per (execution, outcome)
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:PutItem"],
                resources=[table.table_arn],
                conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["notified#*"]}},
            )
        )
        self.dead_letters = sqs.Queue(
            self,
            "NotifyDlq",
            retention_period=Duration.days(14),
            enforce_ssl=True,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
        )
        # A notification the function raises on (an event it cannot read) is retried, then kept in the DLQ
        # with the error (Lambda's on-failure record carries the request and the error message).
        self.function.configure_async_invoke(
            retry_attempts=2,
            max_event_age=Duration.hours(6),
            on_failure=destinations.SqsDestination(self.dead_letters),
        )
        self._target_kwargs: dict[str, Any] = {
            "retry_attempts": 4,
            "max_event_age": Duration.hours(6),
            "dead_letter_queue": self.dead_letters,
        }
        self.training_rule = self._rule(
            "TrainingJobStateChange",
            "SageMaker training jobs of skillforge: Completed / Failed / Stopped → notify",
            "aws.sagemaker",
            "SageMaker Training Job State Change",
            {
                "TrainingJobStatus": ["Completed", "Failed", "Stopped"],
                "TrainingJobName": [{"prefix": training_job_prefix}],
            },
        )
        suppress(
            self.slack_secret,
            "AwsSolutions-SMG4",
            "A Slack incoming webhook URL is issued by Slack and cannot be rotated by a Lambda; "
            "it is replaced by hand when revoked.",
        )
        suppress(
            self.function,
            "AwsSolutions-IAM5",
            "Publishing to the topic encrypted with the AWS-managed alias/aws/sns key: SNS's grant "
            "names the key by its alias, so the policy carries kms:GenerateDataKey* on key/* of this "
            "account and region.",
            findings=[
                "Action::kms:GenerateDataKey*",
                "Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*",
            ],
        )
        suppress(
            self.dead_letters, "AwsSolutions-SQS3", "This queue is the dead-letter queue of the notify rules."
        )

    def watch(self, state_machine: sfn.IStateMachine) -> events.Rule:
        """Notify when an execution fails, times out or is aborted (the ends the machine cannot report
        itself; a failure it already reported is not sent twice)."""
        return self._rule(
            f"Outcome{state_machine.node.id}",
            "train-and-gate executions that ended badly → notify",
            "aws.states",
            "Step Functions Execution Status Change",
            {
                "status": ["FAILED", "TIMED_OUT", "ABORTED"],
                "stateMachineArn": [state_machine.state_machine_arn],
            },
        )

    def _rule(
        self, rule_id: str, description: str, source: str, detail_type: str, detail: dict[str, Any]
    ) -> events.Rule:
        """An EventBridge rule → the notify function (retried, then kept in the dead-letter queue)."""
        return events.Rule(
            self,
            rule_id,
            description=description,
            event_pattern=events.EventPattern(source=[source], detail_type=[detail_type], detail=detail),
            targets=[targets.LambdaFunction(self.function, **self._target_kwargs)],
        )
