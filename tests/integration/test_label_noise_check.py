"""`skillforge label-noise`: deliberately swapped labels in a skill's training data are found with the
version's own embeddings, listed, and sent to expert review as suspected label noise (moto)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import CropStatus
from functions.core.base.storage import BlobStore
from functions.core.dataset.extract import ExtractDeps, LineageRecord, screened_table, write_lineage
from functions.core.dataset.spec import DatasetSpec
from functions.core.labelling.review import ReviewStore
from scripts.cli import main
from tests.support.labelling import add_crop
from tests.support.serving import register_and_promote
from tests.support.tiny_skill import synthetic_image

pytestmark = pytest.mark.slow  # a real tiny skill's embeddings and cleanlab: seconds per test

COLOURS = ("red", "blue", "green")
PER_CLASS = 20
SWAPPED = {3: "blue", 27: "green", 45: "red", 50: "blue"}  # crop number → the wrong label it is given


@pytest.fixture
def trained(
    moto_aws: dict[str, Any], tiny_skill_folders: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """colour v1 deployed, trained on 60 verified crops (20 per colour) that its lineage names."""
    names = moto_aws["names"]
    for name, value in {
        "SKILLFORGE_CATALOG_TABLE": names.catalog_table,
        "SKILLFORGE_ARTIFACTS_BUCKET": names.artifacts_bucket,
        "SKILLFORGE_CROPS_BUCKET": names.crops_bucket,
        "SKILLFORGE_STAGE": names.stage,
        "SKILLFORGE_AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    ssm = boto3.client("ssm", region_name="us-east-1")
    register_and_promote(
        moto_aws["table"],
        moto_aws["s3"],
        ssm,
        names.artifacts_bucket,
        tiny_skill_folders["good"],
        names.stage,
    )
    crops = []
    for n in range(PER_CLASS * len(COLOURS)):
        colour = COLOURS[n // PER_CLASS]
        crops.append(
            add_crop(
                moto_aws,
                n,
                hint=colour,
                status=CropStatus.VERIFIED,
                picture=synthetic_image(colour, seed=100 + n),
                final_class=colour,
            )
        )
    ids = [c.crop_id for c in crops]
    lineage = LineageRecord(
        skill="colour",
        skill_version=1,
        dataset_version="d1",
        crop_ids={"train": ids[::2], "val": [], "test": ids[1::2]},
        image_ids={
            "train": [c.image_id for c in crops[::2]],
            "val": [],
            "test": [c.image_id for c in crops[1::2]],
        },
        created_at="2030-05-01T00:00:00+00:00",
    )
    write_lineage(lineage, BlobStore(moto_aws["s3"]), names.artifacts_bucket)
    return {"catalog": DynamoCatalog(moto_aws["table"]), "ids": ids}


def swap_labels(catalog: DynamoCatalog, ids: list[str]) -> set[str]:
    """A sloppy review: some verified crops now carry another colour."""
    for n, wrong in SWAPPED.items():
        crop = catalog.get_crop(ids[n])
        assert crop is not None
        catalog.update_crop(crop.model_copy(update={"final_class": wrong}))
    return {ids[n] for n in SWAPPED}


def run_cli(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, list[dict[str, Any]], str]:
    code = main(["label-noise", "--skill", "colour", *extra])
    out = capsys.readouterr()
    return code, [json.loads(line) for line in out.out.splitlines()], out.err


def test_swapped_labels_are_candidates_and_go_to_review(trained, moto_aws, capsys):
    # GIVEN the deployed version's training data with four deliberately swapped labels
    catalog = trained["catalog"]
    swapped = swap_labels(catalog, trained["ids"])
    # WHEN the command runs
    code, rows, err = run_cli(capsys)
    # THEN every swapped crop is a candidate, with its true colour suggested, and few others are
    assert code == 0
    by_id = {row["crop_id"]: row for row in rows}
    assert swapped <= set(by_id)
    assert len(rows) <= len(swapped) + 2
    true_colour = {trained["ids"][n]: COLOURS[n // PER_CLASS] for n in SWAPPED}
    assert all(by_id[c]["suggested"] == true_colour[c] for c in swapped)
    assert all(row["sent_to_review"] for row in rows)
    assert "colour v1 (data set d1): 60 crops checked" in err
    # AND they wait in expert review as suspected label noise, their current label proposed
    for crop_id in swapped:
        crop = catalog.get_crop(crop_id)
        assert crop is not None and crop.status is CropStatus.IN_REVIEW
        assert crop.variant_hint == by_id[crop_id]["given"]
        assert crop.review_note is not None and crop.review_note.startswith("suspected label noise")
    queued = {item.crop_id: item for item in ReviewStore(catalog).queue("blue")}
    assert trained["ids"][3] in queued and "suggests 'red'" in str(queued[trained["ids"][3]].note)
    # AND the dataset report counts them
    deps = ExtractDeps(catalog, BlobStore(moto_aws["s3"]), moto_aws["names"].artifacts_bucket, salt="t")
    _, report = screened_table(DatasetSpec(min_images_per_class=1), deps)
    assert report.label_noise_in_review == len(rows)


def test_a_clean_training_set_gives_few_candidates_and_a_dry_run_changes_nothing(trained, capsys):
    # GIVEN the deployed version's training data with every label right
    catalog = trained["catalog"]
    # WHEN the command runs as a dry run
    code, rows, err = run_cli(capsys, "--dry-run", "--format", "jsonl")
    # THEN at most one crop is a candidate, and nothing left the verified crops
    assert code == 0
    assert len(rows) <= 1
    assert not any(row["sent_to_review"] for row in rows)
    assert "(dry run)" in err
    assert sum(1 for _ in catalog.crops_by_status(CropStatus.VERIFIED)) == PER_CLASS * len(COLOURS)


def test_a_version_without_lineage_is_a_clear_error(trained, capsys):
    # GIVEN a version number with no lineage record  WHEN the command runs  THEN one line names the problem
    code = main(["label-noise", "--skill", "colour", "--version", "9"])
    assert code == 2
    assert "colour v9 has no lineage record" in capsys.readouterr().err
