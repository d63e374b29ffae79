"""`sagemaker:createTrainingJob.sync` for moto's Step Functions interpreter, run by the local runner.

moto's interpreter (execution mode) runs a state machine's Lambda, SQS, DynamoDB and nested Step
Functions tasks, but treats SageMaker as an unsupported service (callbacks only). Inside
`sagemaker_training_tasks(...)`, a `arn:aws:states:::sagemaker:createTrainingJob.sync` task does what
the real integration does, with the definition left as synthesized (and a nested `states:startExecution`
task gets the request and response casing of Step Functions, see `NestedExecutionTask`):

1. CreateTrainingJob with the Parameters the interpreter resolved (moto's SageMaker records the job);
2. the job runs: `LocalTrainingRunner` (scripts/local/sagemaker_runner.py) follows the training
   container contract on this machine; the job record in moto's SageMaker backend gets the outcome
   (status, failure reason, model artifacts, billable seconds, final metrics);
3. `.sync` polls DescribeTrainingJob until the job has ended: Completed returns the description
   (what `ResultSelector` reads: `ModelArtifacts.S3ModelArtifacts` ...); Failed or Stopped fail the
   task with `States.TaskFailed` and the description as the cause, as Step Functions does.

It works with moto in-process (`mock_aws`) and with a moto server in this process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, cast

import botocore.session
from moto.sagemaker.models import sagemaker_backends
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.credentials import StateCredentials
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
    ResourceCondition,
    ResourceRuntimePart,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (  # noqa: E501
    StateTaskServiceCallback,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_factory import (
    state_task_service_for,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
    StateTaskServiceSfn,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

from scripts.local.sagemaker_runner import LocalTrainingRunner, TrainingJobResult

CREATE_TRAINING_JOB: Final = "createTrainingJob"
FACTORY: Final = "state_task_service_for"  # the name state_task_factory calls for a service task
ENDED: Final = {"Completed", "Failed", "Stopped"}

RunnerFactory = Callable[[Any], LocalTrainingRunner]  # an S3 client → the runner


class SageMakerTrainingTask(StateTaskServiceCallback):
    """The `sagemaker` service of the interpreter: createTrainingJob (plain or .sync) run locally."""

    def __init__(self, runner_for: RunnerFactory, results: list[TrainingJobResult]) -> None:
        # WaitForTaskToken is listed because the callback base always sets up a task token endpoint
        patterns: set[Any] = {ResourceCondition.Sync, ResourceCondition.WaitForTaskToken}
        super().__init__(supported_integration_patterns=patterns)
        self.runner_for = runner_for
        self.results = results

    def _get_supported_parameters(self) -> set[str] | None:
        """CreateTrainingJob's request members (botocore's model); other actions are not recognized."""
        if self.resource.api_action.lower() != CREATE_TRAINING_JOB.lower():
            return None
        return set(_operation("sagemaker", CREATE_TRAINING_JOB).input_shape.members)

    def _eval_service_task(
        self,
        env: Environment,
        resource_runtime_part: ResourceRuntimePart,
        normalised_parameters: dict[str, Any],
        state_credentials: StateCredentials,
    ) -> None:
        action = self.resource.api_action
        if action != CREATE_TRAINING_JOB:
            raise NotImplementedError(f"sagemaker:{action} is not run locally (only {CREATE_TRAINING_JOB})")
        region = resource_runtime_part.region
        sagemaker = boto_client_for(region=region, service="sagemaker", state_credentials=state_credentials)
        created = sagemaker.create_training_job(**normalised_parameters)
        created.pop("ResponseMetadata", None)
        s3 = boto_client_for(region=region, service="s3", state_credentials=state_credentials)
        result = self.runner_for(s3).run(normalised_parameters)
        self.results.append(result)
        _record(resource_runtime_part, normalised_parameters, result)
        env.stack.append(created)

    def _build_sync_resolver(
        self,
        env: Environment,
        resource_runtime_part: ResourceRuntimePart,
        normalised_parameters: dict[str, Any],
        state_credentials: StateCredentials,
    ) -> Callable[[], Any]:
        env.stack.pop()  # CreateTrainingJob's answer; .sync answers with the job's description
        sagemaker = boto_client_for(
            region=resource_runtime_part.region, service="sagemaker", state_credentials=state_credentials
        )
        name = normalised_parameters["TrainingJobName"]

        def describe() -> dict[str, Any] | None:
            description: dict[str, Any] = sagemaker.describe_training_job(TrainingJobName=name)
            description.pop("ResponseMetadata", None)
            status = description["TrainingJobStatus"]
            if status not in ENDED:
                return None
            if status == "Completed":
                return description
            raise FailureEventException(
                FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                    event_type=HistoryEventType.TaskFailed,
                    event_details=cast(
                        EventDetails,
                        {
                            "taskFailedEventDetails": TaskFailedEventDetails(
                                error=StatesErrorNameType.StatesTaskFailed.to_name(),
                                cause=to_json_str(description),
                                resource=self._get_sfn_resource(),
                                resourceType=self._get_sfn_resource_type(),
                            )
                        },
                    ),
                )
            )

        return describe


class NestedExecutionTask(StateTaskServiceSfn):
    """The `states` service (startExecution, .sync, .sync:2) with the request and response casing Step
    Functions uses: moto 5.2's service tasks pass `Input`/`StateMachineArn` to boto3 unchanged (which
    expects `input`/`stateMachineArn`) and hand boto3's `executionArn`/`output` back unchanged (where
    Step Functions answers `ExecutionArn`/`Output`). Converted here by the botocore model, as the
    interpreter moto took from LocalStack does."""

    def _normalise_parameters(
        self,
        parameters: dict[str, Any],
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        super()._normalise_parameters(parameters, boto_service_name, service_action_name)
        shape = _operation(self._get_boto_service_name(boto_service_name), self.resource.api_action)
        if shape.input_shape is not None:
            self._to_boto_request(parameters, shape.input_shape)

    def _normalise_response(
        self,
        response: Any,
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        shape = _operation(
            self._get_boto_service_name(boto_service_name), service_action_name or self.resource.api_action
        )
        if shape.output_shape is not None:
            self._from_boto_response(response, shape.output_shape)


def _operation(service: str, action: str) -> Any:
    """botocore's operation model of `action` (startExecution, describe_execution, ...)."""
    name = "".join(part[:1].upper() + part[1:] for part in action.split("_"))
    return botocore.session.get_session().get_service_model(service).operation_model(name)


