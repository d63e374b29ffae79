"""Notifications: the notify Lambda, its Slack secret and email topic, and the EventBridge rules that
feed it (SageMaker training job state changes; train-and-gate executions that end badly)."""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

PYTHON_RUNTIME = lambda_.Runtime.PYTHON_3_11


XRAY_REASON = (
    "X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) have no resource-level permissions."
)


def acknowledge(construct: Construct, rules: dict[str, str]) -> None:
    """cdk-nag acknowledgements, each with its written reason."""
    Validations.of(construct).acknowledge(
        *(Acknowledgment(id=rule, reason=why) for rule, why in rules.items())
    )


def acknowledge_function_basics(function: lambda_.Function) -> None:
    acknowledge(
        function,
        {
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaBasicExecutionRole]": (
                "AWSLambdaBasicExecutionRole only lets the function write its own CloudWatch logs."
            ),
            "AwsSolutions-IAM5[Resource::*]": XRAY_REASON,
        },
    )
    if isinstance(function.runtime, lambda_.Runtime) and function.runtime.name == PYTHON_RUNTIME.name:
        acknowledge(
            function, {"AwsSolutions-L1": "The project targets Python 3.11 (pyproject requires-python)."}
        )


def powertools_env(stage: str, service: str) -> dict[str, str]:
    return {
        "POWERTOOLS_SERVICE_NAME": service,
        "POWERTOOLS_METRICS_NAMESPACE": f"skillforge-{stage}",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "SKILLFORGE_STAGE": stage,
    }


def log_group(scope: Construct, name: str) -> logs.LogGroup:
    return logs.LogGroup(
        scope, f"{name}Logs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
    )


def zip_function(
    scope: Construct,
    name: str,
    *,
    code: lambda_.Code,
    handler: str,
    stage: str,
    environment: dict[str, str],
    layers: list[lambda_.ILayerVersion] | None = None,
    timeout: Duration = Duration.seconds(60),
    memory_mb: int = 512,
) -> lambda_.Function:
    """A Python zip function with the project's defaults (powertools env, tracing, log retention)."""
    function = lambda_.Function(
        scope,
        name,
        runtime=PYTHON_RUNTIME,
        code=code,
        handler=handler,
        layers=layers,
        timeout=timeout,
        memory_size=memory_mb,
        tracing=lambda_.Tracing.ACTIVE,
        environment={**powertools_env(stage, name.lower()), **environment},
        log_group=log_group(scope, name),
    )
    acknowledge_function_basics(function)
    return function


class Notifications(Construct):
    """Slack (incoming webhook; URL in Secrets Manager) and email (SNS) for the whole pipeline."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        table: dynamodb.ITable,
        code: lambda_.Code,
        layers: list[lambda_.ILayerVersion] | None = None,
        email_addresses: list[str] | None = None,
        training_job_prefix: str = "skillforge-",
    ) -> None:
        super().__init__(scope, construct_id)
        self.slack_secret = secretsmanager.Secret(
            self,
            "SlackWebhook",
            description=(
                f"skillforge {stage}: Slack incoming webhook URL (set the value after deploy; "
                'a plain URL or {"url": ...})'
            ),
        )
        self.topic = sns.Topic(
            self,
            "Email",
            display_name=f"skillforge {stage}",
            enforce_ssl=True,
            master_key=kms.Alias.from_alias_name(self, "SnsKey", "alias/aws/sns"),
        )
        for address in email_addresses or []:
            self.topic.add_subscription(subscriptions.EmailSubscription(address))
        self.function = zip_function(
            self,
            "Notify",
            code=code,
            handler="functions.notify.handler.handler",
            stage=stage,
            layers=layers,
            environment={
                "SKILLFORGE_SLACK_SECRET_ID": self.slack_secret.secret_arn,
                "SKILLFORGE_EMAIL_TOPIC_ARN": self.topic.topic_arn,
                "SKILLFORGE_CATALOG_TABLE": table.table_name,
            },
        )
        self.slack_secret.grant_read(self.function)
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
        acknowledge(
            self.slack_secret,
            {
                "AwsSolutions-SMG4": "A Slack incoming webhook URL is issued by Slack and cannot be rotated "
                "by a Lambda; it is replaced by hand when revoked."
            },
        )
        acknowledge(
            self.dead_letters,
            {"AwsSolutions-SQS3": "This queue is the dead-letter queue of the notify EventBridge targets."},
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
