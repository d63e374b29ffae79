"""A trained skill version loaded for inference: `skill.json` + its weights, on one of two runtimes.

One classifier abstraction, `ClassifierSkill`, with two backends:

- `torch`: the Ultralytics checkpoint's PyTorch module with Ultralytics' own classification transforms
  (what `YOLO.predict` does for classify models), so the same module serves answers and Grad-CAM maps;
- `onnx`: the skill's ONNX export (`SkillManifest.onnx`) on ONNX Runtime, preprocessed in numpy/Pillow
  exactly as Ultralytics' classify predictor does: no torch, no Ultralytics (the light serving runtime).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from PIL import Image

from functions.core.base.offline import configure_offline
from functions.core.base.records import Scored, SkillRef
from functions.core.detection.light_detector import ModelFileError, names_from_onnx_metadata, onnx_session
from functions.core.detection.yolo_numpy import (
    classify_input,
    mirror_is_flipped_input,
    mirrored_classify_input,
)
from functions.core.skills.manifest import SkillManifest, mirror_needed

MANIFEST_FILE = "skill.json"
# Pictures of the training run in the skill version's folder (written by training/charts.py)
CURVES_FILE = "training-curves.png"
DATASET_FILE = "dataset.png"
ClassifierBackend = Literal["torch", "onnx"]
# A classification skill is small (≈2 ms per crop on one core): one thread without spin-waiting leaves
# the other cores to the detector's runtime in the same process. With ONNX Runtime's default (all
# cores, spinning) beside the OpenVINO detector it measured 14 ms per crop instead of 2.2 (2 vCPUs).
ONNX_CLASSIFIER_THREADS = 1


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
    load_seconds: float
    backend: ClassifierBackend = "torch"
    module: Any = None  # torch: ultralytics ClassificationModel (torch.nn.Module), eval mode, float32
    transform: Any = None  # torch: PIL image → normalised CHW tensor
    session: Any = None  # onnx: onnxruntime.InferenceSession
    runs: int = 0  # network runs so far, the mirror image counting as one (serving answers on threads)
    _runs_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

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
        if self.backend == "onnx":
            return round((self.folder / str(self.manifest.onnx)).stat().st_size / 2**20, 2)
        size: int = sum(p.numel() * p.element_size() for p in self.module.parameters())
        size += sum(b.numel() * b.element_size() for b in self.module.buffers())
        return round(size / 2**20, 2)

    def tensor(self, image: Image.Image) -> Any:
        if self.backend != "torch":
            raise ModelFileError(f"{self.manifest.skill} v{self.manifest.skill_version}: tensors need torch")
        return self.transform(image.convert("RGB")).unsqueeze(0)

    def probabilities(self, image: Image.Image) -> list[float]:
        """Every class's probability, in the manifest's class order (averaged with the mirror image's
        when the version is served with flip test-time augmentation and the crop needs it)."""
        plain = self._input(image)
        rows = [self._forward(plain)]
        if mirror_needed(self.manifest.tta, self.manifest.tta_confidence, rows[0].max()):
            rows.append(self._forward(self._mirror_input(image, plain)))
        with self._runs_lock:
            self.runs += len(rows)
        mean = np.mean(np.asarray(rows, dtype=np.float32), axis=0)
        return [float(p) for p in mean]

    def _input(self, image: Image.Image) -> Any:
        if self.backend == "onnx":
            return classify_input(image, self.manifest.imgsz)
        return self.tensor(image)

    def _mirror_input(self, image: Image.Image, plain: Any) -> Any:
        """The mirror image's prepared input, from the crop's own (as `mirrored_classify_input`)."""
        if self.backend == "onnx":
            return mirrored_classify_input(image, plain, self.manifest.imgsz)
        import torch

        if mirror_is_flipped_input(image):
            return torch.flip(plain, dims=[3])
        return self.tensor(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT))

    def _forward(self, batch: Any) -> npt.NDArray[np.float32]:
        """One network run on a prepared input of one image: its class probabilities."""
        if self.backend == "onnx":
            name = self.session.get_inputs()[0].name
            output = self.session.run(None, {name: batch})[0]
            row: npt.NDArray[np.float32] = np.asarray(output, dtype=np.float32)[0]
            return row
        import torch

        with torch.inference_mode():
            output = self.module(batch)
        probs = output[0] if isinstance(output, tuple | list) else output.softmax(1)
        return np.asarray(probs[0].tolist(), dtype=np.float32)

    def embedding(self, image: Image.Image) -> list[float]:
        """The skill's own features of `image`: what the classification head's last (linear) layer reads,
        pooled over the image (torch backend; the ONNX export has the probabilities only)."""
        if self.backend != "torch":
            ref = f"{self.manifest.skill} v{self.manifest.skill_version}"
            raise ModelFileError(f"{ref}: embeddings need the torch backend")
        import torch

        captured: list[Any] = []
        handle = self.module.model[-1].linear.register_forward_pre_hook(
            lambda _module, inputs: captured.append(inputs[0])
        )
        try:
            with torch.inference_mode():
                self.module(self.tensor(image))
        finally:
            handle.remove()
        return [float(v) for v in captured[0][0].tolist()]

    def classify(self, image: Image.Image) -> list[Scored]:
        scores = self.probabilities(image)
        ranked = sorted(range(len(scores)), key=lambda i: -scores[i])
        return [Scored(label=self.classes[i], score=round(float(scores[i]), 6)) for i in ranked]


def load_classifier(folder: Path, backend: ClassifierBackend = "torch") -> ClassifierSkill:
    """Load the skill version in `folder`; its class order must be the model's (else a clear error)."""
    started = time.perf_counter()
    manifest = read_manifest(folder)
    if backend == "onnx":
        return _load_onnx(folder, manifest, started)
    configure_offline()
    weights = folder / manifest.weights
    if not weights.is_file():
        raise FileNotFoundError(f"weights {weights} named by {folder / MANIFEST_FILE} are missing")
    from ultralytics import YOLO  # type: ignore[attr-defined]
    from ultralytics.data.augment import classify_transforms

    module: Any = YOLO(str(weights), task="classify").model
    module = module.float().eval()
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    _same_classes(str(weights), [module.names[i] for i in sorted(module.names)], manifest)
    return ClassifierSkill(
        manifest=manifest,
        folder=folder,
        load_seconds=time.perf_counter() - started,
        module=module,
        transform=classify_transforms(manifest.imgsz),
    )


