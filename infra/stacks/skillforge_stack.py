"""One skillforge stage: storage, catalog, ingest → detection, crowd labelling, expert review, training
(make-skill), the train-and-gate regression gate with its notifications, deployed skill versions, monitoring.

Later capabilities (labelling, review, training, notifications) are constructs that take the
resources they need from this stack's attributes: `raw_bucket`, `crops_bucket`, `quarantine_bucket`,
`artifacts_bucket`, `catalog_table`, `alarm_topic`, and `monitoring` to add their own alarms; zip
functions reuse `function_defaults(...)` (the shared code asset and dependencies layer).
"""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import Aspects, Aws, CfnOutput, Duration, RemovalPolicy, Stack, Tags
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from functions.core.base.resources import ResourceNames
from functions.core.serving.config import CascadeConfig
from functions.core.skills.deployment import MappingFile
from infra.artifacts import EVALUATE_IMAGE
from infra.checkov import CheckovAcknowledgements, skip_check
from infra.config import LOG_RETENTION_DAYS, StageConfig
from infra.constructs.catalog import Catalog
from infra.constructs.detection import DetectImage, Detection, DetectorKnobs, DetectSizing
from infra.constructs.drift import DriftMonitor
from infra.constructs.ingest import Ingest, QueueSettings
from infra.constructs.labelling import Labelling, LabellingConfig
from infra.constructs.monitoring import Monitoring
from infra.constructs.notifications import Notifications
from infra.constructs.python_code import DependenciesLayer, FunctionDefaults, function_code
from infra.constructs.regression import SkillVersions, TrainAndGate
from infra.constructs.review import Review, ReviewConfig
from infra.constructs.serving import REPROCESS_HANDLER, Serving, ServingSizing
from infra.constructs.storage import Storage, StorageRetention
from infra.constructs.training import Training, TrainingSizing
from infra.nag import suppress

CLOUD_NAME_SUFFIX = f"{Aws.ACCOUNT_ID}-{Aws.REGION}"


def cloud_names(stage: str) -> ResourceNames:
    """The stage's resource names in the cloud: the shared naming rule, buckets suffixed account-region."""
    return ResourceNames(stage=stage, suffix=CLOUD_NAME_SUFFIX)


def stack_name(stage: str) -> str:
    return f"skillforge-{stage}"


