"""Corrective feedback (moto): recorded against the answering version, reviewed, then by the group's split."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import CropStatus
from functions.core.base.storage import BlobStore
from functions.core.dataset.extract import ExtractDeps, extract_from_catalog
from functions.core.dataset.spec import DatasetSpec
from functions.core.gate.regression import replay_cases
from functions.core.labelling.feedback import (
    CorrectionRequest,
    corrections,
    corrections_per_version,
    record_correction,
    registry_classes,
)
from functions.core.labelling.review import ReviewStore
from functions.core.labelling.review_api import ApiRequest, ReviewApi, TokenAuthenticator
from functions.core.skills.manifest import SkillManifest
from functions.core.skills.registry import SkillRegistry
from tests.support.labelling import add_crop
from tests.support.served import served

TOKEN = "t" * 32


@pytest.fixture
def world(moto_aws: dict[str, Any]) -> dict[str, Any]:
    catalog = DynamoCatalog(moto_aws["table"])
    SkillRegistry(moto_aws["table"]).register(
        SkillManifest(
            skill="car-make",
            skill_version=2,
            code_version="t",
            dataset_version="d",
            config_hash="c",
            hardware_profile="cpu",
            classes=["audi", "bmw", "dodge"],
            imgsz=64,
            weights="w.pt",
        ),
        "s3://x/skills/car-make/v000002/",
    )
    crop = add_crop(moto_aws, 1, hint="audi", status=CropStatus.VERIFIED)
    catalog.update_crop(
        crop.model_copy(update={"served": served({"audi": 0.6, "bmw": 0.3}), "final_class": "audi"})
    )
    api = ReviewApi(catalog, BlobStore(moto_aws["s3"]), TokenAuthenticator(TOKEN, reviewer="user-1"))
    return {"aws": moto_aws, "catalog": catalog, "api": api, "crop_id": crop.crop_id}


def post(api: ReviewApi, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = api.handle(
        ApiRequest(
            method="POST",
            path="/api/feedback",
            headers={"authorization": f"Bearer {TOKEN}"},
            body=json.dumps(body).encode(),
        )
    )
    return response.status, json.loads(response.body)


def test_a_correction_is_recorded_against_the_answering_version_and_goes_to_review(world):
    # GIVEN a crop car-make v2 answered "audi"
    # WHEN a signed-in user says it is a bmw
    status, body = post(world["api"], {"target": world["crop_id"], "correct": "bmw"})
    # THEN it is recorded against car-make v2 and the crop waits for the expert with "bmw" proposed
    assert status == 201
    assert (body["correction"]["skill"], body["correction"]["skill_version"]) == ("car-make", 2)
    assert (body["correction"]["served_label"], body["correction"]["user"]) == ("audi", "user-1")
    crop = world["catalog"].get_crop(world["crop_id"])
    assert crop.status is CropStatus.IN_REVIEW and crop.variant_hint == "bmw"
    assert "user correction" in crop.review_note and "'audi'" in crop.review_note
    assert corrections_per_version(corrections(world["catalog"])) == {"car-make v2": 1}


def test_an_unauthenticated_correction_is_refused(world):
    response = world["api"].handle(
        ApiRequest(method="POST", path="/api/feedback", body=b'{"target": "x", "correct": "bmw"}')
    )
    assert response.status == 401
    assert corrections(world["catalog"]) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"target": "no-such-crop", "correct": "bmw"}, "unknown crop or image"),
        ({"target": "img0001-00", "correct": "ferrari"}, "not a class of the skills that answered"),
        ({"target": "img0001-00"}, "correct: Field required"),
    ],
)
def test_bad_corrections_get_a_clear_400_and_record_nothing(world, body, message):
    status, answer = post(world["api"], body)
    assert status == 400 and message in answer["error"]
    assert corrections(world["catalog"]) == []
    crop = world["catalog"].get_crop(world["crop_id"])
    assert crop.status is CropStatus.VERIFIED and crop.variant_hint == "audi"


def test_an_image_id_with_one_car_names_its_crop(world):
    # GIVEN the image record lists its one crop (as detection writes it)
    catalog = world["catalog"]
    image = catalog.get_image("img0001")
    catalog.table.delete_item(Key={"pk": "image#img0001"})
    catalog.put_image_if_absent(image.model_copy(update={"crop_ids": [world["crop_id"]]}))
    # WHEN the correction names the image  THEN it is recorded against its crop
    correction = record_correction(
        world["catalog"],
        CorrectionRequest(target="img0001", correct="dodge"),
        "cli",
        registry_classes(world["catalog"]),
    )
    assert correction.crop_id == world["crop_id"]


def test_a_confirmed_correction_of_a_test_group_joins_the_regression_replay_not_training(world):
    # GIVEN the crop's group is on the test side, and a correction to "bmw"
    catalog = world["catalog"]
    catalog.assign_group_split("advert-1", "test")
    record_correction(
        catalog, CorrectionRequest(target=world["crop_id"], correct="bmw"), "u", registry_classes(catalog)
    )
    # WHEN the expert confirms it
    assert ReviewStore(catalog).auto_approve(reviewer="expert") == 1
    # THEN it is a replayed regression case expecting "bmw", and extraction keeps it on the test side
    cases = replay_cases(catalog, {"audi": "audi", "bmw": "bmw"}.get)
    assert [(c.case_id, c.expected) for c in cases] == [(f"replay-{world['crop_id']}", "bmw")]
    for n in range(2, 14):  # train-side examples so the class is kept
        add_crop(world["aws"], n, hint="bmw", status=CropStatus.VERIFIED)
    extraction, _ = extract_from_catalog(
        "car-make",
        DatasetSpec(min_images_per_class=1),
        ExtractDeps(
            catalog=catalog,
            store=BlobStore(world["aws"]["s3"]),
            artifacts_bucket=world["aws"]["names"].artifacts_bucket,
            salt="s",
        ),
    )
    sides = {c: s for s, per in extraction.data.splits.items() for cl in per.values() for c in cl.crop_ids}
    assert sides[world["crop_id"]] == "test"