def _record(runtime: ResourceRuntimePart, request: dict[str, Any], result: TrainingJobResult) -> None:
    """The job's outcome in moto's SageMaker backend (moto marks every job Completed at creation)."""
    job = sagemaker_backends[runtime.account][runtime.region].training_jobs[result.TrainingJobName]
    job.training_job_status = job.secondary_status = result.TrainingJobStatus
    job.model_artifacts = result.ModelArtifacts
    setattr(job, "billable_time_in_seconds", result.BillableTimeInSeconds)  # noqa: B010 (moto: no such field)
    job.final_metric_data_list = result.FinalMetricDataList
    job.algorithm_specification = request["AlgorithmSpecification"]  # moto swaps in its own metrics
    if result.FailureReason:
        setattr(job, "failure_reason", result.FailureReason)  # noqa: B010


@contextmanager
def sagemaker_training_tasks(
    work_dir: Path | None = None, runner_for: RunnerFactory | None = None
) -> Iterator[list[TrainingJobResult]]:
    """Within the block, moto's interpreter runs SageMaker training tasks locally; yields the results."""
    results: list[TrainingJobResult] = []
    factory = runner_for or (lambda s3: LocalTrainingRunner(s3, work_dir=work_dir))
    original = state_task_service_for

    def service_for(service_name: str) -> StateTaskService:
        if service_name == "sagemaker":
            return SageMakerTrainingTask(factory, results)
        if service_name == "states":
            return NestedExecutionTask()  # type: ignore[no-untyped-call]
        return original(service_name=service_name)

    setattr(state_task_factory, FACTORY, service_for)
    try:
        yield results
    finally:
        setattr(state_task_factory, FACTORY, original)
