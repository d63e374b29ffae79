"""Alarms → one encrypted SNS topic (optionally e-mailed). Other constructs add their own alarms here."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

_PERIOD = Duration.minutes(5)


class Monitoring(Construct):
    """The alarm topic (KMS-encrypted with a rotating key CloudWatch may use) and alarm helpers."""

    def __init__(
        self, scope: Construct, construct_id: str, *, alarm_email: str | None, removal_policy: RemovalPolicy
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "AlarmTopicKey",
            description="Encrypts the skillforge alarm topic",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        # CloudWatch alarms publish to an encrypted topic only if the key lets CloudWatch use it.
        self.key.grant(
            iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*"
        )
        self.topic = sns.Topic(self, "AlarmTopic", master_key=self.key, enforce_ssl=True)
        self.topic.apply_removal_policy(removal_policy)
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self.alarms: list[cloudwatch.Alarm] = []

    def add_alarm(self, alarm: cloudwatch.Alarm) -> cloudwatch.Alarm:
        """Send `alarm`'s state changes (alarm and back to OK) to the alarm topic."""
        action = cw_actions.SnsAction(self.topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
        self.alarms.append(alarm)
        return alarm

    def watch_dead_letter_queue(self, construct_id: str, dlq: sqs.IQueue, what: str) -> cloudwatch.Alarm:
        """Alarm as soon as one message waits in `dlq` (something was not processed)."""
        return self.add_alarm(
            dlq.metric_approximate_number_of_messages_visible(
                period=_PERIOD, statistic="Maximum"
            ).create_alarm(
                self,
                construct_id,
                alarm_description=f"{what}: messages in the dead-letter queue need a look and a redrive",
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
        )

    def watch_queue_age(
        self, construct_id: str, queue: sqs.IQueue, what: str, max_age: Duration
    ) -> cloudwatch.Alarm:
        """Alarm when the oldest message of `queue` waits longer than `max_age` (work is stuck)."""
        return self.add_alarm(
            queue.metric_approximate_age_of_oldest_message(period=_PERIOD, statistic="Maximum").create_alarm(
                self,
                construct_id,
                alarm_description=f"{what}: the oldest message waits longer than {max_age.to_human_string()}",
                threshold=max_age.to_seconds(),
                evaluation_periods=3,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
        )

    def watch_function_errors(
        self, construct_id: str, function: lambda_.IFunction, what: str
    ) -> cloudwatch.Alarm:
        """Alarm when `function` raises (an invocation error, not a quarantined image)."""
        return self.add_alarm(
            function.metric_errors(period=_PERIOD, statistic="Sum").create_alarm(
                self,
                construct_id,
                alarm_description=f"{what}: the function failed invocations",
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
        )
