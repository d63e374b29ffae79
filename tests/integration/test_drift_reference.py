"""The drift reference is the deployed version's training lineage, not the catalog's train side (moto)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import ImageRecord
from functions.core.base.storage import BlobStore
from functions.core.dataset.extract import LineageRecord, write_lineage
from functions.core.monitoring.monitor import monitor
from functions.core.monitoring.wiring import DriftResources, build_drift_deps
from functions.core.skills.deployment import DeployedSkill, DeploymentStore
from tests.unit.test_drift import DAY0, darker, record, scene


@pytest.fixture
def world(moto_aws: dict[str, Any]) -> dict[str, Any]:
    names = moto_aws["names"]
    catalog = DynamoCatalog(moto_aws["table"])
    trained_on = [record(scene(n), n, f"train-{n}", day=-20) for n in range(40)]
    for image in trained_on:
        catalog.put_image_if_absent(image)
        catalog.assign_group_split(image.group_id, "train")
    for image in [record(scene(1000 + n), n, f"day-{n}", day=0) for n in range(30)]:
        catalog.put_image_if_absent(image)
    ssm = boto3.client("ssm", region_name="us-east-1")
    deployments = DeploymentStore(ssm, names.stage, ttl_s=0)
    resources = DriftResources(
        catalog_table=names.catalog_table, artifacts_bucket=names.artifacts_bucket, stage=names.stage
    )
    return {"catalog": catalog, "deployments": deployments, "resources": resources, "trained_on": trained_on}


def deploy(world: dict[str, Any], moto_aws: dict[str, Any], version: int, images: list[ImageRecord]) -> None:
    lineage = LineageRecord(
        skill="car-make",
        skill_version=version,
        dataset_version=f"data-v{version}",
        crop_ids={"train": [], "val": [], "test": []},
        image_ids={"train": [i.image_id for i in images], "val": [], "test": []},
        created_at=DAY0.isoformat(),
    )
    write_lineage(lineage, BlobStore(moto_aws["s3"]), moto_aws["names"].artifacts_bucket)
    world["deployments"].put(
        DeployedSkill(
            skill="car-make", stage=moto_aws["names"].stage, version=version, artifact_uri="s3://a/"
        )
    )


def test_new_train_side_photos_do_not_change_the_deployed_versions_reference(world, moto_aws):
    # GIVEN car-make v1 deployed, trained on 40 photos (its lineage), and a day of 30 uploads like them
    deploy(world, moto_aws, 1, world["trained_on"])
    deps = build_drift_deps(world["resources"])
    before = monitor(deps, [DAY0.date()], DAY0)
    # WHEN the catalog's train side changes: 40 darkened photos of new train groups arrive
    for n in range(40):
        image = record(darker(scene(2000 + n)), n, f"later-{n}", day=-5)
        world["catalog"].put_image_if_absent(image)
        world["catalog"].assign_group_split(image.group_id, "train")
    after = monitor(deps, [DAY0.date()], DAY0)
    # THEN the reference is still v1's 40 training photos, and the day scores exactly as before
    for run in (before, after):
        assert (run.reference.skill_version, run.reference.dataset_version) == (1, "data-v1")
        assert run.reference_images == 40
    assert after.rows == before.rows
    assert after.rows[0].score is not None and after.rows[0].skill_version == 1
    # AND once v2, trained on the darkened photos too, is deployed, the reference follows it
    later = [i for i in world["catalog"].iter_images() if i.group_id.startswith("later-")]
    deploy(world, moto_aws, 2, world["trained_on"] + later)
    promoted = monitor(build_drift_deps(world["resources"]), [DAY0.date()], DAY0)  # the next daily run
    assert (promoted.reference.skill_version, promoted.reference_images) == (2, 80)
    assert promoted.rows[0].score != before.rows[0].score


def test_no_deployed_version_or_no_lineage_is_no_reference_not_an_error(world, moto_aws):
    # GIVEN nothing deployed
    deps = build_drift_deps(world["resources"])
    # WHEN the day is scored  THEN it is "no reference", saying nothing is deployed
    (row,) = monitor(deps, [DAY0.date()], DAY0).rows
    assert (row.status, row.score) == ("no reference", None)
    assert row.note == f"no version of car-make is deployed in stage {moto_aws['names'].stage}"
    # GIVEN a deployed version without a lineage record (registered by hand)
    world["deployments"].put(
        DeployedSkill(skill="car-make", stage=moto_aws["names"].stage, version=7, artifact_uri="s3://a/")
    )
    # WHEN the day is scored  THEN it is "no reference", naming the missing record; no metric is emitted
    emitted: list[str] = []
    deps = build_drift_deps(world["resources"])
    (row,) = monitor(deps, [DAY0.date()], DAY0, emit=emitted.append).rows
    assert row.status == "no reference" and row.skill_version == 7
    assert row.note is not None and "car-make v7 has no lineage record" in row.note
    assert emitted == []
