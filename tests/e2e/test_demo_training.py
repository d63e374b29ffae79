"""Local mode: the demo continues after labelling with extraction → tiny training → candidate registered."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from scripts.local.demo import run_demo
from scripts.local.demo_run import DEFAULT_IMAGES, DemoOptions
from tests.conftest import shared_models

pytestmark = pytest.mark.slow


def test_demo_trains_and_registers_a_skill_on_synthetic_crops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a demo folder without cars and no real labelled photos (synthetic fallback)
    monkeypatch.setenv("SKILLFORGE_MODELS_DIR", str(shared_models()))
    # (by name: other tests may re-import the stage modules; this patches the one the demo will use)
    monkeypatch.setattr("scripts.local.stages.training.shared_subset", lambda: None)
    images = tmp_path / "images" / "not-cars"
    images.mkdir(parents=True)
    shutil.copy(DEFAULT_IMAGES / "not-cars" / "skimage_coffee.png", images)
    # WHEN the demo runs
    run_demo(DemoOptions(images_dir=tmp_path / "images", out_dir=tmp_path / "out"))
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    # THEN the data set has a version and per-class counts of the 3 synthetic classes
    dataset, training = summary["dataset"], summary["training"]
    assert summary["stages_completed"][-4:] == ["training", "gate", "serving", "loop"]
    assert summary["drift"] == {"skipped": "no shared labelled photos"}
    assert len(dataset["dataset_version"]) == 16
    assert sorted(dataset["per_class_counts"]["train"]) == [
        "synthetic-blue",
        "synthetic-green",
        "synthetic-red",
    ]
    assert dataset["extra_examples"]["source"] == "synthetic"
    # AND a candidate skill version was trained and registered, with its model files
    assert (training["skill"], training["skill_version"]) == ("demo-car-class", 1)
    assert training["artifact_uri"].endswith("/skills/demo-car-class/v000001/")
    model_dir = Path(training["model_dir"])
    skill = json.loads((model_dir / "skill.json").read_text())
    assert skill["dataset_version"] == dataset["dataset_version"]
    assert (model_dir / "model.onnx").is_file()
    # AND when the gate promoted it, new photos were answered by that version (ONNX, served)
    serving = summary["serving"]
    if summary["gate"]["outcome"] == "promote":
        assert serving["images"] == 3 and serving["cars"] >= 1
        assert serving["cars_classified"] == serving["cars"]
        assert serving["skill_versions"] == {"demo-car-class": [1]}
    else:
        assert serving["skill_versions"] == {} and serving["images"] == 0
