"""Make-skill jobs started from the dashboard.

Locally a job runs in a background thread of the server (the runner, given by local mode, extracts,
trains and registers with the real code); its state is kept in memory and polled by the page. In the
cloud the dashboard does not start training: `skillforge make-skill CONFIG` starts the make-skill
state machine (the runtime code cannot build a training job from a skill config: that is training/).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, Field

from functions.core.base.records import utc_now

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


class LocalMakeSkillJobs:
    """One job at a time (training takes the machine's cores); jobs are kept for the server's life."""

    def __init__(self, configs: list[str], runner: Runner) -> None:
        self.configs = configs
        self._runner = runner
        self._jobs: dict[str, MakeSkillJob] = {}
        self._started: dict[str, float] = {}
        self._lock = threading.Lock()

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
