"""Daily drift of incoming photos and served answers against the skill's training reference (pure Python).

Reference: the train split of the deployed skill version's lineage record (exactly the photos it
learnt from, whatever the catalog's train side holds today) and, where they were served, the answers
on their crops. Without one (nothing deployed, no lineage record, its photos not in the catalog) a
day is "no reference", never an error. Each day: the photos uploaded that day and the answers
served on their crops. Numeric features are binned at the reference's quantiles, categorical ones
by value; each gets a population stability index, PSI = Σ (cur − ref) · ln(cur / ref); the day's
score is the largest. A day without photos is "no data", never an error. Pure Python: the monitor
runs in a zip Lambda whose layer has no numpy.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field

from functions.core.base.records import CropRecord, ImageRecord
from functions.core.monitoring.settings import METRIC_NAMESPACE, SCORE_METRIC, DriftSettings

EPSILON = 1e-4
NOT_IN_CATALOG = "none of the reference's photos is in the catalog"

Numeric = Callable[[ImageRecord, list[CropRecord]], list[float]]


def _image(field: str) -> Numeric:
    def values(image: ImageRecord, _: list[CropRecord]) -> list[float]:
        return [float(getattr(image.stats, field))] if image.stats else []

    return values


def _megapixels(image: ImageRecord, _: list[CropRecord]) -> list[float]:
    return [image.stats.width * image.stats.height / 1e6] if image.stats else []


def _sharpness(image: ImageRecord, _: list[CropRecord]) -> list[float]:
    return [math.log1p(image.stats.sharpness)] if image.stats else []


def _confidence(_: ImageRecord, crops: list[CropRecord]) -> list[float]:
    return [c.served.stages[-1].score for c in crops if c.served and c.served.stages]


def _margin(_: ImageRecord, crops: list[CropRecord]) -> list[float]:
    return [c.served.margin for c in crops if c.served and c.served.margin is not None]


NUMERIC: dict[str, Numeric] = {
    "size_mp": _megapixels,
    "aspect": _image("aspect"),
    "brightness": _image("brightness"),
    "blur": _sharpness,  # log(1 + Laplacian variance): low = blurred
    "confidence": _confidence,
    "margin": _margin,
}


def _class_mix(crops: list[CropRecord]) -> list[str]:
    return [c.served.final_label for c in crops if c.served and c.served.final_label]


def _unclassified(crops: list[CropRecord]) -> list[str]:
    return [c.served.status for c in crops if c.served]


CATEGORICAL: dict[str, Callable[[list[CropRecord]], list[str]]] = {
    "class_mix": _class_mix,
    "unclassified": _unclassified,
}
FEATURES: tuple[str, ...] = (*NUMERIC, *CATEGORICAL)


class Sample(BaseModel):
    """The feature values of a set of photos (and their crops' served answers)."""

    images: int = 0
    crops: int = 0
    numeric: dict[str, list[float]] = Field(default_factory=dict)
    categorical: dict[str, list[str]] = Field(default_factory=dict)


def sample_of(images: Iterable[ImageRecord], crops_of: Mapping[str, list[CropRecord]]) -> Sample:
    sample = Sample(numeric={k: [] for k in NUMERIC}, categorical={k: [] for k in CATEGORICAL})
    for image in images:
        crops = crops_of.get(image.image_id, [])
        sample.images += 1
        sample.crops += len(crops)
        for name, numeric in NUMERIC.items():
            sample.numeric[name].extend(numeric(image, crops))
        for name, categorical in CATEGORICAL.items():
            sample.categorical[name].extend(categorical(crops))
    return sample


def _quantile_edges(reference: list[float], bins: int) -> list[float]:
    ordered = sorted(reference)
    edges = {ordered[min(len(ordered) - 1, (len(ordered) * i) // bins)] for i in range(1, bins)}
    return sorted(edges)


def _shares(counts: list[int]) -> list[float]:
    total = sum(counts)
    return [max(c / total, EPSILON) for c in counts]


def psi(reference: list[float], current: list[float], bins: int = 10) -> float:
    """PSI of a numeric feature; bins are the reference's quantiles (right-closed at each edge)."""
    edges = _quantile_edges(reference, bins)
    ref, cur = [0] * (len(edges) + 1), [0] * (len(edges) + 1)
    for value in reference:
        ref[bisect.bisect_left(edges, value)] += 1
    for value in current:
        cur[bisect.bisect_left(edges, value)] += 1
    return _psi(_shares(ref), _shares(cur))


def psi_categorical(reference: list[str], current: list[str]) -> float:
    """PSI of a categorical feature; a value never seen in the reference is its own category."""
    categories = sorted(set(reference) | set(current))
    ref, cur = Counter(reference), Counter(current)
    return _psi(_shares([ref[c] for c in categories]), _shares([cur[c] for c in categories]))


def _psi(ref: list[float], cur: list[float]) -> float:
    return sum((c - r) * math.log(c / r) for r, c in zip(ref, cur, strict=True))


DayStatus = Literal["ok", "drift", "no data", "too few", "no reference"]


class TrainingReference(BaseModel):
    """What a day is compared with: the train split of the deployed skill version's lineage."""

    skill: str
    skill_version: int | None = None
    dataset_version: str | None = None
    image_ids: list[str] = Field(default_factory=list, description="the photos of the train split")
    missing: str | None = Field(default=None, description="why there is no reference")


class DayDrift(BaseModel):
    day: str
    images: int
    crops: int
    status: DayStatus
    score: float | None = Field(description="largest feature PSI, None when nothing could be scored")
    features: dict[str, float | None] = Field(description="PSI per feature; None: too few values")
    skill_version: int | None = Field(default=None, description="the version whose lineage is the reference")
    dataset_version: str | None = Field(default=None, description="the data set it was trained on")
    note: str | None = Field(default=None, description="why a day has no reference")


class DriftRun(BaseModel):
    """The rows of a run and the samples they were computed from (the drift chart draws both)."""

    reference: TrainingReference
    reference_images: int = Field(description="photos of the reference found in the catalog")
    reference_sample: Sample
    samples: dict[str, Sample] = Field(description="each asked day's sample")
    rows: list[DayDrift]

    def reference_text(self) -> str:
        """One line: which version's training photos the days were compared with, or why none."""
        ref = self.reference
        if ref.skill_version is not None and self.reference_images:
            return (
                f"{ref.skill} v{ref.skill_version} (data set {ref.dataset_version}), "
                f"{self.reference_images} of its {len(ref.image_ids)} training photos"
            )
        return f"no reference: {ref.missing or NOT_IN_CATALOG}"


def day_drift(
    day: str,
    reference: Sample,
    current: Sample,
    settings: DriftSettings,
    lineage: TrainingReference | None = None,
) -> DayDrift:
    """One day against the reference sample (`lineage`: where that sample came from, for the row)."""
    features: dict[str, float | None] = {}
    for name in NUMERIC:
        ref, cur = reference.numeric.get(name, []), current.numeric.get(name, [])
        ok = len(ref) >= settings.min_reference and len(cur) >= settings.min_current
        features[name] = round(psi(ref, cur, settings.bins), 4) if ok else None
    for name in CATEGORICAL:
        ref_c, cur_c = reference.categorical.get(name, []), current.categorical.get(name, [])
        ok = len(ref_c) >= settings.min_reference and len(cur_c) >= settings.min_current
        features[name] = round(psi_categorical(ref_c, cur_c), 4) if ok else None
    scored = [v for v in features.values() if v is not None]
    score = max(scored) if scored else None
    note = None
    if current.images == 0:
        status: DayStatus = "no data"
    elif reference.images == 0:
        status, score = "no reference", None
        features = dict.fromkeys(features)
        note = (lineage.missing if lineage else None) or NOT_IN_CATALOG
    elif score is None:
        status = "too few"
    else:
        status = "drift" if score >= settings.alarm_threshold else "ok"
    return DayDrift(
        day=day,
        images=current.images,
        crops=current.crops,
        status=status,
        score=score,
        features=features,
        skill_version=lineage.skill_version if lineage else None,
        dataset_version=lineage.dataset_version if lineage else None,
        note=note,
    )


def upload_day(image: ImageRecord) -> str:
    return image.uploaded_at.date().isoformat()


def drift_table(
    images: Iterable[ImageRecord],
    crops: Iterable[CropRecord],
    reference: TrainingReference,
    days: Iterable[str | date],
    settings: DriftSettings,
) -> DriftRun:
    """One row per asked day: the day's uploads (other than the reference's photos) against the
    reference photos, the train split of the deployed version's lineage."""
    wanted = [d.isoformat() if isinstance(d, date) else d for d in days]
    learnt_from = set(reference.image_ids)
    reference_images: list[ImageRecord] = []
    by_day: dict[str, list[ImageRecord]] = {day: [] for day in wanted}
    for image in images:
        if image.image_id in learnt_from:
            reference_images.append(image)
        elif upload_day(image) in by_day:
            by_day[upload_day(image)].append(image)
    return compare(reference, reference_images, by_day, crops, settings)


def compare(
    reference: TrainingReference,
    reference_images: Iterable[ImageRecord],
    batches: Mapping[str, Iterable[ImageRecord]],
    crops: Iterable[CropRecord],
    settings: DriftSettings,
) -> DriftRun:
    """Each batch of photos (a day, or any named set) against the reference's photos."""
    crops_of: defaultdict[str, list[CropRecord]] = defaultdict(list)
    for crop in crops:
        crops_of[crop.image_id].append(crop)
    base = sample_of(reference_images, crops_of)
    samples = {name: sample_of(batch, crops_of) for name, batch in batches.items()}
    return DriftRun(
        reference=reference,
        reference_images=base.images,
        reference_sample=base,
        samples=samples,
        rows=[day_drift(name, base, sample, settings, reference) for name, sample in samples.items()],
    )


def emf_record(row: DayDrift, deployment: str, skill: str, timestamp_ms: int) -> dict[str, Any] | None:
    """The CloudWatch embedded-metric-format record of a scored day (None for a day without a score)."""
    if row.score is None:
        return None
    metrics = [{"Name": SCORE_METRIC, "Unit": "None"}]
    values: dict[str, Any] = {SCORE_METRIC: row.score}
    for name, value in row.features.items():
        if value is not None:
            metric = f"PSI_{name}"
            metrics.append({"Name": metric, "Unit": "None"})
            values[metric] = value
    return {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [
                {"Namespace": METRIC_NAMESPACE, "Dimensions": [["Deployment", "Skill"]], "Metrics": metrics}
            ],
        },
        "Deployment": deployment,
        "Skill": skill,
        "Day": row.day,
        "Images": row.images,
        "SkillVersion": row.skill_version,
        "DatasetVersion": row.dataset_version,
        **values,
    }


def render_table(rows: list[DayDrift]) -> str:
    """The table `skillforge drift` prints: one line per day, PSI per feature ('-' = too few values)."""
    header = ["day", "images", "crops", "status", "score", *FEATURES]
    lines = [header]
    for row in rows:
        cells = [row.day, str(row.images), str(row.crops), row.status]
        cells.append("-" if row.score is None else f"{row.score:.3f}")
        cells.extend("-" if row.features.get(f) is None else f"{row.features[f]:.3f}" for f in FEATURES)
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(line, widths, strict=True)) for line in lines)
