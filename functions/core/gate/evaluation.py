"""The evaluate use case: candidate skill version vs the deployed one → gate decision → report.

Stored next to the model (`<artifact_uri>/evaluation/`): `evaluation.json` (everything measured) and
`report.pdf`. The gate decision is also logged in the catalog table for `skillforge accept`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import BaseModel, Field

from functions.core.base.artifacts import Artifacts, folder_of, join_uri
from functions.core.base.catalog import Catalog
from functions.core.base.records import SkillRef, utc_now
from functions.core.dataset.spec import DatasetSpec
from functions.core.detection.detector import Detector
from functions.core.detection.settings import DetectorSettings
from functions.core.gate.records import EvaluationRecord, EvaluationSummary
from functions.core.gate.regression import (
    ClassOf,
    HarnessStore,
    replay_cases,
    run_regression,
    without_harness_duplicates,
)
from functions.core.gate.rule import GateConfig, GateLog, GateRecord, decide
from functions.core.serving.cascade import Cascade
from functions.core.serving.config import CascadeConfig, CascadeStage
from functions.core.skills.deployment import DeploymentStore
from functions.core.skills.model import read_manifest
from functions.core.skills.registry import RegisteredSkill, SkillRegistry
from functions.core.skills.resolver import RegistrySkills

logger = Logger(child=True)


class EvaluateRequest(BaseModel):
    """What the state machine (or the CLI) asks for: a registered version, or SageMaker's model.tar.gz."""

    skill: str
    skill_version: int | None = Field(default=None, ge=1)
    model_artifacts: str | None = Field(default=None, description="model.tar.gz / folder with skill.json")
    gate: GateConfig | None = None
    replay_limit: int = Field(default=500, ge=0)


@dataclass
class EvaluateDeps:
    registry: SkillRegistry
    deployments: DeploymentStore
    artifacts: Artifacts
    harnesses: HarnessStore
    catalog: Catalog
    gate_log: GateLog
    detector: Detector
    detector_settings: DetectorSettings
    detector_ref: SkillRef
    skills_base_uri: str  # where extracted SageMaker outputs are published: <base>/<skill>/v<N>/
    datasets_uri: str | None = None  # <base>/<skill>/<dataset_version>/manifest.json (dataset extraction)
    cascade: CascadeConfig | None = None
    gate: GateConfig | None = None
    write_report: bool = True


def resolve_candidate(request: EvaluateRequest, deps: EvaluateDeps) -> RegisteredSkill:
    """The registered candidate; a SageMaker output is unpacked, published and registered (idempotent)."""
    if request.model_artifacts:
        folder = deps.artifacts.local_folder(request.model_artifacts)
        manifest = read_manifest(folder)
        if manifest.skill != request.skill:
            raise ValueError(
                f"{request.model_artifacts} holds skill {manifest.skill!r}, not {request.skill!r}"
            )
        existing = deps.registry.get(manifest.skill, manifest.skill_version)
        if existing is not None:
            return existing
        uri = join_uri(deps.skills_base_uri, f"{manifest.skill}/v{manifest.skill_version:06d}")
        deps.artifacts.upload_folder(folder, uri)
        try:
            return deps.registry.register(manifest, uri)
        except ClientError as exc:  # registered meanwhile by a concurrent run
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            found = deps.registry.get(manifest.skill, manifest.skill_version)
            if found is None:
                raise
            return found
    if request.skill_version is None:
        raise ValueError("evaluate needs skill_version or model_artifacts")
    entry = deps.registry.get(request.skill, request.skill_version)
    if entry is None:
        raise ValueError(f"skill {request.skill!r} has no registered version {request.skill_version}")
    return entry


def cascade_for(skill: str, config: CascadeConfig | None) -> CascadeConfig:
    """The production cascade up to (and including) `skill`; a skill outside it is tested alone."""
    if config is None or skill not in config.skills():
        return CascadeConfig(stages=[CascadeStage(skill=skill)])
    needed = {skill}
    for stage in reversed(config.stages):
        if stage.skill in needed and stage.after:
            needed.add(stage.after)
    return CascadeConfig(stages=[s for s in config.stages if s.skill in needed], top_k=config.top_k)


