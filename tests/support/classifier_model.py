"""A small, genuine Ultralytics classifier for tests: yolo11n-cls.yaml with 3 classes, exported to ONNX.

Random weights give the same scores for every image, so the batch-norm statistics are first set from
real photos (one forward pass in train mode): the outputs then depend on the image, which is what a
parity test between backends needs. Nothing is downloaded; building takes a few seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

NAMES = {0: "sedan", 1: "suv", 2: "van"}
IMGSZ = 96


def build_test_classifier(folder: Path, calibration_images: list[Path]) -> Path:
    """Write a skill version folder: `cls.pt` (Ultralytics checkpoint), `cls.onnx` (export), skill.json."""
    import torch
    from ultralytics import YOLO  # type: ignore[attr-defined]
    from ultralytics.nn.tasks import ClassificationModel

    from functions.core.base.offline import configure_offline
    from functions.core.skills.manifest import SkillManifest
    from functions.core.skills.model import MANIFEST_FILE

    configure_offline()
    torch.manual_seed(0)
    model = ClassificationModel("yolo11n-cls.yaml", nc=len(NAMES), verbose=False)  # type: ignore[no-untyped-call]
    model.names = dict(NAMES)
    batch = torch.stack(
        [
            torch.from_numpy(
                np.asarray(Image.open(path).convert("RGB").resize((IMGSZ, IMGSZ)), dtype=np.float32) / 255
            ).permute(2, 0, 1)
            for path in calibration_images
        ]
    )
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # cumulative average: one pass sets the statistics of this batch
            module.reset_running_stats()
    model.train()
    with torch.no_grad():
        model(batch)
    model.eval()
    model.args = {"imgsz": IMGSZ, "task": "classify"}  # type: ignore[assignment]
    weights = folder / "cls.pt"
    torch.save({"model": model, "train_args": {"imgsz": IMGSZ, "task": "classify"}}, weights)
    onnx = YOLO(str(weights), task="classify").export(
        format="onnx", imgsz=IMGSZ, simplify=False, verbose=False
    )
    manifest = SkillManifest(
        skill="test-classifier",
        skill_version=1,
        code_version="test",
        dataset_version="none",
        config_hash="test",
        hardware_profile="laptop",
        classes=[NAMES[i] for i in sorted(NAMES)],
        imgsz=IMGSZ,
        weights=weights.name,
        onnx=Path(onnx).name,
    )
    (folder / MANIFEST_FILE).write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
    return folder
