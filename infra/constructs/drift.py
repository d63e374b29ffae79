"""Drift monitor: a daily Lambda scores yesterday's photos and served answers against the training
reference and emits `DriftScore` (EMF); an alarm on it goes to the alarm topic (the notifications)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from functions.core.base.schedules import DRIFT
from functions.core.monitoring.settings import METRIC_NAMESPACE, SCORE_METRIC, DriftSettings
from infra.checkov import skip_check
from infra.constructs.monitoring import Monitoring
from infra.constructs.python_code import FunctionDefaults, zip_function
from infra.nag import acknowledge_function_basics, nag_resource, suppress
from infra.schedules import event_schedule


class DriftMonitor(Construct):
    """drift Lambda (daily, 01:00 UTC) · catalog read access · DriftScore alarm → alarm topic."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        defaults: FunctionDefaults,
        table: dynamodb.ITable,
        monitoring: Monitoring,
        skill: str = "car-make",
    ) -> None:
        super().__init__(scope, construct_id)
        settings = DriftSettings()
        self.function = zip_function(
            self,
            "Function",
            module="drift",
            description="daily drift of photos and answers against the training reference",
            defaults=defaults,
            environment={"SKILLFORGE_CATALOG_TABLE": table.table_name, "SKILLFORGE_DRIFT_SKILL": skill},
            timeout=Duration.minutes(15),
            memory_mb=1024,
        )
        acknowledge_function_basics(self, [self.function])
        table.grant_read_data(self.function)  # scans images, crops and group splits; reads nothing else
        suppress(
            self.function,
            "AwsSolutions-IAM5",
            "grant_read_data adds the table's indexes; the monitor only scans the table itself.",
            findings=[f"Resource::{nag_resource(self, table.table_arn)}/index/*"],
        )
        # A run that fails (after Lambda's retries) is kept, with its error, in a dead-letter queue that
        # the monitoring watches; so is an event EventBridge could not deliver.
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=defaults.removal_policy,
        )
        suppress(
            self.dead_letters, "AwsSolutions-SQS3", "This queue is the drift monitor's dead-letter queue."
        )
        self.function.configure_async_invoke(
            retry_attempts=2,
            max_event_age=Duration.hours(6),
            on_failure=destinations.SqsDestination(self.dead_letters),
        )
        skip_check(
            self.function,
            "CKV_AWS_116",
            "Failed asynchronous invokes go to the drift DLQ through an on-failure destination "
            "(EventInvokeConfig), which this check does not read.",
        )
        self.schedule = events.Rule(
            self,
            "Daily",
            description=f"skillforge {defaults.stage}: {DRIFT.description}",
            schedule=event_schedule(DRIFT),
            targets=[
                targets.LambdaFunction(self.function, retry_attempts=2, dead_letter_queue=self.dead_letters)
            ],
        )
        monitoring.watch_dead_letter_queue("DriftDlqAlarm", self.dead_letters, "drift")
        metric = cloudwatch.Metric(
            namespace=METRIC_NAMESPACE,
            metric_name=SCORE_METRIC,
            dimensions_map={"Deployment": defaults.stage, "Skill": skill},
            period=Duration.days(1),
            statistic="Maximum",
        )
        self.alarm = monitoring.add_alarm(
            metric.create_alarm(
                self,
                "DriftAlarm",
                alarm_description=(
                    f"{skill} ({defaults.stage}): incoming photos or served answers drifted from the "
                    f"training reference (PSI ≥ {settings.alarm_threshold}); `skillforge drift` shows it"
                ),
                threshold=settings.alarm_threshold,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,  # a day without photos: no data
            )
        )
