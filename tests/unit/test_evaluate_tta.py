"""Held-out evaluation with flip test-time augmentation scores what serving scores."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from functions.core.skills.model import load_classifier
from tests.support.tiny_skill import build_tiny_skill, synthetic_image
from training.evaluate import score_split


def _lopsided_split(folder: Path, classes: list[str]) -> None:
    """Synthetic images with a black band on their left: a mirror image looks different."""
    for c, name in enumerate(classes):
        for n in range(3):
            image = synthetic_image(name, 500 + 10 * c + n)
            ImageDraw.Draw(image).rectangle((0, 0, 30, image.height), fill=(0, 0, 0))
            (folder / name).mkdir(parents=True, exist_ok=True)
            image.save(folder / name / f"{n}.png")


def test_flip_tta_evaluation_scores_each_image_as_the_served_skill_does(tmp_path: Path) -> None:
    # GIVEN a trained skill version and a held-out split of lopsided images
    classes = ["red", "green", "blue"]
    build_tiny_skill(tmp_path / "skill", "colour", 1, classes=classes)
    _lopsided_split(tmp_path / "test", classes)
    served = load_classifier(tmp_path / "skill")
    served.manifest = served.manifest.model_copy(update={"tta": "hflip"})
    # WHEN the split is evaluated with and without flip TTA
    scores = score_split(tmp_path / "skill" / "weights.pt", tmp_path / "test", 64)
    files, tta, plain = scores.files, scores.probabilities("hflip"), scores.probabilities("none")
    # THEN each image's TTA scores are those the served version (flip TTA) gives it
    for path, row in zip(files, tta, strict=True):
        assert served.probabilities(Image.open(path).convert("RGB")) == pytest.approx(row.tolist(), abs=2e-3)
    # AND they differ from the scores without TTA (the mirror image really is scored)
    assert abs(tta - plain).max() > 1e-3