def evaluate_candidate(request: EvaluateRequest, deps: EvaluateDeps) -> EvaluationRecord:
    started_at, started = utc_now(), time.perf_counter()
    candidate_entry = resolve_candidate(request, deps)
    skills = RegistrySkills(deps.registry, deps.deployments, deps.artifacts)
    candidate = skills.load(candidate_entry.skill, candidate_entry.skill_version)
    deployed = deps.deployments.current(request.skill)
    current_entry: RegisteredSkill | None = None
    if deployed is not None and deployed.version != candidate_entry.skill_version:
        current_entry = skills.entry(request.skill, deployed.version)
    current = skills.load(request.skill, current_entry.skill_version) if current_entry else None

    harness = deps.harnesses.load(request.skill)
    cases = list(harness.cases) if harness else []
    replay = replay_cases(deps.catalog, class_mapping(deps, candidate_entry), limit=request.replay_limit)
    cases += without_harness_duplicates(replay, harness)
    if not cases:
        raise ValueError(
            f"skill {request.skill!r} has no harness and no replayable production records: "
            f"freeze one with `skillforge harness freeze {request.skill} ...`"
        )
    config = cascade_for(request.skill, deps.cascade)
    cascade = Cascade.build(
        config,
        deps.detector,
        deps.detector_ref,
        deps.detector_settings,
        lambda name: candidate if name == request.skill else skills.load(name),
    )
    logger.info(
        "regression start",
        extra={
            "skill": request.skill,
            "candidate": candidate_entry.skill_version,
            "current": current_entry.skill_version if current_entry else None,
            "cases": len(cases),
        },
    )
    regression = run_regression(
        cases,
        deps.artifacts.read_bytes,
        cascade,
        candidate,
        current,
        harness_version=harness.harness_version if harness else None,
    )
    pairs = [(r.candidate.correct, r.current.correct if r.current else False) for r in regression.results]
    gate = request.gate or deps.gate or GateConfig()
    decision = decide(regression.candidate, regression.current, gate, pairs if regression.current else ())
    folder_uri = join_uri(folder_of(candidate_entry.artifact_uri), "evaluation")
    record = EvaluationRecord(
        stage=deps.deployments.stage,
        candidate=candidate_entry,
        current=current_entry,
        regression=regression,
        decision=decision,
        cascade=config,
        data_counts=dataset_counts(deps, candidate_entry),
        evaluation_uri=join_uri(folder_uri, "evaluation.json"),
        report_uri=join_uri(folder_uri, "report.pdf"),
        started_at=started_at,
        seconds=0.0,
    )
    # The measurements are written before the PDF: a report that cannot be rendered never loses them.
    record.seconds = round(time.perf_counter() - started, 2)
    _write_record(deps.artifacts, record)
    if deps.write_report:
        try:
            from functions.core.gate.report import render_report

            pdf = render_report(record, deps.artifacts, candidate)
            deps.artifacts.write_bytes(record.report_uri, pdf, "application/pdf")
        except Exception as exc:
            logger.exception("the evaluation report could not be rendered", extra={"uri": record.report_uri})
            record.report_error = f"{type(exc).__name__}: {exc}"
            _write_record(deps.artifacts, record)
    deps.gate_log.record(
        GateRecord(decision=decision, report_uri=record.report_uri, evaluation_uri=record.evaluation_uri)
    )
    return record


def _write_record(artifacts: Artifacts, record: EvaluationRecord) -> None:
    artifacts.write_bytes(
        record.evaluation_uri, record.model_dump_json(indent=2).encode(), "application/json"
    )


def _dataset_manifest(deps: EvaluateDeps, entry: RegisteredSkill) -> dict[str, Any]:
    """The dataset manifest of the skill version's training data ({} when there is none)."""
    if deps.datasets_uri is None:
        return {}
    uri = join_uri(deps.datasets_uri, f"{entry.skill}/{entry.dataset_version}/manifest.json")
    if not deps.artifacts.exists(uri):
        return {}
    manifest: dict[str, Any] = json.loads(deps.artifacts.read_bytes(uri))
    return manifest


def class_mapping(deps: EvaluateDeps, entry: RegisteredSkill) -> ClassOf:
    """Verified label → the skill's class, by the data-set spec the skill was extracted with.

    A glob-class skill (e.g. car-make: `Audi` = `audi-*`) maps `audi-tts-coupe-2012` to `Audi`; without
    a recorded spec a label counts only when it is one of the skill's classes itself.
    """
    spec = _dataset_manifest(deps, entry).get("spec")
    if spec is not None:
        return DatasetSpec.model_validate(spec).class_of
    classes = set(entry.classes)
    return lambda label: label if label in classes else None


def dataset_counts(deps: EvaluateDeps, entry: RegisteredSkill) -> dict[str, dict[str, int]]:
    """Examples per split and class from the dataset manifest of the candidate's training data, if any."""
    counts = _dataset_manifest(deps, entry).get("counts") or {}
    return {str(split): {str(c): int(n) for c, n in per.items()} for split, per in counts.items()}


def summarize(record: EvaluationRecord) -> EvaluationSummary:
    regression, decision = record.regression, record.decision
    return EvaluationSummary(
        skill=decision.skill,
        skill_version=decision.candidate_version,
        current_version=decision.current_version,
        outcome=decision.outcome,
        reasons=decision.reasons,
        accuracy=regression.candidate.accuracy,
        current_accuracy=regression.current.accuracy if regression.current else None,
        latency_p95_ms=regression.candidate.latency_ms["p95"],
        current_latency_p95_ms=regression.current.latency_ms["p95"] if regression.current else None,
        code_version=record.candidate.code_version,
        dataset_version=record.candidate.dataset_version,
        harness_version=regression.harness_version,
        cases=len(regression.results),
        report_uri=record.report_uri,
        evaluation_uri=record.evaluation_uri,
        seconds=record.seconds,
    )


def load_evaluation(artifacts: Artifacts, uri: str) -> EvaluationRecord:
    return EvaluationRecord.model_validate_json(artifacts.read_bytes(uri))


def write_local_copy(artifacts: Artifacts, record: EvaluationRecord, folder: Path) -> dict[str, Any]:
    """Copy report and evaluation JSON to a local folder (the demo's out/, the CLI's --out)."""
    folder.mkdir(parents=True, exist_ok=True)
    copies: dict[str, Any] = {}
    for uri, name in ((record.report_uri, "report.pdf"), (record.evaluation_uri, "evaluation.json")):
        if artifacts.exists(uri):
            (folder / name).write_bytes(artifacts.read_bytes(uri))
            copies[name] = str(folder / name)
    return copies
