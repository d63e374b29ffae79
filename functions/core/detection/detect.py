"""The detection use case: one upload → crops + catalog records, or a quarantined image."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from aws_lambda_powertools import Logger
from PIL import Image

from functions.core.base.catalog import Catalog
from functions.core.base.records import (
    CropRecord,
    Detection,
    ImageRecord,
    ImageStatus,
    QuarantineReason,
    SkillRef,
    Upload,
    utc_now,
)
from functions.core.base.storage import BlobStore, ObjectMissingError
from functions.core.detection.crops import crop, crop_id, crop_key, keep_detection
from functions.core.detection.detector import Detector
from functions.core.detection.images import BadImageError, decode_image, encode_jpeg
from functions.core.detection.settings import DetectorSettings
from functions.core.detection.upload_keys import UploadContext, upload_context

logger = Logger(child=True)


@dataclass(frozen=True)
class Analysis:
    """What detection says about one image, before anything is stored."""

    status: ImageStatus
    cars: list[Detection]
    image: Image.Image | None = None
    reason: QuarantineReason | None = None
    reason_detail: str | None = None
    elapsed_ms: float = 0.0


def analyse_image(data: bytes, detector: Detector, settings: DetectorSettings) -> Analysis:
    """Decode safely and detect vehicles; a bad input becomes a quarantine reason, never an exception."""
    started = time.perf_counter()
    try:
        image = decode_image(data, settings.image_limits())
    except BadImageError as exc:
        return Analysis(
            status=ImageStatus.QUARANTINED,
            cars=[],
            reason=exc.reason,
            reason_detail=exc.detail,
            elapsed_ms=(time.perf_counter() - started) * 1000,
        )
    cars = [d for d in detector.detect(image) if keep_detection(d, settings.min_box_side)]
    cars.sort(key=lambda d: (-d.confidence, d.box.x1, d.box.y1))
    return Analysis(
        status=ImageStatus.CARS_FOUND if cars else ImageStatus.NO_CAR,
        cars=cars,
        image=image,
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )


@dataclass(frozen=True)
class DetectDeps:
    store: BlobStore
    catalog: Catalog
    detector: Detector
    settings: DetectorSettings
    skill: SkillRef
    crops_bucket: str
    quarantine_bucket: str


@dataclass(frozen=True)
class DetectOutcome:
    image_id: str
    status: ImageStatus
    cars: int
    duplicate: bool
    elapsed_ms: float


def detect_and_catalog(upload: Upload, deps: DetectDeps) -> DetectOutcome:
    """Run the whole use case for one upload; idempotent under duplicate and retried events.

    Order matters: crops and crop records first (deterministic keys, so a retry overwrites them),
    the image record last with a conditional put — it is the terminal marker of the upload.
    """
    started = time.perf_counter()
    context = upload_context(upload.key, revision=upload.revision)
    existing = deps.catalog.get_image(context.image_id)
    if existing is not None:
        logger.info("duplicate event, already catalogued", extra={"image_id": context.image_id})
        return DetectOutcome(context.image_id, existing.status, len(existing.cars), True, 0.0)

    try:
        stored = deps.store.get(upload.bucket, upload.key)
    except ObjectMissingError:
        record = _record(upload, context, deps, status=ImageStatus.QUARANTINED)
        record.reason = QuarantineReason.OBJECT_MISSING
        record.reason_detail = "the object was deleted before it could be processed"
        written = deps.catalog.put_image_if_absent(record)
        return DetectOutcome(context.image_id, record.status, 0, not written, _ms(started))

    context = upload_context(upload.key, stored.metadata, revision=upload.revision)
    analysis = analyse_image(stored.data, deps.detector, deps.settings)
    record = _record(upload, context, deps, status=analysis.status)
    record.content_sha256 = hashlib.sha256(stored.data).hexdigest()
    record.etag = stored.etag
    record.cars = analysis.cars

    if analysis.status is ImageStatus.QUARANTINED:
        record.reason = analysis.reason
        record.reason_detail = analysis.reason_detail
        deps.store.copy(
            upload.bucket,
            upload.key,
            deps.quarantine_bucket,
            upload.key,
            metadata={"reason": str(analysis.reason), "image-id": context.image_id},
        )
        logger.warning(
            "image quarantined",
            extra={"image_id": context.image_id, "key": upload.key, "reason": str(analysis.reason)},
        )
    elif analysis.image is not None:
        record.width, record.height = analysis.image.size
        for index, detection in enumerate(analysis.cars):
            crop_record = _store_crop(analysis.image, detection, index, record, deps)
            record.crop_ids.append(crop_record.crop_id)

    written = deps.catalog.put_image_if_absent(record)
    if written:
        _supersede_older_upload(record, deps)
    outcome = DetectOutcome(context.image_id, record.status, len(record.cars), not written, _ms(started))
    logger.info(
        "image catalogued",
        extra={"image_id": context.image_id, "status": record.status.value, "cars": outcome.cars},
    )
    return outcome


def _supersede_older_upload(record: ImageRecord, deps: DetectDeps) -> None:
    """A new upload to a key that had one: the older record (and its unlabelled crops) is superseded."""
    if record.revision is None:
        return  # no version id or ETag in the event: one record per key, as before
    other = deps.catalog.claim_key(record)
    if other is None:
        return
    if other_is_newer := (deps.catalog.get_image(other) or record).uploaded_at > record.uploaded_at:
        superseded = deps.catalog.supersede(record.image_id, other)
    else:
        superseded = deps.catalog.supersede(other, record.image_id)
    logger.info(
        "a new upload to the same key superseded an older one",
        extra={"key": record.key, "image_id": record.image_id, "other": other,
               "this_is_older": other_is_newer, "crops_superseded": len(superseded)},
    )  # fmt: skip


def _store_crop(
    image: Image.Image, detection: Detection, index: int, record: ImageRecord, deps: DetectDeps
) -> CropRecord:
    key = crop_key(record.image_id, index)
    deps.store.put(
        deps.crops_bucket,
        key,
        encode_jpeg(crop(image, detection.box, deps.settings.crop_padding)),
        content_type="image/jpeg",
        metadata={"image-id": record.image_id, "skill-version": str(deps.skill.skill_version)},
    )
    crop_record = CropRecord(
        crop_id=crop_id(record.image_id, index),
        image_id=record.image_id,
        crop_bucket=deps.crops_bucket,
        crop_key=key,
        index=index,
        box=detection.box,
        confidence=detection.confidence,
        label=detection.label,
        group_id=record.group_id,
        variant_hint=record.variant_hint,
        skill=deps.skill.skill,
        skill_version=deps.skill.skill_version,
        code_version=deps.skill.code_version,
    )
    deps.catalog.put_crop(crop_record)
    return crop_record


def _record(upload: Upload, context: UploadContext, deps: DetectDeps, status: ImageStatus) -> ImageRecord:
    return ImageRecord(
        image_id=context.image_id,
        bucket=upload.bucket,
        key=upload.key,
        source=context.source,
        group_id=context.group_id,
        variant_hint=context.variant_hint,
        uploaded_at=upload.event_time or utc_now(),
        status=status,
        etag=upload.etag,
        revision=upload.revision,
        skill=deps.skill.skill,
        skill_version=deps.skill.skill_version,
        code_version=deps.skill.code_version,
    )


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
