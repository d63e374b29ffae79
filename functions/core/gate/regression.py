"""Regression test of the full stack: candidate and current skill versions side by side on the same inputs.

Inputs are a frozen *test harness* per skill (images with expected answers, kept apart from training
data, never rewritten once frozen) plus *replayed production records* (catalogued photos whose crop
was verified by an expert and sits in the test split). Each input runs through detector → crop →
cascade once per side; the detector runs once per image and is shared, so the sides differ only by
the skill under test. Expected answers are a class of that skill or NO_CAR.
"""

from __future__ import annotations

import hashlib
import math
import resource
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from functions.core.base.artifacts import Artifacts, join_uri
from functions.core.base.catalog import Catalog
from functions.core.base.records import Box, CropRecord, CropStatus, Scored, utc_now
from functions.core.serving.cascade import CarAnswer, Cascade
from functions.core.skills.model import ClassifierSkill

NO_CAR = "(no car)"
NOT_REACHED = "(not reached)"

CaseSource = Literal["harness", "replay"]


class HarnessCase(BaseModel):
    case_id: str
    image_uri: str
    expected: str = Field(description=f"a class of the skill, or {NO_CAR!r}")
    box: Box | None = Field(default=None, description="the car the expectation is about (else the largest)")
    source: CaseSource = "harness"


class Harness(BaseModel):
    skill: str
    harness_version: str
    created_at: datetime = Field(default_factory=utc_now)
    description: str = ""
    cases: list[HarnessCase]

    @staticmethod
    def version_of(cases: Iterable[HarnessCase]) -> str:
        digest = hashlib.sha256()
        for case in sorted(cases, key=lambda c: c.case_id):
            digest.update(case.model_dump_json(exclude={"source"}).encode())
        return digest.hexdigest()[:16]

    @classmethod
    def freeze(cls, skill: str, cases: list[HarnessCase], description: str = "") -> Harness:
        if not cases:
            raise ValueError(f"a harness for {skill!r} needs at least one case")
        ids = Counter(case.case_id for case in cases)
        duplicates = [case_id for case_id, n in ids.items() if n > 1]
        if duplicates:
            raise ValueError(f"duplicate harness case ids: {duplicates[:5]}")
        return cls(skill=skill, harness_version=cls.version_of(cases), cases=cases, description=description)


class HarnessStore:
    """`<base>/<skill>/harness.json`; frozen: an existing harness is never overwritten silently."""

    def __init__(self, artifacts: Artifacts, base_uri: str) -> None:
        self.artifacts = artifacts
        self.base_uri = base_uri

    def uri(self, skill: str) -> str:
        return join_uri(self.base_uri, f"{skill}/harness.json")

    def load(self, skill: str) -> Harness | None:
        uri = self.uri(skill)
        if not self.artifacts.exists(uri):
            return None
        return Harness.model_validate_json(self.artifacts.read_bytes(uri))

    def save(self, harness: Harness, replace: bool = False) -> str:
        existing = self.load(harness.skill)
        if existing is not None and not replace and existing.harness_version != harness.harness_version:
            raise ValueError(
                f"skill {harness.skill!r} already has frozen harness {existing.harness_version}; "
                "replacing it is an explicit decision (--replace)"
            )
        uri = self.uri(harness.skill)
        self.artifacts.write_bytes(uri, harness.model_dump_json(indent=2).encode(), "application/json")
        return uri


ClassOf = Callable[[str], str | None]
"""Verified label → the skill's class, or None when the skill does not use it (DatasetSpec.class_of)."""


def replay_cases(catalog: Catalog, class_of: ClassOf, limit: int = 500) -> list[HarnessCase]:
    """Production photos whose crop an expert verified with a class of this skill, from the test split."""
    cases: list[HarnessCase] = []
    for crop_record, expected in _verified_test_crops(catalog, class_of):
        image = catalog.get_image(crop_record.image_id)
        if image is None:
            continue
        cases.append(
            HarnessCase(
                case_id=f"replay-{crop_record.crop_id}",
                image_uri=f"s3://{image.bucket}/{image.key}",
                expected=expected,
                box=crop_record.box,
                source="replay",
            )
        )
        if len(cases) >= limit:
            break
    return cases


