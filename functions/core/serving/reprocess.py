"""Reprocessing: stored crops re-answered by the cascade with one skill pinned (e.g. after a promotion).

One batch = the crop objects of one Distributed Map batch (or of one local batch). Idempotent: a crop
whose answer already came from the requested version is skipped without running a model, and a new
answer identical to the stored one is not written; every write is conditional on the answer read, so
two overlapping runs never write the same crop twice.
"""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from PIL import Image
from pydantic import BaseModel, Field

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import CropRecord, ServedAnswer
from functions.core.base.storage import BlobStore, ObjectMissingError
from functions.core.detection.crops import crop_id_of_key
from functions.core.serving.serve import ServeDeps, serve_crop
from functions.core.skills.manifest import validate_skill_name
from functions.core.skills.registry import SkillRegistry


class ReprocessRequest(BaseModel):
    skill: str
    version: int | None = Field(default=None, ge=1, description="None = the version deployed now")
    prefix: str = Field(default="crops/", description="crop object keys under this prefix")

    def model_post_init(self, _context: object) -> None:
        validate_skill_name(self.skill)


class ReprocessItem(BaseModel):
    """One item of the S3 listing (Distributed Map ItemReader over ListObjectsV2: `Key`, `Size`, ...)."""

    Key: str


class ReprocessBatch(BaseModel):
    """What a Distributed Map ItemBatcher hands the batch function."""

    Items: list[ReprocessItem]
    BatchInput: ReprocessRequest


class ReprocessResult(BaseModel):
    items: int = 0
    updated: int = 0
    unchanged: int = 0
    missing: int = 0
    not_classified: int = 0
    skipped_keys: int = Field(default=0, description="listed objects that are not crops")

    def add(self, other: ReprocessResult) -> ReprocessResult:
        return ReprocessResult(**{k: getattr(self, k) + getattr(other, k) for k in type(self).model_fields})


@dataclass(frozen=True)
class ReprocessDeps:
    serve: ServeDeps
    catalog: DynamoCatalog
    store: BlobStore
    registry: SkillRegistry


def pinned_version(request: ReprocessRequest, deps: ReprocessDeps) -> tuple[int, str]:
    """(version, artifact URI) that answers for the skill: the requested one, else the deployed one."""
    if request.skill not in deps.serve.config.skills():
        raise ValueError(
            f"skill {request.skill!r} is not a stage of the served cascade {deps.serve.config.skills()}"
        )
    if request.version is None:
        deployed = deps.serve.skills.version(request.skill)
        if deployed is None:
            raise ValueError(f"skill {request.skill!r} has no deployed version: name one with --version")
        return deployed
    entry = deps.registry.get(request.skill, request.version)
    if entry is None:
        raise ValueError(f"skill {request.skill!r} has no registered version {request.version}")
    return request.version, entry.artifact_uri


def reprocess_batch(keys: list[str], request: ReprocessRequest, deps: ReprocessDeps) -> ReprocessResult:
    """Re-answer the crops of these object keys with `request.skill` pinned; counts what happened."""
    pin = pinned_version(request, deps)
    result = ReprocessResult(items=len(keys))
    crop_ids: list[str] = []
    for key in keys:
        try:
            crop_ids.append(crop_id_of_key(key))
        except ValueError:
            result.skipped_keys += 1
    records = deps.catalog.get_crops(crop_ids)
    result.missing += len(set(crop_ids) - records.keys())
    todo = [r for r in records.values() if not _answered_by(r.served, request.skill, pin[0])]
    result.unchanged += len(records) - len(todo)
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="reprocess-io") as pool:
        images = pool.map(lambda r: _crop_bytes(deps.store, r), todo)
        for record, data in zip(todo, images, strict=True):
            if data is None:
                result.missing += 1
                continue
            answer = serve_crop(Image.open(io.BytesIO(data)), deps.serve, {request.skill: pin})
            if answer.status == "not_classified":
                result.not_classified += 1
            if record.served is not None and _same(answer, record.served):
                result.unchanged += 1
            elif deps.catalog.set_served(record, answer):
                result.updated += 1
            else:
                result.unchanged += 1  # another run answered it since it was read
    return result


def _crop_bytes(store: BlobStore, record: CropRecord) -> bytes | None:
    try:
        return store.get(record.crop_bucket, record.crop_key).data
    except ObjectMissingError:
        return None


def _answered_by(served: ServedAnswer | None, skill: str, version: int) -> bool:
    stage = served.answered_by(skill) if served is not None else None
    return stage is not None and stage.skill_version == version


def _same(new: ServedAnswer, old: ServedAnswer) -> bool:
    return new.model_dump(exclude={"served_at"}) == old.model_dump(exclude={"served_at"})


# AWS list prices, us-east-1 (recorded 2026-11): Lambda x86, Step Functions standard, S3, DynamoDB on demand.
LAMBDA_GB_S_USD = 0.0000166667
LAMBDA_REQUEST_USD = 0.20 / 1_000_000
SFN_TRANSITION_USD = 0.025 / 1000
S3_GET_USD = 0.0004 / 1000
S3_LIST_USD = 0.005 / 1000
DDB_READ_UNIT_USD = 0.125 / 1_000_000
DDB_WRITE_UNIT_USD = 0.625 / 1_000_000
TRANSITIONS_PER_BATCH = 4  # child execution: start, task, retry-free success, end


class ReprocessPlan(BaseModel):
    """What a reprocess will do and cost, printed before it starts."""

    skill: str
    version: int
    prefix: str
    items: int
    batches: int
    batch_size: int
    max_concurrency: int
    ms_per_crop: float
    memory_mb: int
    estimated_minutes: float
    estimated_usd: float
    cost_breakdown_usd: dict[str, float]


def plan(
    request: ReprocessRequest,
    version: int,
    items: int,
    *,
    batch_size: int,
    max_concurrency: int,
    ms_per_crop: float,
    memory_mb: int,
    write_units_per_crop: int = 2,
) -> ReprocessPlan:
    """Item count and cost estimate (upper bound: every crop classified and written)."""
    batches = -(-items // batch_size) if items else 0
    lambda_s = items * ms_per_crop / 1000
    breakdown = {
        "lambda": lambda_s * memory_mb / 1024 * LAMBDA_GB_S_USD + batches * LAMBDA_REQUEST_USD,
        "step_functions": (batches * TRANSITIONS_PER_BATCH + 4) * SFN_TRANSITION_USD,
        "s3": items * S3_GET_USD + (-(-items // 1000)) * S3_LIST_USD,
        "dynamodb": items * DDB_READ_UNIT_USD + items * write_units_per_crop * DDB_WRITE_UNIT_USD,
    }
    return ReprocessPlan(
        skill=request.skill,
        version=version,
        prefix=request.prefix,
        items=items,
        batches=batches,
        batch_size=batch_size,
        max_concurrency=max_concurrency,
        ms_per_crop=ms_per_crop,
        memory_mb=memory_mb,
        estimated_minutes=round(lambda_s / max(1, min(max_concurrency, batches or 1)) / 60, 2),
        estimated_usd=round(sum(breakdown.values()), 4),
        cost_breakdown_usd={k: round(v, 6) for k, v in breakdown.items()},
    )