def _load_onnx(folder: Path, manifest: SkillManifest, started: float) -> ClassifierSkill:
    if manifest.onnx is None:
        raise ModelFileError(
            f"skill {manifest.skill} v{manifest.skill_version} has no ONNX export; "
            "use the 'torch' classifier backend or export it"
        )
    model = folder / manifest.onnx
    session, shape, metadata = onnx_session(str(model), None, threads=ONNX_CLASSIFIER_THREADS)
    fixed = shape[2] if isinstance(shape[2], int) and shape[2] > 0 else None
    if fixed is not None and fixed != manifest.imgsz:
        raise ModelFileError(f"{model} takes {fixed}-px inputs, but skill.json says imgsz {manifest.imgsz}")
    names = names_from_onnx_metadata(metadata, str(model))
    _same_classes(str(model), [names[i] for i in sorted(names)], manifest)
    return ClassifierSkill(
        manifest=manifest,
        folder=folder,
        load_seconds=time.perf_counter() - started,
        backend="onnx",
        session=session,
    )


def _same_classes(model: str, names: list[str], manifest: SkillManifest) -> None:
    if names != list(manifest.classes):
        raise ValueError(
            f"{model}: model classes {names} differ from skill.json classes {manifest.classes} "
            "(same names in the same order are required)"
        )