def _verified_test_crops(catalog: Catalog, class_of: ClassOf) -> Iterator[tuple[CropRecord, str]]:
    """Verified test-split crops whose label maps to a class of the skill, with that class."""
    splits = catalog.group_splits()
    for crop_record in catalog.crops_by_status(CropStatus.VERIFIED):
        split = crop_record.split or splits.get(crop_record.group_id)
        expected = class_of(str(crop_record.final_class)) if crop_record.final_class else None
        if split == "test" and expected is not None:
            yield crop_record, expected


def freeze_from_catalog(
    catalog: Catalog, class_of: ClassOf, artifacts: Artifacts, images_uri: str, limit: int = 500
) -> list[HarnessCase]:
    """Snapshot verified test-split crops as harness cases; the crop images are copied under
    `images_uri`, so the harness stays as it is when the catalog changes."""
    cases: list[HarnessCase] = []
    for record, expected in _verified_test_crops(catalog, class_of):
        source = f"s3://{record.crop_bucket}/{record.crop_key}"
        target = join_uri(images_uri, f"{record.crop_id}.jpg")
        artifacts.write_bytes(target, artifacts.read_bytes(source), "image/jpeg")
        cases.append(HarnessCase(case_id=f"harness-{record.crop_id}", image_uri=target, expected=expected))
        if len(cases) >= limit:
            break
    return cases


def without_harness_duplicates(replay: list[HarnessCase], harness: Harness | None) -> list[HarnessCase]:
    """Replayed records already frozen into the harness are not counted twice."""
    frozen = {case.case_id for case in harness.cases} if harness else set()
    return [case for case in replay if case.case_id.replace("replay-", "harness-", 1) not in frozen]


class ClassMetrics(BaseModel):
    cases: int
    correct: int
    accuracy: float


class SideMetrics(BaseModel):
    skill: str
    skill_version: int
    code_version: str
    cases: int
    correct: int
    accuracy: float
    top_k_accuracy: float
    per_class: dict[str, ClassMetrics]
    confusion: dict[str, dict[str, int]] = Field(description="expected → predicted → count")
    latency_ms: dict[str, float] = Field(description="whole stack per image: p50, p95, mean")
    skill_latency_ms: dict[str, float] = Field(description="the skill's stage alone: p50, p95, mean")
    model_mb: float
    load_seconds: float
    peak_rss_mb: float


class SideAnswer(BaseModel):
    label: str
    score: float = 0.0
    top_k: list[Scored] = Field(default_factory=list)
    correct: bool
    ms: float = Field(default=0.0, description="whole stack, this image")


class CaseResult(BaseModel):
    case_id: str
    source: CaseSource
    image_uri: str
    expected: str
    box: list[float] | None = Field(default=None, description="the detected car that was judged")
    candidate: SideAnswer
    current: SideAnswer | None = None


class RegressionResult(BaseModel):
    skill: str
    harness_version: str | None
    cases_by_source: dict[str, int]
    candidate: SideMetrics
    current: SideMetrics | None
    results: list[CaseResult]
    detector: dict[str, str | int]
    seconds: float


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1))
    iy = max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1))
    inter = ix * iy
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def _judged_car(cars: list[CarAnswer], box: Box | None, min_iou: float = 0.3) -> CarAnswer | None:
    if not cars:
        return None
    if box is None:  # the photo's main car, as the pipeline picks it (the one its label hint goes to)
        return next((car for car in cars if car.main), None)
    scored = [(iou(Box(x1=c.box[0], y1=c.box[1], x2=c.box[2], y2=c.box[3]), box), c) for c in cars]
    best_iou, best = max(scored, key=lambda pair: pair[0])
    return best if best_iou >= min_iou else None


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return round(ordered[rank - 1], 3)


def _latency(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": 0.0, "p95": 0.0, "mean": 0.0}
    return {
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "mean": round(sum(values) / len(values), 3),
    }


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)


