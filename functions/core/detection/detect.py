"""The detection use case: one upload → crops + catalog records, or a quarantined image."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cache

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
from functions.core.base.storage import BlobStore, ObjectMissingError, StoredObject
from functions.core.detection.crops import crop, crop_id, crop_key, keep_detection, main_car_index
from functions.core.detection.detector import Detector
from functions.core.detection.images import BadImageError, decode_image, encode_jpeg
from functions.core.detection.settings import DetectorSettings
from functions.core.detection.upload_keys import UploadContext, upload_context
from functions.core.quality.measure import measure
from functions.core.quality.settings import QualitySettings

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

    def main_car(self, rule: str) -> int | None:
        """The index in `cars` of the photo's main car by `rule` (`main_car_index`); None without a car."""
        if self.image is None:
            return None
        width, height = self.image.size
        return main_car_index([d.box for d in self.cars], width, height, rule)


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
    found = [d for d in detector.detect(image) if keep_detection(d, settings.min_box_side)]
    cars = confident_or_best(found, settings.confidence)
    return Analysis(
        status=ImageStatus.CARS_FOUND if cars else ImageStatus.NO_CAR,
        cars=cars,
        image=image,
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )


def confident_or_best(found: Sequence[Detection], confidence: float) -> list[Detection]:
    """The vehicles at or above `confidence`, best first; when there is none, the single best one found
    (the detector reports down to the settings' fallback floor), else nothing."""
    ranked = sorted(found, key=lambda d: (-d.confidence, d.box.x1, d.box.y1))
    confident = [d for d in ranked if d.confidence >= confidence]
    return confident or ranked[:1]


CropAnnotator = Callable[[list[tuple[Image.Image, CropRecord]], ImageRecord], None]
"""Fills answers into the crop records (and a summary into the image record) before anything is written:
how a higher layer (serving) adds its stage without this use case knowing it."""


@dataclass(frozen=True)
class DetectDeps:
    store: BlobStore
    catalog: Catalog
    detector: Detector
    settings: DetectorSettings
    skill: SkillRef
    crops_bucket: str
    quarantine_bucket: str
    annotate: CropAnnotator | None = None
    quality: QualitySettings = field(default_factory=QualitySettings)


@cache
def _io_pool() -> ThreadPoolExecutor:
    """Single S3 / DynamoDB calls of the uploads of a batch, overlapped (boto3 clients are thread-safe)."""
    return ThreadPoolExecutor(max_workers=8, thread_name_prefix="detect-io")


@cache
def _writes_pool() -> ThreadPoolExecutor:
    """Each upload's ordered writes; they wait on io-pool calls (never the reverse: no deadlock)."""
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="detect-writes")


@dataclass(frozen=True)
class DetectOutcome:
    image_id: str
    status: ImageStatus
    cars: int
    duplicate: bool
    elapsed_ms: float
    served: dict[str, int] | None = None


def detect_and_catalog(upload: Upload, deps: DetectDeps) -> DetectOutcome:
    """Run the whole use case for one upload; idempotent under duplicate and retried events.

    Order matters: crops and crop records first (deterministic keys, so a retry overwrites them),
    the image record last with a conditional put — it is the terminal marker of the upload.
    """
    outcome = detect_batch([upload], deps)[0]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def detect_batch(uploads: Sequence[Upload], deps: DetectDeps) -> list[DetectOutcome | Exception]:
    """Several uploads (one queue batch), pipelined: every duplicate check and download starts at once,
    and while one image is detected (and its crops answered), the writes of the ones before it finish
    in the background. Each upload keeps its own write order (image record last) and gets its own
    outcome, or the exception that stopped it (its message is then retried; the others are not).
    """
    uploads = [_with_revision(upload, deps) for upload in uploads]
    first: dict[str, int] = {}  # image id → index of its first upload in this batch
    pending: list[DetectOutcome | Future[DetectOutcome] | Exception | int] = []
    fetches: list[_Fetch | None] = []
    for index, upload in enumerate(uploads):
        image_id = upload_context(upload.key, revision=upload.revision).image_id
        if image_id in first:  # the same upload twice in one batch: processed once
            fetches.append(None)
        else:
            first[image_id] = index
            fetches.append(_fetch(upload, deps))
    for upload, fetch in zip(uploads, fetches, strict=True):
        if fetch is None:
            pending.append(first[upload_context(upload.key, revision=upload.revision).image_id])
            continue
        try:
            pending.append(_detect_one(upload, fetch, deps))
        except Exception as exc:  # this upload only; the batch goes on
            pending.append(exc)
    outcomes: list[DetectOutcome | Exception] = []
    for item in pending:
        if isinstance(item, Future):
            try:
                outcomes.append(item.result())
            except Exception as exc:
                outcomes.append(exc)
        elif isinstance(item, int):  # a repeat: the first one's outcome, as a duplicate
            done = outcomes[item]
            outcomes.append(
                done if isinstance(done, Exception) else replace(done, duplicate=True, elapsed_ms=0.0)
            )
        else:
            outcomes.append(item)
    return outcomes


@dataclass(frozen=True)
class _Fetch:
    context: UploadContext
    existing: Future[ImageRecord | None]
    download: Future[StoredObject]


def _with_revision(upload: Upload, deps: DetectDeps) -> Upload:
    """S3 events carry the ETag (and the version id of a versioned bucket); an event without either
    (hand-made, or a redrive of an old message) gets the object's current ETag, so that every event
    for one upload keys to one image id."""
    if upload.revision is not None:
        return upload
    return upload.model_copy(update={"etag": deps.store.etag(upload.bucket, upload.key)})


