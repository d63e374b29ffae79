"""Corrective feedback: a user says the served answer was wrong; the correction goes to the expert.

A correction names a crop (or an image with exactly one car) and the right class. It is recorded
against the skill version that answered (the cascade stage whose skill has that class), and the crop
goes (back) to expert review with the corrected class as the proposal and a note saying who said
what. Once the expert confirms, the crop is verified like any other: its group's split, persisted
once and for all, decides where it lands, so a crop of a test group joins the regression replay
(gate/regression.py) and never a training split, and a crop of a train group joins the next training
set. Bad input (unknown crop or image, an image with several cars, a crop never served, a class no
answering skill has) raises CorrectionError and records nothing.

Catalog item: `correction#<id>` (kind `correction`).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from functions.core.base.catalog import DynamoCatalog, from_item, to_item
from functions.core.base.records import CropRecord, CropStatus, StageAnswer, utc_now
from functions.core.skills.registry import SkillRegistry

USER_CORRECTION = "user correction"


class CorrectionError(ValueError):
    """A correction that cannot be recorded; the message says why (HTTP 400 / CLI error)."""


class CorrectionRequest(BaseModel):
    target: str = Field(min_length=1, max_length=200, description="crop id, or an image id with one car")
    correct: str = Field(min_length=1, max_length=200, description="the right class")


class Correction(BaseModel):
    correction_id: str
    crop_id: str
    image_id: str
    group_id: str
    correct_label: str
    served_label: str = Field(description="what the corrected skill version answered")
    skill: str
    skill_version: int
    code_version: str
    user: str
    created_at: datetime
    previous_status: CropStatus


ClassesOf = Callable[[str, int], list[str] | None]  # (skill, version) → its classes, None if unknown


def registry_classes(catalog: DynamoCatalog) -> ClassesOf:
    """(skill, version) → the registered version's classes (None when the registry does not know it)."""
    registry = SkillRegistry(catalog.table)

    def classes_of(skill: str, version: int) -> list[str] | None:
        entry = registry.get(skill, version)
        return list(entry.classes) if entry else None

    return classes_of


def _resolve_crop(catalog: DynamoCatalog, target: str) -> CropRecord:
    crop = catalog.get_crop(target)
    if crop is not None:
        return crop
    image = catalog.get_image(target)
    if image is None:
        raise CorrectionError(f"unknown crop or image {target!r}")
    if len(image.crop_ids) != 1:
        ids = ", ".join(image.crop_ids) or "none"
        raise CorrectionError(f"image {target} has {len(image.crop_ids)} cars: name the crop ({ids})")
    crop = catalog.get_crop(image.crop_ids[0])
    if crop is None:
        raise CorrectionError(f"crop {image.crop_ids[0]} of image {target} is not in the catalog")
    return crop


def _answering_stage(crop: CropRecord, label: str, classes_of: ClassesOf) -> StageAnswer:
    if crop.served is None or not crop.served.stages:
        raise CorrectionError(f"crop {crop.crop_id} was never answered by a skill: nothing to correct")
    known: list[str] = []
    for stage in reversed(crop.served.stages):
        classes = classes_of(stage.skill, stage.skill_version)
        if classes is None:
            continue
        if label in classes:
            return stage
        known.append(f"{stage.skill} v{stage.skill_version}: {', '.join(classes)}")
    answered = "; ".join(known) or "none known"
    raise CorrectionError(
        f"{label!r} is not a class of the skills that answered crop {crop.crop_id} ({answered})"
    )


def record_correction(
    catalog: DynamoCatalog,
    request: CorrectionRequest,
    user: str,
    classes_of: ClassesOf,
    now: datetime | None = None,
) -> Correction:
    """Validate, record the correction and put the crop in expert review (both or neither)."""
    now = now or utc_now()
    crop = _resolve_crop(catalog, request.target)
    stage = _answering_stage(crop, request.correct, classes_of)
    digest = hashlib.sha256(f"{crop.crop_id}\x00{request.correct}\x00{user}\x00{now.isoformat()}".encode())
    correction = Correction(
        correction_id=digest.hexdigest()[:20],
        crop_id=crop.crop_id,
        image_id=crop.image_id,
        group_id=crop.group_id,
        correct_label=request.correct,
        served_label=stage.label,
        skill=stage.skill,
        skill_version=stage.skill_version,
        code_version=stage.code_version,
        user=user,
        created_at=now,
        previous_status=crop.status,
    )
    reviewed = crop.model_copy(
        update={
            "status": CropStatus.IN_REVIEW,
            "variant_hint": request.correct,
            "review_note": (
                f"{USER_CORRECTION} by {user}: {stage.skill} v{stage.skill_version} said {stage.label!r}, "
                f"user says {request.correct!r} (upload hint {crop.variant_hint or 'none'})"
            ),
        }
    )
    item = to_item(correction.model_dump(mode="json"))
    item.update(pk=f"correction#{correction.correction_id}", kind="correction")
    crop_item = to_item(reviewed.model_dump(mode="json"))
    crop_item.update(pk=f"crop#{crop.crop_id}", kind="crop", kind_status=f"crop#{CropStatus.IN_REVIEW.value}")
    client = catalog.table.meta.client
    client.transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": catalog.table.name,
                    "Item": item,
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Put": {
                    "TableName": catalog.table.name,
                    "Item": crop_item,
                    "ConditionExpression": "#status = :status",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {":status": crop.status.value},
                }
            },
        ]
    )
    return correction


def corrections(catalog: DynamoCatalog) -> list[Correction]:
    kwargs: dict[str, Any] = {
        "FilterExpression": "#kind = :kind",
        "ExpressionAttributeNames": {"#kind": "kind"},
        "ExpressionAttributeValues": {":kind": "correction"},
    }
    found: list[Correction] = []
    while True:
        page = catalog.table.scan(**kwargs)
        for item in page.get("Items", []):
            data = {k: v for k, v in from_item(item).items() if k not in {"pk", "kind"}}
            found.append(Correction.model_validate(data))
        if "LastEvaluatedKey" not in page:
            return sorted(found, key=lambda c: c.created_at)
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def corrections_per_version(items: list[Correction]) -> dict[str, int]:
    """`<skill> v<version>` → corrections recorded against that version."""
    counts = Counter(f"{c.skill} v{c.skill_version}" for c in items)
    return dict(sorted(counts.items()))
