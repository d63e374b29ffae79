"""The cascade: detector → crop → classifier skills routed as configured; every answer carries versions."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from functions.core.base.records import SkillRef
from functions.core.detection.settings import DetectorSettings
from functions.core.serving.cascade import Cascade
from functions.core.serving.config import CascadeConfig, CascadeStage
from functions.core.skills.model import load_classifier
from tests.conftest import REPO, shared_models
from tests.support.gate import BlobDetector
from tests.support.tiny_skill import build_tiny_skill, synthetic_image

DETECTOR = SkillRef(skill="car-detector", skill_version=4, code_version="det4")


@pytest.fixture(scope="module")
def shade_skill(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("shade") / "v3"
    build_tiny_skill(folder, "shade", 3, classes=["red", "green"], steps=0, code_version="shade-code")
    return folder


def test_child_stage_runs_only_for_its_parent_classes(
    tiny_skill_folders: dict[str, Path], shade_skill: Path
) -> None:
    # GIVEN colour → shade (only when colour says red)
    config = CascadeConfig(
        stages=[CascadeStage(skill="colour"), CascadeStage(skill="shade", after="colour", when=["red"])],
        top_k=2,
    )
    skills = {"colour": load_classifier(tiny_skill_folders["good"]), "shade": load_classifier(shade_skill)}
    cascade = Cascade.build(config, BlobDetector(), DETECTOR, DetectorSettings(), skills.__getitem__)

    def answer(label: str) -> list[str]:
        image = synthetic_image(label, 42)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        result = cascade.run(buffer.getvalue(), f"{label}.png")
        assert result.skills == [
            skills["colour"].ref,
            skills["shade"].ref,
        ]  # every stage's version, ran or not
        car = result.cars[0]
        for stage in car.stages:
            assert stage.skill_version >= 1 and stage.code_version and stage.top_k
        assert car.stages[0].skill == "car-detector" and car.stages[0].skill_version == 4
        assert car.answer_of("colour").top_k[0].label == car.answer_of("colour").label  # type: ignore[union-attr]
        assert len(car.answer_of("colour").top_k) == 2  # type: ignore[union-attr]
        return [stage.skill for stage in car.stages]

    # WHEN a red and a blue image are classified THEN only the red one reaches the shade stage
    assert answer("red") == ["car-detector", "colour", "shade"]
    assert answer("blue") == ["car-detector", "colour"]


def test_bad_cascade_config_names_the_problem() -> None:
    with pytest.raises(ValueError, match="parent 'make' must be an earlier stage"):
        CascadeConfig(stages=[CascadeStage(skill="audi-variant", after="make", when=["audi"])])


@pytest.mark.slow
def test_classify_command_prints_every_stages_versions(
    tiny_skill_folders: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the real car detector and a local skill folder
    monkeypatch.setenv("SKILLFORGE_MODELS_DIR", str(shared_models()))
    monkeypatch.setenv("SKILLFORGE_CODE_VERSION", "cafe123")
    from functions.core.base.versions import code_version
    from scripts.cli import main

    code_version.cache_clear()
    scene = REPO / "samples" / "images" / "road-scenes" / "test3.jpg"
    not_car = REPO / "samples" / "images" / "not-cars" / "skimage_coffee.png"
    # WHEN `skillforge classify` runs on a road scene and a photo without cars
    assert (
        main(
            [
                "classify",
                str(scene),
                str(not_car),
                "--skill",
                "colour@1",
                "--skills-dir",
                str(tiny_skill_folders["good"]),
            ]
        )
        == 0
    )
    code_version.cache_clear()
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # THEN each line names the detector and classifier versions, and each car carries both stages
    assert [Path(r["image"]).name for r in rows] == ["test3.jpg", "skimage_coffee.png"]
    for row in rows:
        assert row["detector"] == {"skill": "car-detector", "skill_version": 1, "code_version": "cafe123"}
        assert row["skills"] == [{"skill": "colour", "skill_version": 1, "code_version": "test"}]
    assert rows[0]["cars"] and rows[1]["status"] == "no_car"
    # AND exactly one car of the road scene is marked as the photo's main car: its largest box
    cars = rows[0]["cars"]

    def area(car: dict[str, Any]) -> float:
        return float((car["box"][2] - car["box"][0]) * (car["box"][3] - car["box"][1]))

    assert [car["main"] for car in cars] == [car is max(cars, key=area) for car in cars]
    for car in rows[0]["cars"]:
        assert [(s["skill"], s["skill_version"]) for s in car["stages"]] == [
            ("car-detector", 1),
            ("colour", 1),
        ]
        assert all(s["code_version"] and s["top_k"] for s in car["stages"])
