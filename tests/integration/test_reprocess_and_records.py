"""`skillforge reprocess` and `skillforge records` on moto: crops re-answered exactly once, read back."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import Upload
from functions.core.base.resources import ResourceNames
from functions.core.detection.detect import DetectOutcome, detect_and_catalog
from functions.core.detection.settings import DetectorSettings, PipelineSettings
from functions.core.serving.config import CascadeConfig
from functions.core.serving.settings import ServingSettings
from functions.core.serving.wiring import build_detect_and_serve_deps
from functions.reprocess import handler as reprocess_handler
from scripts.cli import main
from scripts.local.delivery import FakeLambdaContext
from tests.support.gate import BlobDetector
from tests.support.serving import as_version, onnx_colour_skill, register_and_promote
from tests.support.tiny_skill import synthetic_image

__all__ = ["onnx_colour_skill"]
CROPS = 5


@pytest.fixture
def catalogued(
    moto_aws: dict[str, Any], onnx_colour_skill: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """CROPS uploads served by colour v1; v2 registered (same weights) but not deployed; CLI env set."""
    names: ResourceNames = moto_aws["names"]
    ssm = boto3.client("ssm", region_name="us-east-1")
    register_and_promote(moto_aws["table"], moto_aws["s3"], ssm, names.artifacts_bucket, onnx_colour_skill)
    pipeline = PipelineSettings(
        raw_bucket=names.raw_bucket,
        crops_bucket=names.crops_bucket,
        quarantine_bucket=names.quarantine_bucket,
        catalog_table=names.catalog_table,
    )
    serving = ServingSettings(
        stage="test", cascade=CascadeConfig.single("colour"), skills_cache_dir=tmp_path / "cache"
    )
    deps = build_detect_and_serve_deps(pipeline, DetectorSettings(), BlobDetector(), serving)
    outcomes: list[DetectOutcome] = []
    for n in range(CROPS):
        buffer = io.BytesIO()
        synthetic_image(["red", "green", "blue"][n % 3], n, size=96).save(buffer, format="PNG")
        key = f"hint/g{n}/{n}.png"
        moto_aws["s3"].put_object(Bucket=names.raw_bucket, Key=key, Body=buffer.getvalue())
        outcomes.append(detect_and_catalog(Upload(bucket=names.raw_bucket, key=key), deps))
    v2 = as_version(onnx_colour_skill, tmp_path / "v2", 2)
    register_and_promote(moto_aws["table"], moto_aws["s3"], ssm, names.artifacts_bucket, v2, stage="other")
    for variable, value in {
        "SKILLFORGE_STAGE": "test",
        "SKILLFORGE_CATALOG_TABLE": names.catalog_table,
        "SKILLFORGE_CROPS_BUCKET": names.crops_bucket,
        "SKILLFORGE_RAW_BUCKET": names.raw_bucket,
        "SKILLFORGE_QUARANTINE_BUCKET": names.quarantine_bucket,
        "SKILLFORGE_SKILLS_CACHE_DIR": str(tmp_path / "cli-cache"),
        "SKILLFORGE_CASCADE": '{"stages": [{"skill": "colour"}]}',
    }.items():
        monkeypatch.setenv(variable, value)
    return {**moto_aws, "outcomes": outcomes}


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def _served(aws: dict[str, Any]) -> dict[str, tuple[int, str]]:
    catalog = DynamoCatalog(aws["table"])
    answers: dict[str, tuple[int, str]] = {}
    for crop in catalog.iter_crops():
        assert crop.served is not None
        answers[crop.crop_id] = (crop.served.stages[0].skill_version, crop.served.served_at.isoformat())
    return answers


def test_reprocess_updates_each_crop_once_and_a_rerun_updates_none(
    catalogued: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN CROPS crops answered by colour v1
    assert {v for v, _ in _served(catalogued).values()} == {1}
    # WHEN they are reprocessed with v2
    assert main(["reprocess", "--skill", "colour", "--version", "2"]) == 0
    plan, result = _lines(capsys)
    after_first = _served(catalogued)
    # THEN the plan came first with the item count and a cost, and every crop was updated once, to v2
    assert plan["plan"]["items"] == CROPS and plan["plan"]["version"] == 2
    assert plan["plan"]["estimated_usd"] > 0
    assert result["result"]["updated"] == CROPS and result["result"]["unchanged"] == 0
    assert {v for v, _ in after_first.values()} == {2}
    # WHEN the same reprocess runs again
    assert main(["reprocess", "--skill", "colour", "--version", "2"]) == 0
    _, rerun = _lines(capsys)
    # THEN it updates none and no record changed
    assert rerun["result"]["updated"] == 0 and rerun["result"]["unchanged"] == CROPS
    assert _served(catalogued) == after_first


def test_the_batch_function_takes_a_distributed_map_batch(catalogued: dict[str, Any]) -> None:
    # GIVEN one Distributed Map batch of S3 listing items (plus an object that is not a crop)
    keys = [
        o["Key"]
        for o in catalogued["s3"].list_objects_v2(Bucket=catalogued["names"].crops_bucket)["Contents"]
    ]
    event = {
        "Items": [{"Key": k, "Size": 1} for k in keys] + [{"Key": "crops/readme.txt"}],
        "BatchInput": {"skill": "colour", "version": 2, "prefix": "crops/"},
    }
    reprocess_handler.deps.cache_clear()
    # WHEN the reprocess function handles it
    result = reprocess_handler.handler(event, FakeLambdaContext())
    reprocess_handler.deps.cache_clear()
    # THEN every crop is answered by v2 and the stray key is counted, not fatal
    assert (result["updated"], result["skipped_keys"], result["items"]) == (CROPS, 1, CROPS + 1)


def test_reprocess_of_an_unknown_version_names_the_problem(
    catalogued: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # WHEN a version that was never registered is asked for
    code = main(["reprocess", "--skill", "colour", "--version", "9"])
    # THEN the command fails with a message naming it, and nothing was started
    assert code == 2
    assert "has no registered version 9" in capsys.readouterr().err
    assert {v for v, _ in _served(catalogued).values()} == {1}


def test_records_prints_images_with_answers_and_filters(
    catalogued: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # WHEN all records, one image, a future --since and another skill are asked for
    assert main(["records"]) == 0
    everything = _lines(capsys)
    image_id = catalogued["outcomes"][0].image_id
    assert main(["records", "--image", image_id]) == 0
    one = _lines(capsys)
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert main(["records", "--since", future]) == 0
    assert main(["records", "--skill", "make"]) == 0
    # THEN each image comes with its crops, answers and versions; the filters leave out the rest
    assert len(everything) == CROPS
    crop = everything[0]["crops"][0]
    assert (
        crop["served"]["stages"][0]["skill"] == "colour" and crop["served"]["stages"][0]["skill_version"] == 1
    )
    assert crop["skill"] == "car-detector" and crop["code_version"]
    assert [line["image"]["image_id"] for line in one] == [image_id]
    assert _lines(capsys) == []
