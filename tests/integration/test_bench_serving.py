"""The serving section of `make bench`: both ratios measured side by side on real photos."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.bench_serving import main
from tests.conftest import shared_data, shared_models

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_serving_bench_measures_classification_and_the_upload_ratio(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    import scripts.bench

    # GIVEN three real car photos and the real detector
    monkeypatch.setenv("SKILLFORGE_MODELS_DIR", str(shared_models()))
    photos = sorted((shared_data() / "cars").glob("*.jpg"))[:3]
    monkeypatch.setattr(scripts.bench, "photo_set", lambda: photos)
    # WHEN the serving bench runs on them from its command line
    assert main([]) == 0
    # THEN stdout holds the figures alone (one JSON document: export banners and logs went to stderr)
    result = json.loads(capfd.readouterr().out)
    # AND the make skill classified every detected crop, and both upload ratios were measured
    classification, upload = result["classification"], result["upload"]
    make_config = json.loads((REPO / "training" / "configs" / "car-make.json").read_text(encoding="utf-8"))
    served = make_config["training"].get("test_imgsz") or make_config["training"]["imgsz"]
    assert classification["crops"] >= 3 and classification["imgsz"] == served
    assert 0 < classification["ms_per_crop_median"] <= classification["ms_per_crop_p95"]
    # AND the untrained network is never confident enough to skip the mirror image: two runs a crop
    assert classification["weights"] == "v1 (untrained)"
    assert classification["network_runs_per_crop"] == 2.0
    for side in ("serving_on", "serving_off"):
        assert upload[side]["images"] == 3 and upload[side]["delivery_failures"] == 0
        assert upload[side]["ratio"] > 1.0  # the whole upload includes the detector


def test_serving_bench_refuses_a_skill_folder_without_skill_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a folder that is not a skill version
    # WHEN the serving bench is asked to time it
    with pytest.raises(SystemExit) as stopped:
        main(["--skill", str(tmp_path)])
    # THEN it stops before measuring, naming the folder and the missing skill.json
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert f"--skill {tmp_path}" in error and "skill.json is missing" in error
