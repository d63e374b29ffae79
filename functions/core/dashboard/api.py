"""The dashboard's routes on the review API's resolver (same static app, same authentication).

GET  /api/dashboard                 catalog counts, skills (versions, metrics, stages), recent gates
GET  /api/dashboard/configs         skill configs the Make skill button can start (and whether it can)
POST /api/dashboard/make-skill      {"config": NAME} → 202 and the job (local: a thread; cloud: a
                                    make-skill execution); unknown config → 400, nothing started
GET  /api/dashboard/jobs/<job_id>   the job's state, step (cloud: the state machine's current state),
                                    seconds, and the skill version
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.openapi.params import Path as PathParam
from pydantic import BaseModel, Field

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.storage import BlobStore
from functions.core.dashboard.jobs import JobBusyError, MakeSkillJobs
from functions.core.dashboard.overview import SkillsView, accuracy_text, catalog_counts
from functions.core.labelling.review_api import ReviewApi

REPORT_LINK_EXPIRY_S = 900
# local: 12 hex digits; cloud: the execution's name (skillforge-<skill>-v<N>-<time>)
JobId = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9-]{1,80}$")]
NO_JOBS_HINT = "Start training from a terminal: skillforge make-skill CONFIG"
PUBLISH_HINT = (
    "No skill config is published yet: publish one from a terminal with "
    "skillforge make-skill training/configs/CONFIG.json --profile gpu --publish"
)


class MakeSkillRequest(BaseModel):
    config: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class Dashboard:
    def __init__(
        self,
        table: Any,
        ssm: Any,
        store: BlobStore,
        jobs: MakeSkillJobs | None = None,
        stage: str = "local",
    ) -> None:
        self.table = table
        self.ssm = ssm
        self.store = store
        self.jobs = jobs
        self.stage = stage

    def overview(self) -> dict[str, Any]:
        view = SkillsView.load(self.table, self.ssm)
        skills = []
        for skill in view.skills():
            summary = view.summary(skill)
            summary["version_rows"] = [
                {
                    "version": e.skill_version,
                    "accuracy": accuracy_text(e.metrics),
                    "dataset_version": e.dataset_version,
                    "deployed_in": view.stages_of(skill, e.skill_version),
                    "created_at": e.created_at.isoformat(timespec="seconds"),
                }
                for e in view.of(skill)
            ]
            skills.append(summary)
        gates = [
            {
                "skill": record.decision.skill,
                "version": record.decision.candidate_version,
                "current_version": record.decision.current_version,
                "outcome": record.decision.outcome.value,
                "accuracy": record.decision.candidate_accuracy,
                "current_accuracy": record.decision.current_accuracy,
                "decided_at": record.decision.decided_at.isoformat(timespec="seconds"),
                "override_by": record.override_by,
                "report_url": self._report_link(record.report_uri),
            }
            for record in view.recent_gates()
        ]
        return {
            "stage": self.stage,
            "catalog": catalog_counts(DynamoCatalog(self.table)).model_dump(),
            "skills": skills,
            "gates": gates,
        }

    def _report_link(self, uri: str | None) -> str | None:
        if not uri or not uri.startswith("s3://"):
            return None
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return self.store.presign_get(bucket, key, expires_s=REPORT_LINK_EXPIRY_S)

    def attach(self, api: ReviewApi) -> None:
        app = api.app

        @app.get("/api/dashboard")
        def overview() -> dict[str, Any]:
            return self.overview()

        @app.get("/api/dashboard/configs")
        def configs() -> dict[str, Any]:
            if self.jobs is None:
                return {"configs": [], "can_make": False, "hint": NO_JOBS_HINT}
            names = self.jobs.available()
            if not names:  # cloud: no config published yet
                return {"configs": [], "can_make": False, "hint": PUBLISH_HINT}
            return {"configs": names, "can_make": True, "hint": None}

        @app.post("/api/dashboard/make-skill")
        def make_skill(request: Annotated[MakeSkillRequest, Body()]) -> Response[str]:
            if self.jobs is None:
                return _json(501, {"error": "start training with `skillforge make-skill CONFIG` here"})
            try:
                job = self.jobs.start(request.config)
            except ValueError as exc:
                return _json(400, {"error": str(exc)})
            except JobBusyError as exc:
                return _json(409, {"error": str(exc)})
            return _json(202, job.model_dump())

        @app.get("/api/dashboard/jobs/<job_id>")
        def job(job_id: JobId) -> Response[str]:
            found = self.jobs.get(job_id) if self.jobs is not None else None
            if found is None:
                return _json(404, {"error": f"no job {job_id}"})
            return _json(200, found.model_dump())


def _json(status: int, body: dict[str, Any]) -> Response[str]:
    return Response(status, content_types.APPLICATION_JSON, json.dumps(body, default=str))
