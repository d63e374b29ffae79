"""Serving: every upload's crops answered by the deployed cascade (ONNX), versions from SSM, on moto."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import boto3
import pytest

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import ImageStatus, Upload
from functions.core.base.resources import ResourceNames
from functions.core.detection.detect import detect_and_catalog
from functions.core.detection.settings import DetectorSettings, PipelineSettings
from functions.core.serving.config import CascadeConfig
from functions.core.serving.settings import ServingSettings
from functions.core.serving.wiring import build_detect_and_serve_deps
from functions.core.skills.deployment import DeployedSkill, DeploymentStore
from tests.support.gate import BlobDetector
from tests.support.serving import as_version, onnx_colour_skill, register_and_promote
from tests.support.tiny_skill import synthetic_image

__all__ = ["onnx_colour_skill"]


@pytest.fixture
def served(moto_aws: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """Detect + serve deps on moto: fake blob detector, the colour cascade, TTL 0 (reads SSM each call)."""
    names: ResourceNames = moto_aws["names"]
    ssm = boto3.client("ssm", region_name="us-east-1")
    deps = build_detect_and_serve_deps(
        PipelineSettings(
            raw_bucket=names.raw_bucket,
            crops_bucket=names.crops_bucket,
            quarantine_bucket=names.quarantine_bucket,
            catalog_table=names.catalog_table,
        ),
        DetectorSettings(),
        detector=BlobDetector(),
        serving=ServingSettings(
            stage="test",
            cascade=CascadeConfig.single("colour"),
            deployment_ttl_s=0,
            skills_cache_dir=tmp_path / "cache",
        ),
    )
    return {**moto_aws, "ssm": ssm, "deps": deps}


def _upload(aws: dict[str, Any], key: str, colour: str, seed: int) -> Upload:
    buffer = io.BytesIO()
    synthetic_image(colour, seed, size=96).save(buffer, format="PNG")
    aws["s3"].put_object(Bucket=aws["names"].raw_bucket, Key=key, Body=buffer.getvalue())
    return Upload(bucket=aws["names"].raw_bucket, key=key)


def _promote(aws: dict[str, Any], folder: Path) -> None:
    register_and_promote(aws["table"], aws["s3"], aws["ssm"], aws["names"].artifacts_bucket, folder)


def test_an_upload_is_classified_by_the_deployed_version(
    served: dict[str, Any], onnx_colour_skill: Path
) -> None:
    # GIVEN colour v1 deployed in the stage
    _promote(served, onnx_colour_skill)
    # WHEN a red photo is uploaded and detected
    outcome = detect_and_catalog(_upload(served, "red/g1/a.png", "red", 5), served["deps"])
    # THEN its crop record carries the answer with every version, and the image record a summary
    catalog = DynamoCatalog(served["table"])
    crop = catalog.get_crop(f"{outcome.image_id}-00")
    assert crop is not None and crop.served is not None
    answer = crop.served
    assert answer.status == "classified" and answer.reason is None
    assert [(s.skill, s.skill_version, s.code_version) for s in answer.stages] == [
        ("colour", 1, "colour-code")
    ]
    assert answer.final_label == "red" and answer.stages[0].top_k[0].label == "red"
    assert answer.margin == pytest.approx(answer.stages[0].top_k[0].score - answer.stages[0].top_k[1].score)
    image = catalog.get_image(outcome.image_id)
    assert image is not None and image.served_summary == {
        "cars": 1,
        "classified": 1,
        "not_classified": 0,
        "skill_unavailable": 0,
    }


def test_promoting_v2_makes_the_next_upload_answered_by_v2(
    served: dict[str, Any], onnx_colour_skill: Path, tmp_path: Path
) -> None:
    # GIVEN v1 deployed and one upload answered by it
    _promote(served, onnx_colour_skill)
    first = detect_and_catalog(_upload(served, "g/1.png", "green", 1), served["deps"])
    # WHEN v2 is promoted (no redeploy: the same deps, the cache TTL is 0 here)
    _promote(served, as_version(onnx_colour_skill, tmp_path / "v2", 2))
    second = detect_and_catalog(_upload(served, "g/2.png", "green", 2), served["deps"])
    # THEN the next upload is answered by v2, the earlier record still says v1
    catalog = DynamoCatalog(served["table"])
    versions = [
        catalog.get_crop(f"{o.image_id}-00").served.stages[0].skill_version  # type: ignore[union-attr]
        for o in (first, second)
    ]
    assert versions == [1, 2]


def test_a_missing_artifact_keeps_the_detection_and_says_why(
    served: dict[str, Any], onnx_colour_skill: Path
) -> None:
    # GIVEN the deployment points at a version whose artifact folder is empty
    DeploymentStore(served["ssm"], "test").put(
        DeployedSkill(
            skill="colour",
            stage="test",
            version=7,
            artifact_uri=f"s3://{served['names'].artifacts_bucket}/skills/colour/v000007",
        )
    )
    # WHEN two photos are uploaded
    outcomes = [
        detect_and_catalog(_upload(served, f"b/{n}.png", "blue", n), served["deps"]) for n in range(2)
    ]
    # THEN each is catalogued with its crop, recorded "detected, not classified" with the reason
    catalog = DynamoCatalog(served["table"])
    for outcome in outcomes:
        assert outcome.status is ImageStatus.CARS_FOUND
        crop = catalog.get_crop(f"{outcome.image_id}-00")
        assert crop is not None and crop.served is not None
        assert (crop.served.status, crop.served.reason, crop.served.stages) == (
            "not_classified",
            "skill_artifact_missing",
            [],
        )
        assert outcome.served == {"cars": 1, "classified": 0, "not_classified": 1, "skill_unavailable": 1}


def test_a_corrupt_onnx_export_is_not_classified_with_its_reason(
    served: dict[str, Any], onnx_colour_skill: Path, tmp_path: Path
) -> None:
    # GIVEN a deployed version whose ONNX file is garbage
    broken = as_version(onnx_colour_skill, tmp_path / "v3", 3)
    (broken / "model.onnx").write_bytes(b"not a model")
    _promote(served, broken)
    # WHEN a photo is uploaded
    outcome = detect_and_catalog(_upload(served, "r/1.png", "red", 9), served["deps"])
    # THEN the crop says why it was not classified, and the image is catalogued
    crop = DynamoCatalog(served["table"]).get_crop(f"{outcome.image_id}-00")
    assert crop is not None and crop.served is not None
    assert (crop.served.status, crop.served.reason) == ("not_classified", "skill_artifact_corrupt")
    assert DynamoCatalog(served["table"]).get_image(outcome.image_id) is not None


def test_no_deployed_version_is_not_classified_not_deployed(served: dict[str, Any]) -> None:
    # GIVEN no version of the cascade's skill is deployed
    # WHEN a photo is uploaded
    outcome = detect_and_catalog(_upload(served, "r/2.png", "red", 3), served["deps"])
    # THEN the crop is kept, not classified, and it is not counted as a broken skill
    crop = DynamoCatalog(served["table"]).get_crop(f"{outcome.image_id}-00")
    assert crop is not None and crop.served is not None
    assert (crop.served.status, crop.served.reason) == ("not_classified", "skill_not_deployed")
    assert outcome.served is not None and outcome.served["skill_unavailable"] == 0
