"""Hand-off by uncertainty within a budget, confident crops model-labelled, never in a split (moto)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import CropStatus
from functions.core.base.storage import BlobStore
from functions.core.dataset.extract import ExtractDeps, extract_from_catalog
from functions.core.dataset.spec import DatasetSpec
from functions.core.labelling.active import MODEL_LABELLED_NOTE
from functions.core.labelling.handoff import HandoffDeps, hand_off
from functions.core.labelling.local_jobs import LocalLabelingJobs
from scripts.local.stages.labelling import local_labelling_settings
from tests.support.labelling import add_crop
from tests.support.served import served

NOW = datetime(2030, 5, 6, 7, 8, tzinfo=UTC)


def test_uncertain_crops_go_first_and_a_confident_agreeing_one_skips_the_crowd(
    moto_aws: dict[str, Any],
) -> None:
    # GIVEN four new crops hinted "audi": one sure and agreeing, three with growing doubt
    catalog = DynamoCatalog(moto_aws["table"])
    answers = {
        1: {"audi": 0.97, "bmw": 0.02},
        2: {"audi": 0.80, "bmw": 0.15},
        3: {"audi": 0.55, "bmw": 0.40},
        4: {"bmw": 0.50, "audi": 0.45},
    }
    for n, scores in answers.items():
        crop = add_crop(moto_aws, n, hint="audi")
        catalog.update_crop(crop.model_copy(update={"served": served(scores)}))
    names = moto_aws["names"]
    store = BlobStore(moto_aws["s3"])
    settings = local_labelling_settings("us-east-1", "test").model_copy(
        update={"budget_per_job": 2, "skip_crowd_when_confident": True}
    )
    deps = HandoffDeps(
        catalog,
        store,
        LocalLabelingJobs(store, names.artifacts_bucket),
        settings,
        names.artifacts_bucket,
        "x",
    )
    # WHEN the hand-off runs
    result = hand_off(deps, now=NOW, force=True)
    # THEN the two most uncertain go to people, one waits, the sure one is model-labelled
    assert result is not None and result.manifest_uri is not None
    assert (result.crops, result.model_labelled, result.deferred) == (2, 1, 1)
    manifest = store.get(names.artifacts_bucket, result.manifest_uri.split("/", 3)[3]).data.decode()
    assert [json.loads(line)["crop-id"] for line in manifest.splitlines()] == ["img0004-00", "img0003-00"]
    sure = catalog.get_crop("img0001-00")
    assert sure is not None and sure.status is CropStatus.MODEL_LABELLED
    assert (sure.final_class, sure.review_note, sure.reviewer) == (
        "audi",
        MODEL_LABELLED_NOTE,
        "model:car-make@v2",
    )
    waiting = catalog.get_crop("img0002-00")
    assert waiting is not None and waiting.status is CropStatus.NEW
    # AND a model-labelled crop never enters a data set (only verified crops do, whatever the split)
    for crop_id in ("img0002-00", "img0003-00", "img0004-00"):
        fresh = catalog.get_crop(crop_id)
        assert fresh is not None
        catalog.update_crop(fresh.model_copy(update={"status": CropStatus.VERIFIED, "final_class": "audi"}))
    extraction, _ = extract_from_catalog(
        "car-make",
        DatasetSpec(min_images_per_class=1, test_fraction=0.5),
        ExtractDeps(catalog=catalog, store=store, artifacts_bucket=names.artifacts_bucket, salt="s"),
    )
    listed = {c for per in extraction.data.splits.values() for cl in per.values() for c in cl.crop_ids}
    assert "img0001-00" not in listed and len(listed) == 3
