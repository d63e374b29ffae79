"""`make skills` (`scripts.real_skills --direct`) on real photos: stdout is the results table alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.real_skills import CONFIGS, main
from tests.conftest import shared_data, shared_models


def _tiny_make_config(folder: Path) -> Path:
    """The make skill's config, trained for one epoch at 32 px so that the run takes seconds."""
    config = json.loads((CONFIGS / "car-make.json").read_text(encoding="utf-8"))
    config.pop("$schema", None)
    config["dataset"]["min_images_per_class"] = 5
    config["training"].update(
        {"imgsz": 32, "test_imgsz": 32, "epochs": 1, "patience": 1, "batch": 8, "time_budget_minutes": None}
    )
    path = folder / "car-make.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


@pytest.mark.slow
def test_make_skills_prints_the_results_table_alone_and_training_progress_on_stderr(
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN one real photo of each of the 64 models (4 makes) and the make config cut to one 32 px epoch
    monkeypatch.setenv("SKILLFORGE_MODELS_DIR", str(shared_models()))
    monkeypatch.setenv("SKILLFORGE_SKILLS_DIR", str(tmp_path / "unused"))  # the run points it at --out
    results, out = tmp_path / "results", tmp_path / "skills"
    argv = ["--subset", str(shared_data() / "stanford-cars-subset"), "--direct", "--per-class", "1"]
    argv += ["--configs", str(_tiny_make_config(tmp_path)), "--runs", str(tmp_path / "runs")]
    argv += ["--out", str(out), "--results", str(results)]
    # WHEN make skills runs: detection, extraction, training, test, publish
    code = main(argv)
    stdout, stderr = capfd.readouterr()
    # THEN stdout is exactly the results table it wrote; training's metric lines went to stderr
    assert code == 0
    assert stdout == (results / "README.md").read_text(encoding="utf-8")
    assert stdout.startswith("# Training results")
    row = next(line for line in stdout.splitlines() if line.startswith("| car-make | pretrained | 4 |"))
    cells = row.split(" | ")
    test_crops, served = cells[4], cells[8]
    assert served == f"{test_crops}/{test_crops}"  # the exported version answers every test crop as scored
    assert "epoch=1;" in stderr
    assert (out / "car-make" / "v000001" / "model.onnx").is_file()
