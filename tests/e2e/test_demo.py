"""Local mode end to end: the demo against the embedded emulator (real detector, few photos)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from scripts.local.demo import run_demo
from scripts.local.demo_run import DEFAULT_IMAGES, DemoOptions
from tests.conftest import shared_models

pytestmark = pytest.mark.slow


def test_demo_catalogues_every_upload_and_writes_a_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a folder with a road scene, a non-car photo and a broken file
    monkeypatch.setenv("SKILLFORGE_MODELS_DIR", str(shared_models()))
    images = tmp_path / "images"
    (images / "road-scenes").mkdir(parents=True)
    shutil.copy(DEFAULT_IMAGES / "road-scenes" / "test5.jpg", images / "road-scenes")
    (images / "not-cars").mkdir()
    shutil.copy(DEFAULT_IMAGES / "not-cars" / "skimage_coffee.png", images / "not-cars")
    (images / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 broken")
    # WHEN the demo runs
    summary = run_demo(DemoOptions(images_dir=images, out_dir=tmp_path / "out"))
    # THEN the summary file says what happened to each upload, with the versions
    written = json.loads((tmp_path / "out" / "summary.json").read_text())
    detection = written["detection"]
    assert summary["detection"] == detection
    assert (detection["images"], detection["cars_found"], detection["no_car"], detection["quarantined"]) == (
        3,
        1,
        1,
        1,
    )
    assert detection["skill_version"] == 1 and detection["code_version"]
    assert list((tmp_path / "out" / "crops" / "road-scenes").glob("*.jpg"))
