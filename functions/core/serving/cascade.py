"""The full inference stack production runs: detector → crop → classifier skills, configured as data.

A cascade config lists classifier stages; a stage with `after` runs only when the parent stage's
top-1 is one of `when` (e.g. make → the variant skill of that make). Every answer carries, for each
stage (detector included), the skill name, skill version, code version and the top-k alternatives.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from PIL import Image
from pydantic import BaseModel, Field

from functions.core.base.records import Box, Scored, SkillRef, StageAnswer
from functions.core.detection.crops import crop
from functions.core.detection.detect import Analysis, analyse_image
from functions.core.detection.detector import Detector
from functions.core.detection.settings import DetectorSettings
from functions.core.serving.config import CascadeConfig


class RankingSkill(Protocol):
    """A loaded skill version: its versions and every class of an image, best first."""

    @property
    def ref(self) -> SkillRef: ...

    def classify(self, image: Image.Image) -> list[Scored]: ...


class TimedStageAnswer(StageAnswer):
    """One stage's answer for one car, with how long the stage took."""

    ms: float


class CarAnswer(BaseModel):
    box: list[float]
    main: bool = Field(
        default=False,
        description="the photo's main car (the detector's main_car_rule): what the photo is about",
    )
    stages: list[TimedStageAnswer]

    def answer_of(self, skill: str) -> TimedStageAnswer | None:
        return next((stage for stage in self.stages if stage.skill == skill), None)


class CascadeAnswer(BaseModel):
    image: str
    status: str
    reason: str | None = None
    detector: SkillRef
    skills: list[SkillRef] = Field(description="every classifier stage's version, whether it ran or not")
    cars: list[CarAnswer] = Field(default_factory=list)
    detector_ms: float = 0.0
    ms: float = 0.0


SkillLoader = Callable[[str], RankingSkill]


@dataclass
class Cascade:
    config: CascadeConfig
    detector: Detector
    detector_ref: SkillRef
    settings: DetectorSettings
    classifiers: dict[str, RankingSkill]

    @classmethod
    def build(
        cls,
        config: CascadeConfig,
        detector: Detector,
        detector_ref: SkillRef,
        settings: DetectorSettings,
        load: SkillLoader,
    ) -> Cascade:
        return cls(config, detector, detector_ref, settings, {s: load(s) for s in config.skills()})

    def with_skill(self, skill: RankingSkill) -> Cascade:
        """The same stack with one stage answered by another version (candidate vs current)."""
        name = skill.ref.skill
        if name not in self.classifiers:
            raise ValueError(f"skill {name!r} is not a stage of this cascade")
        return Cascade(
            self.config,
            self.detector,
            self.detector_ref,
            self.settings,
            {**self.classifiers, name: skill},
        )

    def analyse(self, data: bytes) -> Analysis:
        return analyse_image(data, self.detector, self.settings)

    def run(self, data: bytes, name: str) -> CascadeAnswer:
        started = time.perf_counter()
        answer = self.answer(self.analyse(data), name)
        answer.ms = round((time.perf_counter() - started) * 1000, 2)
        return answer

    def answer(self, analysis: Analysis, name: str) -> CascadeAnswer:
        """Classify the cars of an analysed image through every stage that routes to them."""
        started = time.perf_counter()
        answer = CascadeAnswer(
            image=name,
            status=analysis.status.value,
            reason=analysis.reason.value if analysis.reason else None,
            detector=self.detector_ref,
            skills=[self.classifiers[s].ref for s in self.config.skills()],
            detector_ms=round(analysis.elapsed_ms, 2),
        )
        if analysis.image is not None:
            main = analysis.main_car(self.settings.main_car_rule)
            for index, detection in enumerate(analysis.cars):
                car_image = crop(analysis.image, detection.box, self.settings.crop_padding)
                detector_stage = TimedStageAnswer(
                    **self.detector_ref.model_dump(),
                    label=detection.label,
                    score=round(detection.confidence, 6),
                    top_k=[Scored(label=detection.label, score=round(detection.confidence, 6))],
                    ms=round(analysis.elapsed_ms, 2),
                )
                answer.cars.append(
                    CarAnswer(
                        box=detection.box.as_list(),
                        main=index == main,
                        stages=[detector_stage, *self.classify_crop(car_image)],
                    )
                )
        answer.ms = round(analysis.elapsed_ms + (time.perf_counter() - started) * 1000, 2)
        return answer

    def classify_crop(self, image: Image.Image) -> Iterator[TimedStageAnswer]:
        return route_crop(self.config, self.classifiers, image)


def route_crop(
    config: CascadeConfig,
    classifiers: Mapping[str, RankingSkill] | Callable[[str], RankingSkill | None],
    image: Image.Image,
) -> Iterator[TimedStageAnswer]:
    """Run every stage that routes to this crop, parents first (a child only for its `when` classes).

    `classifiers` maps a skill to its loaded version; a callable may return None to skip a stage
    (e.g. a variant skill not deployed yet), or raise to end the routing there.
    """
    resolve = classifiers.get if isinstance(classifiers, Mapping) else classifiers
    top1: dict[str, str] = {}
    for stage in config.stages:
        if stage.after is not None:
            parent = top1.get(stage.after)
            if parent is None or (stage.when is not None and parent not in stage.when):
                continue
        skill = resolve(stage.skill)
        if skill is None:
            continue
        started = time.perf_counter()
        ranked = skill.classify(image)
        elapsed = (time.perf_counter() - started) * 1000
        top1[stage.skill] = ranked[0].label
        yield TimedStageAnswer(
            **skill.ref.model_dump(),
            label=ranked[0].label,
            score=ranked[0].score,
            top_k=ranked[: config.top_k],
            ms=round(elapsed, 2),
        )


def box_of(car: CarAnswer) -> Box:
    x1, y1, x2, y2 = car.box
    return Box(x1=x1, y1=y1, x2=x2, y2=y2)
