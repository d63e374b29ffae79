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
    assert main() == 0
    # THEN stdout holds the figures alone (one JSON document: export banners and logs went to stderr)
    result = json.loads(capfd.readouterr().out)
    # AND the make skill classified every detected crop, and both upload ratios were measured
    classification, upload = result["classification"], result["upload"]
    make_config = json.loads((REPO / "training" / "configs" / "car-make.json").read_text(encoding="utf-8"))
    served = make_config["training"].get("test_imgsz") or make_config["training"]["imgsz"]
    assert classification["crops"] >= 3 and classification["imgsz"] == served
    assert 0 < classification["ms_per_crop_median"] <= classification["ms_per_crop_p95"]
    for side in ("serving_on", "serving_off"):
        assert upload[side]["images"] == 3 and upload[side]["delivery_failures"] == 0
        assert upload[side]["ratio"] > 1.0  # the whole upload includes the detector
