"""Tiny but real classification skills on synthetic images, in seconds on a CPU (test support).

Used by tests: an Ultralytics classification network built from the yaml
shipped inside the package (no download), trained with a few optimizer steps on synthetic colour
images (class i = colour i), saved as an Ultralytics checkpoint with its `skill.json`.
`steps=0` leaves the network untrained (a deliberately poor version).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from PIL import Image

from functions.core.base.offline import configure_offline
from functions.core.skills.manifest import SkillManifest
from functions.core.skills.model import MANIFEST_FILE
from training import synthetic

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

# The colour classes tiny skills know, as indices of training.synthetic's palette (0 red, 1 blue, 2 green).
COLOURS: dict[str, int] = {"red": 0, "blue": 1, "green": 2}


def synthetic_image(class_name: str, seed: int, size: int = 96) -> Image.Image:
    """The synthetic image of one colour class (the project's one generator: training.synthetic)."""
    return synthetic.synthetic_image(COLOURS[class_name], seed, size)


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
