"""Evaluation of a trained classifier on a held-out split: top-1, top-5, per-class precision/recall,
confusion matrix (rows = true class, columns = predicted class)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from functions.core.skills.manifest import TestTimeAugmentation, mirror_needed


class ClassMetrics(BaseModel):
    support: int
    precision: float
    recall: float  # = per-class accuracy


class Evaluation(BaseModel):
    split: str
    images: int
    top1: float
    top5: float
    per_class: dict[str, ClassMetrics]
    confusion_matrix: list[list[int]]
    classes: list[str]


def score(
    true: npt.NDArray[np.intp], probs: npt.NDArray[np.float32], classes: Sequence[str], split: str
) -> Evaluation:
    """Metrics from true class indices and per-class scores (one row per image)."""
    n = len(classes)
    if len(true) == 0:
        raise ValueError(f"the {split} split has no images to evaluate")
    k = min(5, n)
    ranked = np.argsort(-probs, axis=1)
    predicted = ranked[:, 0]
    confusion = np.zeros((n, n), dtype=np.int64)
    np.add.at(confusion, (true, predicted), 1)
    per_class: dict[str, ClassMetrics] = {}
    for i, name in enumerate(classes):
        support = int(confusion[i].sum())
        predicted_i = int(confusion[:, i].sum())
        per_class[name] = ClassMetrics(
            support=support,
            precision=round(float(confusion[i, i] / predicted_i), 4) if predicted_i else 0.0,
            recall=round(float(confusion[i, i] / support), 4) if support else 0.0,
        )
    return Evaluation(
        split=split,
        images=len(true),
        top1=round(float((predicted == true).mean()), 4),
        top5=round(float((ranked[:, :k] == true[:, None]).any(axis=1).mean()), 4),
        per_class=per_class,
        confusion_matrix=confusion.tolist(),
        classes=list(classes),
    )


class SplitScores(BaseModel):
    """A held-out split scored once: each image's probabilities for itself and for its mirror image."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    split: str
    classes: list[str]
    files: list[Path]
    true: npt.NDArray[np.intp]
    plain: npt.NDArray[np.float32]
    mirrored: npt.NDArray[np.float32]

    def probabilities(
        self, tta: TestTimeAugmentation, confidence: float | None = None
    ) -> npt.NDArray[np.float32]:
        """What the served skill gives each image: with `hflip`, the mean of the image and its mirror
        (with a confidence, only for images whose plain top probability is below it)."""
        needed = self.mirror_needed(tta, confidence)
        mean = (self.plain + self.mirrored) / 2
        chosen: npt.NDArray[np.float32] = np.where(needed[:, None], mean, self.plain).astype(np.float32)
        return chosen

    def mirror_needed(
        self, tta: TestTimeAugmentation, confidence: float | None = None
    ) -> npt.NDArray[np.bool_]:
        """Which images the served skill runs twice (plain and mirror)."""
        return mirror_needed(tta, confidence, self.plain.max(axis=1))

    def mirror_share(self, tta: TestTimeAugmentation, confidence: float | None = None) -> float:
        needed = self.mirror_needed(tta, confidence)
        return round(float(needed.mean()), 4) if len(needed) else 0.0

    def evaluate(self, tta: TestTimeAugmentation, confidence: float | None = None) -> Evaluation:
        return score(self.true, self.probabilities(tta, confidence), self.classes, self.split)


class ServedCheck(BaseModel):
    """A trained version loaded as serving loads it, against its published test figure, crop by crop."""

    backend: str
    crops: int
    same_answer: int  # crops whose served top class is the one the published figure counted
    max_probability_difference: float

    @classmethod
    def of(
        cls, published: npt.NDArray[np.float32], served: npt.NDArray[np.float32], backend: str
    ) -> ServedCheck:
        if published.shape != served.shape:
            raise ValueError(f"served scores {served.shape} do not match the published {published.shape}")
        return cls(
            backend=backend,
            crops=len(published),
            same_answer=int((published.argmax(axis=1) == served.argmax(axis=1)).sum()),
            max_probability_difference=float(np.abs(published - served).max()) if len(published) else 0.0,
        )


def check_served(
    model_dir: Path, scores: SplitScores, tta: TestTimeAugmentation, confidence: float | None
) -> ServedCheck:
    """Serve every image of a scored split through the version in `model_dir` on the light runtime
    (ONNX, as the upload handler does) and compare with the probabilities its figure was computed from."""
    from PIL import Image

    from functions.core.skills.model import load_classifier

    skill = load_classifier(model_dir, "onnx")
    if skill.classes != scores.classes:
        raise ValueError(f"{model_dir}: skill.json's classes are not the evaluated model's")
    rows: list[list[float]] = []
    for path in scores.files:
        with Image.open(path) as image:
            rows.append(skill.probabilities(image))
    served = np.asarray(rows, dtype=np.float32).reshape(len(rows), len(scores.classes))
    return ServedCheck.of(scores.probabilities(tta, confidence), served, skill.backend)


def score_split(
    weights: Path, split_dir: Path, imgsz: int, device: str = "cpu", batch: int = 32
) -> SplitScores:
    """Predict every image of an Ultralytics split folder (<split>/<class>/<file>) and its mirror image."""
    import cv2
    from ultralytics import YOLO  # type: ignore[attr-defined]

    model: Any = YOLO(str(weights), task="classify")
    names: dict[int, str] = dict(model.names)
    classes = [names[i] for i in range(len(names))]
    index = {name: i for i, name in enumerate(classes)}
    files: list[Path] = []
    true: list[int] = []
    for class_dir in sorted(p for p in split_dir.iterdir() if p.is_dir()):
        for path in sorted(class_dir.iterdir()):
            files.append(path)
            true.append(index[class_dir.name])
    views: dict[str, list[npt.NDArray[np.float32]]] = {"plain": [], "mirrored": []}
    for start in range(0, len(files), batch):
        images: list[Any] = [cv2.imread(str(p)) for p in files[start : start + batch]]
        unreadable = [str(p) for p, i in zip(files[start : start + batch], images, strict=True) if i is None]
        if unreadable:
            raise ValueError(f"cannot read {unreadable[:3]} in {split_dir}: not images")
        mirrors = [np.ascontiguousarray(i[:, ::-1]) for i in images]
        for view, batch_images in (("plain", images), ("mirrored", mirrors)):
            views[view].extend(
                r.probs.data.cpu().numpy().astype(np.float32)
                for r in model.predict(batch_images, imgsz=imgsz, device=device, verbose=False)
            )
    empty = np.zeros((0, len(classes)), dtype=np.float32)
    return SplitScores(
        split=split_dir.name,
        classes=classes,
        files=files,
        true=np.asarray(true, dtype=np.intp),
        plain=np.stack(views["plain"]) if files else empty,
        mirrored=np.stack(views["mirrored"]) if files else empty,
    )


def write_csvs(evaluation: Evaluation, folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    per_class = folder / f"per_class_{evaluation.split}.csv"
    with per_class.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["class", "support", "precision", "recall_accuracy"])
        for name, m in evaluation.per_class.items():
            writer.writerow([name, m.support, m.precision, m.recall])
    confusion = folder / f"confusion_{evaluation.split}.csv"
    with confusion.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["true \\ predicted", *evaluation.classes])
        for name, row in zip(evaluation.classes, evaluation.confusion_matrix, strict=True):
            writer.writerow([name, *row])
    return {"per_class": per_class, "confusion": confusion}
