"""Tiny but real classification skills on synthetic images, in seconds on a CPU.

Used by tests and by the sample report: an Ultralytics classification network built from the yaml
shipped inside the package (no download), trained with a few optimizer steps on synthetic colour
images (class i = colour i), saved as an Ultralytics checkpoint with its `skill.json`.
`steps=0` leaves the network untrained (a deliberately poor version).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from functions.core.offline import configure_offline
from functions.core.skill_model import MANIFEST_FILE
from functions.core.skills import SkillManifest

# A four-layer Ultralytics classification network (same modules and checkpoint format as yolov8n-cls,
# a fraction of the compute): what tests train in a second or two.
MICRO_NETWORK: dict[str, Any] = {
    "nc": 3,
    "backbone": [
        [-1, 1, "Conv", [16, 3, 2]],
        [-1, 1, "Conv", [32, 3, 2]],
        [-1, 1, "Conv", [64, 3, 2]],
        [-1, 1, "C2f", [64, True]],
    ],
    "head": [[-1, 1, "Classify", ["nc"]]],
}

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (210, 40, 40),
    "green": (40, 190, 60),
    "blue": (40, 70, 210),
}


def synthetic_image(class_name: str, seed: int, size: int = 96) -> Image.Image:
    """A noisy background with a coloured blob of the class colour (plus a random distractor stripe)."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(60, 140, size=(size, size, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    x0, y0 = (int(v) for v in rng.integers(0, size // 3, size=2))
    side = int(rng.integers(size // 2, size - max(x0, y0)))
    draw.ellipse((x0, y0, x0 + side, y0 + side), fill=COLOURS[class_name])
    stripe = int(rng.integers(0, size - 6))
    draw.rectangle((0, stripe, size, stripe + 4), fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    return image


def build_tiny_skill(
    folder: Path,
    skill: str,
    version: int,
    classes: list[str] | None = None,
    steps: int = 12,
    imgsz: int = 64,
    seed: int = 0,
    code_version: str = "test",
    dataset_version: str = "synthetic",
    network: str | dict[str, Any] = "micro",
) -> SkillManifest:
    """Build, train `steps` optimizer steps, save `weights.pt` + `skill.json` in `folder`.

    `network`: "micro" (MICRO_NETWORK) or a yaml shipped with Ultralytics, e.g. "yolov8n-cls.yaml".
    """
    configure_offline()
    import torch
    from ultralytics.nn.tasks import ClassificationModel

    classes = classes or ["red", "green", "blue"]
    unknown = [name for name in classes if name not in COLOURS]
    if unknown:
        raise ValueError(f"tiny skills know colours {sorted(COLOURS)}, not {unknown}")
    torch.manual_seed(seed)
    cfg = copy.deepcopy(MICRO_NETWORK) if network == "micro" else network
    model: Any = ClassificationModel(cfg, nc=len(classes), verbose=False)  # type: ignore[no-untyped-call]
    model.names = dict(enumerate(classes))
    model.args = {"imgsz": imgsz, "task": "classify"}
    from ultralytics.data.augment import classify_transforms

    transform = classify_transforms(imgsz)

    def batch(n: int, offset: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = [(offset + i) % len(classes) for i in range(n)]
        images = [
            transform(synthetic_image(classes[y], seed * 10_000 + offset + i)) for i, y in enumerate(labels)
        ]
        return torch.stack(images), torch.tensor(labels)

    if steps > 0:
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
        model.train()
        for step in range(steps):
            x, y = batch(12, step * 12)
            loss = torch.nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
        # re-estimate BatchNorm statistics so eval mode matches what training saw
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.reset_running_stats()
                module.momentum = None
        with torch.no_grad():
            for k in range(3):
                model(batch(24, 50_000 + k * 24)[0])
    model.eval()
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model, "train_args": dict(model.args), "epoch": -1}, folder / "weights.pt")
    manifest = SkillManifest(
        skill=skill,
        skill_version=version,
        code_version=code_version,
        dataset_version=dataset_version,
        config_hash=f"tiny-{network if isinstance(network, str) else 'custom'}-{steps}-{seed}",
        hardware_profile="laptop",
        classes=classes,
        imgsz=imgsz,
        weights="weights.pt",
        metrics={"class_counts": {"train": dict.fromkeys(classes, steps * 12 // max(1, len(classes)))}},
        epochs_run=1 if steps else 0,
    )
    (folder / MANIFEST_FILE).write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
    return manifest


def write_synthetic_images(
    folder: Path, classes: list[str], per_class: int, seed: int = 1
) -> dict[str, list[Path]]:
    """`folder/<class>/<n>.png` synthetic images (a harness or replay set for tiny skills)."""
    written: dict[str, list[Path]] = {}
    for c, class_name in enumerate(classes):
        for n in range(per_class):
            path = folder / class_name / f"{n:03d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            synthetic_image(class_name, 1_000_000 + seed * 1000 + c * 100 + n).save(path)
            written.setdefault(class_name, []).append(path)
    (folder / "classes.json").write_text(json.dumps(classes), encoding="utf-8")
    return written