class SkillforgeStack(Stack):
    """The foundation of one stage (see DESIGN.md): upload → detect → crops + catalog, alarms."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        config: StageConfig,
        repo_root: Path,
        models_dir: Path,
        code_version: str,
        skill_versions: MappingFile | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        Tags.of(self).add("project", "skillforge")
        Tags.of(self).add("stage", stage)
        self.stage_name = stage
        self.config = config
        self.names = cloud_names(stage)
        removal = RemovalPolicy.DESTROY if config.removal_policy == "destroy" else RemovalPolicy.RETAIN
        self.removal_policy = removal
        self.log_retention = logs.RetentionDays[LOG_RETENTION_DAYS[config.log_retention_days]]
        self.code_version = code_version

        self.storage = Storage(
            self,
            "Storage",
            names=self.names,
            retention=StorageRetention(
                noncurrent_version_days=config.noncurrent_version_expiry_days,
                quarantine_days=config.quarantine_expiry_days,
                access_log_days=config.access_log_expiry_days,
            ),
        )
        self.catalog = Catalog(self, "Catalog", table_name=self.names.catalog_table)
        self.monitoring = Monitoring(
            self, "Monitoring", alarm_email=config.alarm_email, removal_policy=removal
        )
        self.ingest = Ingest(
            self,
            "Ingest",
            raw_bucket=self.raw_bucket,
            settings=QueueSettings(
                queue_name=self.names.detect_queue,
                dlq_name=self.names.detect_dlq,
                visibility_timeout_seconds=config.queue_visibility_timeout_seconds,
                max_receive_count=config.detect_max_receive_count,
                removal_policy=removal,
            ),
        )
        detect_image = DetectImage(
            repo_root=repo_root,
            models_dir=models_dir,
            detector_model=config.detector_model,
            code_version=code_version,
        )
        self.detection = Detection(
            self,
            "Detection",
            stage=stage,
            image=detect_image,
            sizing=DetectSizing(
                memory_mb=config.detect_memory_mb,
                timeout_seconds=config.detect_timeout_seconds,
                batch_size=config.detect_batch_size,
                max_batching_window_seconds=config.detect_max_batching_window_seconds,
                max_concurrency=config.detect_max_concurrency,
                reserved_concurrency=config.detect_reserved_concurrency,
                log_retention=self.log_retention,
                removal_policy=removal,
            ),
            knobs=DetectorKnobs(
                detector_model=config.detector_model,
                detector_version=config.detector_version,
                vehicle_classes=tuple(config.vehicle_classes),
                confidence=config.confidence,
                fallback_confidence=config.fallback_confidence,
                log_level=config.log_level,
            ),
            queue=self.ingest.queue,
            dead_letter_queue=self.ingest.dlq,
            max_receive_count=config.detect_max_receive_count,
            raw_bucket=self.raw_bucket,
            crops_bucket=self.crops_bucket,
            quarantine_bucket=self.quarantine_bucket,
            artifacts_bucket=self.artifacts_bucket,
            table=self.catalog_table,
        )
        self.function_code = function_code(repo_root)
        self.zip_dependencies = DependenciesLayer(self, "ZipDependencies", repo_root=repo_root)
        self._compose_labelling_and_review(config)
        self._compose_training_and_gate(config, detect_image, skill_versions or MappingFile())
        self.serving = Serving(
            self,
            "Serving",
            stage=stage,
            cascade=CascadeConfig.from_file(repo_root / "infra" / "cascade.json"),
            detect_function=self.detection.function,
            reprocess_code=detect_image.code(cmd=[REPROCESS_HANDLER]),
            artifacts_bucket=self.artifacts_bucket,
            crops_bucket=self.crops_bucket,
            table=self.catalog_table,
            monitoring=self.monitoring,
            sizing=ServingSizing(log_retention=self.log_retention),
        )
        defaults = self.function_defaults()
        self.drift = DriftMonitor(
            self,
            "Drift",
            defaults=defaults,
            table=self.catalog_table,
            artifacts_bucket=self.artifacts_bucket,
            monitoring=self.monitoring,
        )
        self.monitoring.watch_dead_letter_queue("DetectDlqAlarm", self.ingest.dlq, "detect")
        self.monitoring.watch_function_errors("DetectErrorsAlarm", self.detection.function, "detect")
        self.monitoring.watch_queue_age(
            "DetectBacklogAlarm",
            self.ingest.queue,
            "detect",
            max_age=Duration.seconds(2 * config.queue_visibility_timeout_seconds),
        )
        self._acknowledge_cdk_internals()
        Aspects.of(self).add(CheckovAcknowledgements())

    def function_defaults(self) -> FunctionDefaults:
        """What every zip function of this stage shares: code, dependencies layer, logs, code version."""
        return FunctionDefaults(
            code=self.function_code,
            stage=self.stage_name,
            layers=[self.zip_dependencies.layer],
            log_retention=self.log_retention,
            removal_policy=self.removal_policy,
            log_level=self.config.log_level,
            environment={"SKILLFORGE_CODE_VERSION": self.code_version},
        )

    def _compose_labelling_and_review(self, config: StageConfig) -> None:
        defaults = self.function_defaults()
        # Ground Truth's worker UI loads crops through presigned URLs from the browser, so S3 must answer
        # cross-origin GETs. CORS grants no access: every object still needs a URL signed by the job's role.
        self.crops_bucket.add_cors_rule(
            id="ground-truth-workers",
            allowed_methods=[s3.HttpMethods.GET],
            allowed_origins=["*"],
            exposed_headers=["Access-Control-Allow-Origin"],
            max_age=3600,
        )
        self.labelling = Labelling(
            self,
            "Labelling",
            defaults=defaults,
            config=LabellingConfig(
                workforce=config.labelling_workforce,
                workteam_arn=config.labelling_workteam_arn,
                workers_per_crop=config.labelling_workers_per_crop,
                seconds_per_task=config.labelling_seconds_per_task,
                hourly_rate_usd=config.labelling_hourly_rate_usd,
                batch_size=config.labelling_batch_size,
                max_age_minutes=config.labelling_max_age_minutes,
                jobs_per_run=config.labelling_jobs_per_run,
                handoff_every_minutes=config.labelling_handoff_every_minutes,
            ),
            crops_bucket=self.crops_bucket,
            artifacts_bucket=self.artifacts_bucket,
            table=self.catalog_table,
        )
        self.review = Review(
            self,
            "Review",
            defaults=defaults,
            config=ReviewConfig(
                domain_prefix=config.review_domain_prefix or f"skillforge-{self.stage_name}-{Aws.ACCOUNT_ID}"
            ),
            crops_bucket=self.crops_bucket,
            artifacts_bucket=self.artifacts_bucket,
            table=self.catalog_table,
        )
        CfnOutput(self, "ReviewPageUrl", value=self.review.page_url, description="expert review page")
        CfnOutput(
            self,
            "ReviewUserPoolId",
            value=self.review.user_pool.user_pool_id,
            description="Cognito user pool of the experts (create users with admin-create-user)",
        )
        self.monitoring.watch_dead_letter_queue(
            "LabellingDlqAlarm", self.labelling.dead_letter_queue, "labelling"
        )
        for function in [*self.labelling.functions(), self.review.function]:
            capability = function.node.scope.node.id  # type: ignore[union-attr]
            name = f"{capability}{function.node.id}"
            self.monitoring.watch_function_errors(
                f"{name}ErrorsAlarm", function, f"{capability.lower()} {function.node.id}"
            )

    def _compose_training_and_gate(
        self, config: StageConfig, detect_image: DetectImage, skill_versions: MappingFile
    ) -> None:
        """make-skill (extract → SageMaker training → register), and train-and-gate, which runs make-skill
        as a nested execution, evaluates the candidate against the deployed skill and promotes or notifies."""
        defaults = self.function_defaults()
        self.training = Training(
            self,
            "Training",
            stage=self.stage_name,
            functions=defaults,
            training_image_uri=config.training_image_uri,
            artifacts_bucket=self.artifacts_bucket,
            crops_bucket=self.crops_bucket,
            table=self.catalog_table,
            split_salt=config.split_salt,
            sizing=TrainingSizing(log_retention=self.log_retention, removal_policy=self.removal_policy),
            repo_root=detect_image.repo_root,
        )
        self.notifications = Notifications(
            self,
            "Notifications",
            defaults=defaults,
            table=self.catalog_table,
            email_addresses=list(config.notification_emails),
            slack_secret_name=config.slack_secret_name,
            reports_bucket=self.artifacts_bucket,
        )
        self.train_and_gate = TrainAndGate(
            self,
            "TrainAndGate",
            defaults=defaults,
            train_step=self._make_skill_step(),
            table=self.catalog_table,
            artifacts_bucket=self.artifacts_bucket,
            raw_bucket=self.raw_bucket,
            evaluate_code=detect_image.code(EVALUATE_IMAGE),
            notify_function=self.notifications.function,
            training_output_prefix="skills/",  # make-skill's SageMaker output path
        )
        self.notifications.watch(self.train_and_gate.state_machine)
        self._acknowledge_nested_make_skill()
        self.review.allow_make_skill(self.training.state_machine, self.training.state_machine_name)
        self.skill_versions = SkillVersions(
            self, "SkillVersions", stage=self.stage_name, mapping=skill_versions
        )
        CfnOutput(
            self,
            "MakeSkillStateMachineArn",
            value=self.training.state_machine.state_machine_arn,
            description="make-skill state machine (SKILLFORGE_MAKE_SKILL_STATE_MACHINE_ARN)",
        )
        CfnOutput(
            self,
            "TrainAndGateStateMachineArn",
            value=self.train_and_gate.state_machine.state_machine_arn,
            description="train-and-gate state machine (same input as make-skill)",
        )
        CfnOutput(
            self,
            "TrainingImageUri",
            value=self.training.training_image_uri,
            description="SKILLFORGE_TRAINING_IMAGE_URI (training/Dockerfile pushed by cdk deploy, "
            "unless trainingImageUri names another)",
        )
        CfnOutput(
            self,
            "SlackWebhookSecretArn",
            value=self.notifications.slack_secret.secret_arn,
            description="put the Slack incoming webhook URL into this secret after deploy",
        )
        self.monitoring.watch_dead_letter_queue(
            "NotifyDlqAlarm", self.notifications.dead_letters, "notifications"
        )
        for name, function in {
            "Extract": self.training.extract_fn,
            "Register": self.training.register_fn,
            "Notify": self.notifications.function,
            "Evaluate": self.train_and_gate.evaluate_function,
            "Promote": self.train_and_gate.promote_function,
        }.items():
            self.monitoring.watch_function_errors(f"{name}ErrorsAlarm", function, name.lower())

    def _make_skill_step(self) -> tasks.StepFunctionsStartExecution:
        """train-and-gate's train step: a nested, waited-for make-skill execution with the same input.

        The training construct's SageMaker task is two states behind a spot/on-demand Choice that read the
        extract step's output, so it cannot be one task of another machine; nesting make-skill keeps one
        definition of extract → train → register. Its `train` result (model artifacts) lands at `$.training`.
        """
        machine = self.training.state_machine
        step = tasks.StepFunctionsStartExecution(
            self,
            "MakeSkillStep",
            state_machine=machine,
            integration_pattern=sfn.IntegrationPattern.RUN_JOB,
            input=sfn.TaskInput.from_json_path_at("$"),
            result_selector={
                "TrainingJobName.$": "$.Output.train.TrainingJobName",
                "ModelArtifacts.$": "$.Output.train.ModelArtifacts",
                "registered.$": "$.Output.registered",
            },
            result_path="$.training",
        )
        return step

    def _acknowledge_nested_make_skill(self) -> None:
        """startExecution.sync describes and stops the make-skill executions it starts (names per run)."""
        machine = self.training.state_machine
        logical_id = self.get_logical_id(machine.node.default_child)  # type: ignore[arg-type]
        name_of_arn = {"Fn::Select": [6, {"Fn::Split": [":", {"Ref": logical_id}]}]}
        name = json.dumps(name_of_arn, separators=(",", ":"))
        suppress(
            self.train_and_gate.state_machine,
            "AwsSolutions-IAM5",
            "The nested make-skill execution (startExecution.sync) is described and stopped by its generated "
            "name: execution:<make-skill>:* of that one state machine.",
            findings=[
                f"Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{name}*"
            ],
        )

    @property
    def raw_bucket(self) -> s3.Bucket:
        return self.storage.raw

    @property
    def crops_bucket(self) -> s3.Bucket:
        return self.storage.crops

    @property
    def quarantine_bucket(self) -> s3.Bucket:
        return self.storage.quarantine

    @property
    def artifacts_bucket(self) -> s3.Bucket:
        return self.storage.artifacts

    @property
    def catalog_table(self) -> dynamodb.Table:
        return self.catalog.table

    @property
    def alarm_topic(self) -> sns.Topic:
        return self.monitoring.topic

    def _acknowledge_cdk_internals(self) -> None:
        """Findings on resources CDK itself adds (the S3-notification custom-resource handler)."""
        handler = self.node.try_find_child("BucketNotificationsHandler050a0587b7544547bf325f094a3db834")
        if handler is None:
            return
        function = handler.node.try_find_child("Resource")
        if function is not None:
            skip_check(
                function,
                "CKV_AWS_116",
                "CDK's BucketNotificationsHandler runs synchronously for CloudFormation, which reports "
                "failures.",
            )
        suppress(
            handler,
            "AwsSolutions-IAM4",
            "CDK's built-in BucketNotificationsHandler uses the AWS-managed basic execution policy "
            "(CloudWatch Logs only); it runs once per deployment to configure S3 notifications.",
            findings=[
                "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
            ],
        )
