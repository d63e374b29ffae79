"""A trained skill version loaded for inference with its PyTorch module: Ultralytics weights + `skill.json`.

Inference runs the PyTorch module directly with Ultralytics' own classification transforms (what
`YOLO.predict` does for classify models), so the same module serves answers and Grad-CAM maps.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from functions.core.models import Scored, SkillRef
from functions.core.offline import configure_offline
from functions.core.skills import SkillManifest

MANIFEST_FILE = "skill.json"


def read_manifest(folder: Path) -> SkillManifest:
    path = folder / MANIFEST_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: a skill version folder holds skill.json and its weights")
    return SkillManifest.model_validate_json(path.read_text(encoding="utf-8"))


@dataclass
class ClassifierSkill:
    """One loaded skill version; `classify` returns every class, best first."""

    manifest: SkillManifest
    folder: Path
    module: Any  # ultralytics ClassificationModel (torch.nn.Module), eval mode, float32
    transform: Any  # PIL image → normalised CHW tensor
    load_seconds: float

    @property
    def ref(self) -> SkillRef:
        return SkillRef(
            skill=self.manifest.skill,
            skill_version=self.manifest.skill_version,
            code_version=self.manifest.code_version,
        )

    @property
    def classes(self) -> list[str]:
        return list(self.manifest.classes)

    def model_megabytes(self) -> float:
        size: int = sum(p.numel() * p.element_size() for p in self.module.parameters())
        size += sum(b.numel() * b.element_size() for b in self.module.buffers())
        return round(size / 2**20, 2)

    def tensor(self, image: Image.Image) -> Any:
        return self.transform(image.convert("RGB")).unsqueeze(0)

    def classify(self, image: Image.Image) -> list[Scored]:
        import torch

        with torch.inference_mode():
            output = self.module(self.tensor(image))
        probs = output[0] if isinstance(output, tuple | list) else output.softmax(1)
        scores = probs[0].tolist()
        ranked = sorted(range(len(scores)), key=lambda i: -scores[i])
        return [Scored(label=self.classes[i], score=round(float(scores[i]), 6)) for i in ranked]


def load_classifier(folder: Path) -> ClassifierSkill:
    """Load the skill version in `folder`; its class order must be the model's (else a clear error)."""
    configure_offline()
    started = time.perf_counter()
    manifest = read_manifest(folder)
    weights = folder / manifest.weights
    if not weights.is_file():
        raise FileNotFoundError(f"weights {weights} named by {folder / MANIFEST_FILE} are missing")
    from ultralytics import YOLO  # type: ignore[attr-defined]
    from ultralytics.data.augment import classify_transforms

    module: Any = YOLO(str(weights), task="classify").model
    module = module.float().eval()
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    names = [module.names[i] for i in sorted(module.names)]
    if names != list(manifest.classes):
        raise ValueError(
            f"{weights}: model classes {names} differ from skill.json classes {manifest.classes} "
            "(same names in the same order are required)"
        )
    return ClassifierSkill(
        manifest=manifest,
        folder=folder,
        module=module,
        transform=classify_transforms(manifest.imgsz),
        load_seconds=time.perf_counter() - started,
    )
