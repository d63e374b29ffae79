"""Candidate vs current on a frozen harness in moto: real tiny models, gate decision, stored report."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from pypdf import PdfReader

from functions.core.base.artifacts import Artifacts
from functions.core.base.storage import BlobStore
from functions.core.gate.evaluation import EvaluateDeps, EvaluateRequest, evaluate_candidate
from functions.core.gate.rule import GateConfig, GateOutcome
from functions.core.skills.deployment import promote
from tests.support.gate import (
    evaluate_deps,
    freeze_synthetic_harness,
    register_folder,
    skill_version_copy,
)


@pytest.fixture
def gate_env(moto_aws: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    names = moto_aws["names"]
    table = moto_aws["table"]
    gate = GateConfig(
        min_accuracy_gain=0.05,
        first_version_min_accuracy=0.5,
        # these tests are about accuracy and records: wall-clock latency is only bounded loosely (a cold
        # first inference on a loaded CI machine takes seconds); latency rules have their own unit tests
        latency_tolerance=10.0,
        latency_slack_ms=30_000,
        skill_latency_tolerance=10.0,
        skill_latency_slack_ms=30_000,
        min_cases_per_class=1,  # a small synthetic harness; its gains are clear-cut (McNemar applies)
    )
    deps = evaluate_deps(
        table,
        moto_aws["s3"],
        boto3.client("ssm", region_name="us-east-1"),
        names.artifacts_bucket,
        tmp_path / "c",
        gate,
    )
    freeze_synthetic_harness(deps.harnesses, deps.artifacts, "colour", names.artifacts_bucket, tmp_path)
    return {"deps": deps, "bucket": names.artifacts_bucket, "tmp": tmp_path}


def test_better_candidate_against_deployed_poor_version_is_promoted_with_report(
    gate_env: dict[str, Any], tiny_skill_folders: dict[str, Path]
) -> None:
    # GIVEN the untrained version 1 deployed and the trained version 2 registered
    deps: EvaluateDeps = gate_env["deps"]
    tmp = gate_env["tmp"]
    register_folder(
        deps.registry,
        deps.artifacts,
        skill_version_copy(tiny_skill_folders["poor"], tmp / "v1", 1),
        gate_env["bucket"],
    )
    register_folder(
        deps.registry,
        deps.artifacts,
        skill_version_copy(tiny_skill_folders["good"], tmp / "v2", 2, code_version="c0ffee"),
        gate_env["bucket"],
    )
    promote(deps.registry, deps.deployments, "colour", 1, actor="test")
    # AND the dataset manifest of version 2's training data (written by dataset extraction)
    counts = {"train": {"red": 41, "green": 42, "blue": 43}, "val": {"red": 5, "green": 5, "blue": 5}}
    deps.datasets_uri = f"s3://{gate_env['bucket']}/datasets"
    deps.artifacts.write_bytes(
        f"{deps.datasets_uri}/colour/synthetic/manifest.json", json.dumps({"counts": counts}).encode()
    )

    # WHEN version 2 is evaluated
    record = evaluate_candidate(EvaluateRequest(skill="colour", skill_version=2), deps)

    # THEN both ran on the same 14 inputs, the trained one wins and the gate says promote
    regression = record.regression
    assert regression.current is not None
    assert regression.candidate.cases == regression.current.cases == 14
    assert regression.candidate.accuracy > regression.current.accuracy + 0.05
    assert regression.candidate.per_class["(no car)"].accuracy == 1.0
    assert record.decision.outcome is GateOutcome.PROMOTE
    assert record.decision.current_version == 1
    # AND the decision is logged and the report + evaluation are stored next to the model
    assert deps.gate_log.get("colour", 2) is not None
    pdf = PdfReader(io.BytesIO(deps.artifacts.read_bytes(record.report_uri)))
    text = "\n".join(page.extract_text() for page in pdf.pages)
    assert "colour v2" in text and "PROMOTE" in text and "c0ffee" in text and "det0001" in text
    assert record.evaluation_uri.endswith("v000002/evaluation/evaluation.json")
    # AND the data section shows the training data per class and split
    assert record.data_counts == counts
    assert "41" in text and "43" in text and "val" in text


def test_changed_artifact_is_downloaded_again(moto_aws: dict[str, Any], tmp_path: Path) -> None:
    # GIVEN a cached skill folder
    artifacts = Artifacts(BlobStore(moto_aws["s3"]), cache_dir=tmp_path / "cache")
    uri = f"s3://{moto_aws['names'].artifacts_bucket}/skills/colour/v000001"
    artifacts.write_bytes(f"{uri}/skill.json", b"first")
    assert (artifacts.local_folder(uri) / "skill.json").read_bytes() == b"first"
    # WHEN the object changes under the same URI (a local state reset reuses version numbers)
    artifacts.write_bytes(f"{uri}/skill.json", b"second")
    # THEN the cache notices (ETag) and fetches it again
    assert (artifacts.local_folder(uri) / "skill.json").read_bytes() == b"second"


def test_poor_first_version_needs_investigation_with_heat_maps_of_failures(
    gate_env: dict[str, Any], tiny_skill_folders: dict[str, Path]
) -> None:
    # GIVEN nothing deployed and an untrained candidate
    deps: EvaluateDeps = gate_env["deps"]
    register_folder(deps.registry, deps.artifacts, tiny_skill_folders["poor"], gate_env["bucket"])

    # WHEN it is evaluated
    record = evaluate_candidate(EvaluateRequest(skill="colour", skill_version=1), deps)

    # THEN the absolute minimum rule holds it back
    assert record.current is None
    assert record.decision.outcome is GateOutcome.INVESTIGATE
    assert "first version" in record.decision.reasons[0]
    # AND the report's failure gallery holds the inputs and their Grad-CAM heat maps
    pdf = PdfReader(io.BytesIO(deps.artifacts.read_bytes(record.report_uri)))
    text = "\n".join(page.extract_text() for page in pdf.pages)
    assert "NEEDS INVESTIGATION" in text and "Failures of the candidate" in text
    gallery = [page for page in pdf.pages if "Failures of the candidate" in page.extract_text()]
    assert len(gallery[0].images) >= 2  # the input and its heat map, at least


def test_a_report_that_cannot_be_rendered_leaves_the_evaluation_and_the_decision(
    gate_env: dict[str, Any], tiny_skill_folders: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a registered first version, and a PDF renderer that fails (e.g. a font missing in the image)
    deps: EvaluateDeps = gate_env["deps"]
    register_folder(
        deps.registry,
        deps.artifacts,
        skill_version_copy(tiny_skill_folders["good"], gate_env["tmp"] / "v1", 1),
        gate_env["bucket"],
    )

    def broken(*_args: object) -> bytes:
        raise RuntimeError("no font")

    monkeypatch.setattr("functions.core.gate.report.render_report", broken)
    # WHEN it is evaluated
    record = evaluate_candidate(EvaluateRequest(skill="colour", skill_version=1), deps)
    # THEN evaluation.json is stored with the reason, the decision is logged, and no PDF is pretended
    stored = json.loads(deps.artifacts.read_bytes(record.evaluation_uri))
    assert stored["report_error"] == "RuntimeError: no font"
    assert stored["decision"]["outcome"] == record.decision.outcome.value
    assert deps.gate_log.get("colour", 1) is not None
    assert not deps.artifacts.exists(record.report_uri)
