"""Make-skill jobs started from the dashboard.

Locally a job runs in a background thread of the server (the runner, given by local mode, extracts,
trains and registers with the real code); its state is kept in memory and polled by the page.

In the cloud a job is an execution of the make-skill state machine: the config's launch template
(`launch/<config>.json`, published by `skillforge make-skill CONFIG`, see skills/launch.py) gets the
next version and is started (StartExecution); its progress is read back from Step Functions
(DescribeExecution for the status, GetExecutionHistory for the state it is in).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, Protocol

from botocore.exceptions import ClientError
from pydantic import BaseModel, Field, ValidationError

from functions.core.base.records import utc_now
from functions.core.base.storage import BlobStore, ObjectMissingError
from functions.core.skills.launch import (
    LAUNCH_PREFIX,
    LaunchTemplate,
    config_of_key,
    execution_input,
    template_key,
)
from functions.core.skills.registry import SkillRegistry

JobState = Literal["running", "succeeded", "failed"]
# run(config name, report(step text)) → the registered candidate: (skill, version)
Runner = Callable[[str, Callable[[str], None]], tuple[str, int]]


class MakeSkillJob(BaseModel):
    job_id: str
    config: str
    state: JobState = "running"
    step: str = "starting"
    started_at: str = Field(default_factory=lambda: utc_now().isoformat(timespec="seconds"))
    seconds: float = 0.0
    skill: str | None = None
    skill_version: int | None = None
    error: str | None = None


class MakeSkillJobs(Protocol):
    """What the dashboard's Make skill routes use: locally a thread, in the cloud Step Functions."""

    def available(self) -> list[str]: ...
    def start(self, config: str) -> MakeSkillJob: ...
    def get(self, job_id: str) -> MakeSkillJob | None: ...


class LocalMakeSkillJobs:
    """One job at a time (training takes the machine's cores); jobs are kept for the server's life."""

    def __init__(self, configs: list[str], runner: Runner) -> None:
        self.configs = configs
        self._runner = runner
        self._jobs: dict[str, MakeSkillJob] = {}
        self._started: dict[str, float] = {}
        self._lock = threading.Lock()

    def available(self) -> list[str]:
        return list(self.configs)

    def start(self, config: str) -> MakeSkillJob:
        if config not in self.configs:
            raise ValueError(f"unknown skill config {config!r}; known: {', '.join(self.configs)}")
        with self._lock:
            if any(job.state == "running" for job in self._jobs.values()):
                raise JobBusyError("a make-skill job is already running; wait for it to finish")
            job = MakeSkillJob(job_id=uuid.uuid4().hex[:12], config=config)
            self._jobs[job.job_id] = job
            self._started[job.job_id] = time.monotonic()
        threading.Thread(
            target=self._run, args=(job.job_id,), name=f"make-skill-{job.job_id}", daemon=True
        ).start()
        return job.model_copy()

    def get(self, job_id: str) -> MakeSkillJob | None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            if job.state == "running":
                job.seconds = round(time.monotonic() - self._started[job_id], 1)
            return job.model_copy()

    def _update(self, job_id: str, **changes: object) -> None:
        with self._lock:
            job = self._jobs[job_id]
            for name, value in changes.items():
                setattr(job, name, value)

    def _run(self, job_id: str) -> None:
        job = self._jobs[job_id]
        try:
            skill, version = self._runner(job.config, lambda step: self._update(job_id, step=step))
        except Exception as exc:  # shown on the page; the server keeps serving
            self._update(job_id, state="failed", step="failed", error=f"{type(exc).__name__}: {exc}")
        else:
            self._update(job_id, state="succeeded", step="registered", skill=skill, skill_version=version)
        self._update(job_id, seconds=round(time.monotonic() - self._started[job_id], 1))


class JobBusyError(Exception):
    """A job is already running."""


# Step Functions execution status → the job's state
_STATES: dict[str, JobState] = {"RUNNING": "running", "SUCCEEDED": "succeeded"}


class StepFunctionsMakeSkillJobs:
    """Make-skill executions of one state machine; the job id is the execution's name."""

    def __init__(
        self,
        sfn: Any,
        store: BlobStore,
        registry: SkillRegistry,
        artifacts_bucket: str,
        state_machine_arn: str,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.sfn = sfn
        self.store = store
        self.registry = registry
        self.bucket = artifacts_bucket
        self.state_machine_arn = state_machine_arn
        self.clock = clock

    def available(self) -> list[str]:
        """The configs with a published launch template."""
        names = (config_of_key(key) for key in self.store.list_keys(self.bucket, f"{LAUNCH_PREFIX}/"))
        return sorted(name for name in names if name is not None)

    def start(self, config: str) -> MakeSkillJob:
        """Reserve the next version of the config's skill and start the execution (nothing before the
        template is read and valid: an unknown config starts nothing and reserves no version)."""
        template = self._template(config)
        version = self.registry.next_version(template.skill)
        payload = execution_input(template, version)
        response = self.sfn.start_execution(
            stateMachineArn=self.state_machine_arn, name=payload["job_name"], input=json.dumps(payload)
        )
        return MakeSkillJob(
            job_id=payload["job_name"],
            config=config,
            step="started",
            started_at=_iso(response["startDate"]),
            skill=template.skill,
            skill_version=version,
        )

    def get(self, job_id: str) -> MakeSkillJob | None:
        arn = self.execution_arn(job_id)
        try:
            execution = self.sfn.describe_execution(executionArn=arn)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ExecutionDoesNotExist":
                return None
            raise
        given = json.loads(execution.get("input") or "{}")
        status = str(execution["status"])
        state: JobState = _STATES.get(status, "failed")
        ended = execution.get("stopDate") or self.clock()
        error = None
        if state == "failed":
            error = ": ".join(str(p) for p in (execution.get("error") or status, execution.get("cause")) if p)
        return MakeSkillJob(
            job_id=job_id,
            config=str(given.get("config", "")),
            state=state,
            step=self.current_state(arn) or status.lower(),
            started_at=_iso(execution["startDate"]),
            seconds=round((ended - execution["startDate"]).total_seconds(), 1),
            skill=given.get("skill"),
            skill_version=given.get("skill_version"),
            error=error,
        )

    def current_state(self, execution_arn: str) -> str | None:
        """The state the execution entered last: the newest page of its history (the entered event
        with the highest id, whatever order the page comes in)."""
        history = self.sfn.get_execution_history(
            executionArn=execution_arn, reverseOrder=True, maxResults=100
        )
        entered = [e for e in history.get("events", []) if e.get("stateEnteredEventDetails")]
        if not entered:
            return None
        return str(max(entered, key=lambda e: int(e["id"]))["stateEnteredEventDetails"]["name"])

    def execution_arn(self, name: str) -> str:
        """arn:…:stateMachine:<machine> → arn:…:execution:<machine>:<name>."""
        head, _, machine = self.state_machine_arn.rpartition(":stateMachine:")
        return f"{head}:execution:{machine}:{name}"

    def _template(self, config: str) -> LaunchTemplate:
        try:
            data = self.store.get(self.bucket, template_key(config)).data
        except ObjectMissingError:
            published = ", ".join(self.available()) or "none"
            raise ValueError(
                f"unknown skill config {config!r}: no launch template {template_key(config)} "
                f"(published: {published}); publish it with "
                f"`skillforge make-skill training/configs/{config}.json --profile gpu --publish`"
            ) from None
        try:
            return LaunchTemplate.model_validate_json(data)
        except ValidationError as exc:
            raise ValueError(
                f"{template_key(config)} is not a launch template: {exc.errors()[0]['msg']}"
            ) from exc


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="seconds")
