"""Held-out evaluation with flip test-time augmentation scores what serving scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from functions.core.skills.model import load_classifier
from tests.support.serving import export_onnx
from tests.support.tiny_skill import build_tiny_skill, synthetic_image
from training.evaluate import ServedCheck, SplitScores, check_served, score_split


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


def test_a_confident_image_keeps_its_plain_scores_and_the_others_average_with_their_mirror() -> None:
    # GIVEN two images scored plain and mirrored: one confident (top 0.8), one not (top 0.5)
    plain = np.array([[0.8, 0.1, 0.1], [0.5, 0.3, 0.2]], dtype=np.float32)
    mirrored = np.array([[0.2, 0.7, 0.1], [0.1, 0.8, 0.1]], dtype=np.float32)
    scores = SplitScores(
        split="test",
        classes=["a", "b", "c"],
        files=[Path("1"), Path("2")],
        true=np.array([0, 1]),
        plain=plain,
        mirrored=mirrored,
    )
    # WHEN flip TTA is evaluated with a confidence of 0.7
    chosen = scores.probabilities("hflip", 0.7)
    # THEN the confident image keeps its plain scores, the other is the mean of both views
    assert chosen[0].tolist() == pytest.approx([0.8, 0.1, 0.1])
    assert chosen[1].tolist() == pytest.approx([0.3, 0.55, 0.15])
    # AND half of the images run the mirror image; without a confidence every one does, without TTA none
    assert scores.mirror_share("hflip", 0.7) == 0.5
    assert scores.mirror_share("hflip") == 1.0
    assert scores.mirror_share("none") == 0.0


def test_evaluation_with_a_flip_confidence_scores_each_image_as_the_served_skill_does(tmp_path: Path) -> None:
    # GIVEN a trained skill version served with flip TTA and a confidence between its images' plain top
    # probabilities (some images are confident, some not), and a held-out split of lopsided images
    classes = ["red", "green", "blue"]
    build_tiny_skill(tmp_path / "skill", "colour", 1, classes=classes)
    _lopsided_split(tmp_path / "test", classes)
    scores = score_split(tmp_path / "skill" / "weights.pt", tmp_path / "test", 64)
    tops = np.sort(scores.plain.max(axis=1))
    widest = int(np.argmax(np.diff(tops)))  # the confidence sits mid-way in the widest gap between images
    confidence = float((tops[widest] + tops[widest + 1]) / 2)
    assert tops[widest + 1] - tops[widest] > 1e-2  # far from every image: both runtimes agree on the side
    served = load_classifier(tmp_path / "skill")
    served.manifest = served.manifest.model_copy(update={"tta": "hflip", "tta_confidence": confidence})
    # WHEN the split is evaluated with that confidence
    chosen = scores.probabilities("hflip", confidence)
    # THEN each image's scores are those the served version gives it
    for path, row in zip(scores.files, chosen, strict=True):
        assert served.probabilities(Image.open(path).convert("RGB")) == pytest.approx(row.tolist(), abs=2e-3)
    # AND the served version ran the mirror image for exactly the images evaluation averaged
    assert served.runs == len(scores.files) + int(scores.mirror_needed("hflip", confidence).sum())
    assert 0 < scores.mirror_share("hflip", confidence) < 1


def test_the_served_check_counts_a_crop_whose_served_answer_is_not_the_published_one() -> None:
    # GIVEN the published probabilities of three crops and served ones that disagree on the last crop
    published = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], dtype=np.float32)
    served = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6]], dtype=np.float32)
    # WHEN they are compared
    check = ServedCheck.of(published, served, "onnx")
    # THEN two of three crops have the same answer, and the largest difference is the last crop's
    assert (check.crops, check.same_answer) == (3, 2)
    assert check.max_probability_difference == pytest.approx(0.2)


def test_the_served_check_serves_each_crop_through_the_exported_version(tmp_path: Path) -> None:
    # GIVEN a skill version exported to ONNX, served plain, and a held-out split of lopsided images
    classes = ["red", "green", "blue"]
    build_tiny_skill(tmp_path / "skill", "colour", 1, classes=classes)
    export_onnx(tmp_path / "skill")
    _lopsided_split(tmp_path / "test", classes)
    scores = score_split(tmp_path / "skill" / "weights.pt", tmp_path / "test", 64)
    # WHEN the check compares it with the figure computed as it is served, and with one computed with flip TTA
    same = check_served(tmp_path / "skill", scores, "none", None)
    flipped = check_served(tmp_path / "skill", scores, "hflip", None)
    # THEN every crop is served with the published scores, on the light runtime
    assert (same.backend, same.crops, same.same_answer) == ("onnx", len(scores.files), len(scores.files))
    assert same.max_probability_difference < 1e-4
    # AND a figure computed another way than the version is served shows in the difference
    assert flipped.max_probability_difference > 1e-3