class _Side:
    def __init__(self, cascade: Cascade, skill: ClassifierSkill) -> None:
        self.cascade = cascade
        self.skill = skill
        self.answers: list[SideAnswer] = []
        self.expected: list[str] = []
        self.stack_ms: list[float] = []
        self.skill_ms: list[float] = []
        self.in_top_k = 0

    def judge(
        self, case: HarnessCase, cars: list[CarAnswer], stack_ms: float
    ) -> tuple[SideAnswer, CarAnswer | None]:
        car = _judged_car(cars, case.box)
        name = self.skill.manifest.skill
        stage = car.answer_of(name) if car else None
        if car is None:
            answer = SideAnswer(label=NO_CAR, correct=case.expected == NO_CAR)
        elif stage is None:
            answer = SideAnswer(label=NOT_REACHED, correct=False)
        else:
            answer = SideAnswer(
                label=stage.label, score=stage.score, top_k=stage.top_k, correct=stage.label == case.expected
            )
            self.skill_ms.append(stage.ms)
        answer.ms = round(stack_ms, 3)
        if answer.correct or any(alt.label == case.expected for alt in answer.top_k):
            self.in_top_k += 1
        self.answers.append(answer)
        self.expected.append(case.expected)
        self.stack_ms.append(stack_ms)
        return answer, car

    def metrics(self) -> SideMetrics:
        per_class_cases: Counter[str] = Counter(self.expected)
        per_class_correct: Counter[str] = Counter(
            e for e, a in zip(self.expected, self.answers, strict=True) if a.correct
        )
        confusion: dict[str, dict[str, int]] = defaultdict(dict)
        for expected, answer in zip(self.expected, self.answers, strict=True):
            row = confusion[expected]
            row[answer.label] = row.get(answer.label, 0) + 1
        total = len(self.answers)
        correct = sum(per_class_correct.values())
        ref = self.skill.ref
        return SideMetrics(
            skill=ref.skill,
            skill_version=ref.skill_version,
            code_version=ref.code_version,
            cases=total,
            correct=correct,
            accuracy=round(correct / total, 4) if total else 0.0,
            top_k_accuracy=round(self.in_top_k / total, 4) if total else 0.0,
            per_class={
                label: ClassMetrics(
                    cases=n, correct=per_class_correct[label], accuracy=round(per_class_correct[label] / n, 4)
                )
                for label, n in sorted(per_class_cases.items())
            },
            confusion=dict(confusion),
            latency_ms=_latency(self.stack_ms),
            skill_latency_ms=_latency(self.skill_ms),
            model_mb=self.skill.model_megabytes(),
            load_seconds=round(self.skill.load_seconds, 3),
            peak_rss_mb=peak_rss_mb(),
        )


ImageReader = Callable[[str], bytes]


def run_regression(
    cases: list[HarnessCase],
    read_image: ImageReader,
    cascade: Cascade,
    candidate: ClassifierSkill,
    current: ClassifierSkill | None,
    harness_version: str | None = None,
    on_case: Callable[[int, int], None] | None = None,
) -> RegressionResult:
    """Run every case through the stack once per side (detector shared), interleaving the sides."""
    if not cases:
        raise ValueError(f"no regression cases for skill {candidate.manifest.skill!r}")
    started = time.perf_counter()
    sides = [_Side(cascade.with_skill(candidate), candidate)]
    if current is not None:
        sides.append(_Side(cascade.with_skill(current), current))
    first = cascade.analyse(read_image(cases[0].image_uri))
    for side in sides:  # warm-up (lazy init, caches), not timed
        side.cascade.answer(first, cases[0].image_uri)
    results: list[CaseResult] = []
    for index, case in enumerate(cases):
        analysis = cascade.analyse(read_image(case.image_uri))
        judged: list[tuple[SideAnswer, CarAnswer | None]] = []
        order = sides if index % 2 == 0 else list(reversed(sides))  # alternate who runs first
        by_side: dict[int, tuple[SideAnswer, CarAnswer | None]] = {}
        for side in order:
            answer = side.cascade.answer(analysis, case.image_uri)
            by_side[id(side)] = side.judge(case, answer.cars, answer.ms)
        judged = [by_side[id(side)] for side in sides]
        car = judged[0][1]
        results.append(
            CaseResult(
                case_id=case.case_id,
                source=case.source,
                image_uri=case.image_uri,
                expected=case.expected,
                box=car.box if car else None,
                candidate=judged[0][0],
                current=judged[1][0] if len(judged) > 1 else None,
            )
        )
        if on_case:
            on_case(index + 1, len(cases))
    return RegressionResult(
        skill=candidate.manifest.skill,
        harness_version=harness_version,
        cases_by_source=dict(Counter(case.source for case in cases)),
        candidate=sides[0].metrics(),
        current=sides[1].metrics() if len(sides) > 1 else None,
        results=results,
        detector=cascade.detector_ref.model_dump(),
        seconds=round(time.perf_counter() - started, 2),
    )