def _fetch(upload: Upload, deps: DetectDeps) -> _Fetch:
    """The duplicate check and the download, started together (a duplicate wastes one GET: rare, harmless)."""
    context = upload_context(upload.key, revision=upload.revision)
    return _Fetch(
        context,
        _io_pool().submit(deps.catalog.get_image, context.image_id),
        _io_pool().submit(deps.store.get, upload.bucket, upload.key),
    )


def _detect_one(upload: Upload, fetch: _Fetch, deps: DetectDeps) -> DetectOutcome | Future[DetectOutcome]:
    """Detect (and answer) one upload; its writes are finished by the returned future."""
    started = time.perf_counter()
    context = fetch.context
    existing = fetch.existing.result()
    if existing is not None:
        fetch.download.cancel()
        logger.info("duplicate event, already catalogued", extra={"image_id": context.image_id})
        return DetectOutcome(context.image_id, existing.status, len(existing.cars), True, 0.0)

    try:
        stored = fetch.download.result()
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
    crops: list[tuple[Image.Image, CropRecord]] = []
    uploads: list[Future[None]] = []

    if analysis.status is ImageStatus.QUARANTINED:
        record.reason = analysis.reason
        record.reason_detail = analysis.reason_detail
        uploads.append(
            _io_pool().submit(
                deps.store.copy,
                upload.bucket,
                upload.key,
                deps.quarantine_bucket,
                upload.key,
                metadata={"reason": str(analysis.reason), "image-id": context.image_id},
            )
        )
        logger.warning(
            "image quarantined",
            extra={"image_id": context.image_id, "key": upload.key, "reason": str(analysis.reason)},
        )
    elif analysis.image is not None:
        record.width, record.height = analysis.image.size
        record.stats = measure(analysis.image, deps.quality)
        main = analysis.main_car(deps.settings.main_car_rule)
        images = [crop(analysis.image, d.box, deps.settings.crop_padding) for d in analysis.cars]
        crops = [
            (car, _crop_record(car, d, index, record, deps, main=index == main))
            for index, (car, d) in enumerate(zip(images, analysis.cars, strict=True))
        ]
        for image, crop_record in crops:
            crop_record.stats = measure(image, deps.quality)
        record.crop_ids = [crop_record.crop_id for _, crop_record in crops]
        uploads = _upload_crops(crops, record, deps)  # in the background, while the crops are answered
    return _writes_pool().submit(_finish, record, crops, uploads, deps, started)


def _finish(
    record: ImageRecord,
    crops: list[tuple[Image.Image, CropRecord]],
    uploads: list[Future[None]],
    deps: DetectDeps,
    started: float,
) -> DetectOutcome:
    """Answers (the annotator), crop records, every object write confirmed, then the image record (the
    terminal marker). Runs in the background while the next upload of the batch is detected."""
    if deps.annotate is not None and crops:
        deps.annotate(crops, record)
    _store_crop_records(crops, uploads, deps)
    written = deps.catalog.put_image_if_absent(record)
    if written:
        _supersede_older_upload(record, deps)
    outcome = DetectOutcome(
        record.image_id, record.status, len(record.cars), not written, _ms(started), record.served_summary
    )
    logger.info(
        "image catalogued",
        extra={"image_id": record.image_id, "status": record.status.value, "cars": outcome.cars},
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


def _crop_record(
    car: Image.Image,
    detection: Detection,
    index: int,
    record: ImageRecord,
    deps: DetectDeps,
    main: bool,
) -> CropRecord:
    return CropRecord(
        crop_id=crop_id(record.image_id, index),
        image_id=record.image_id,
        crop_bucket=deps.crops_bucket,
        crop_key=crop_key(record.image_id, index),
        index=index,
        box=detection.box,
        confidence=detection.confidence,
        label=detection.label,
        group_id=record.group_id,
        variant_hint=record.variant_hint if main else None,
        main_car=main,
        main_car_rule=deps.settings.main_car_rule,
        content_sha256=record.content_sha256,
        skill=deps.skill.skill,
        skill_version=deps.skill.skill_version,
        code_version=deps.skill.code_version,
    )


def _upload_crops(
    crops: list[tuple[Image.Image, CropRecord]], record: ImageRecord, deps: DetectDeps
) -> list[Future[None]]:
    """Encode and put the crop objects in parallel (keys are deterministic: a retry rewrites them)."""

    def upload(image: Image.Image, crop_record: CropRecord) -> None:
        box = crop_record.box
        metadata = {
            "image-id": record.image_id,
            "skill-version": str(deps.skill.skill_version),
            # the car's own size inside its square crop (what a person sees of the car)
            "car-width": str(round(box.x2 - box.x1)),
            "car-height": str(round(box.y2 - box.y1)),
        }
        deps.store.put(
            deps.crops_bucket,
            crop_record.crop_key,
            encode_jpeg(image),
            content_type="image/jpeg",
            metadata=metadata,
        )

    return [_io_pool().submit(upload, image, crop_record) for image, crop_record in crops]


def _store_crop_records(
    crops: list[tuple[Image.Image, CropRecord]], uploads: list[Future[None]], deps: DetectDeps
) -> None:
    """The crop records in one batch write, then every crop object confirmed: all before the image record.

    Keys are deterministic, so a retried upload rewrites the same objects and items: nothing doubles.
    """
    try:
        if crops:
            deps.catalog.put_crops([crop_record for _, crop_record in crops])
    finally:
        for upload in uploads:
            upload.result()  # re-raises a failed put: the message is retried, the image record is not written


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
