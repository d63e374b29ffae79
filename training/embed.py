"""Image embeddings from the pretrained backbone skills start from (COCO YOLOv5n, offline weights).

The classification network of the skill recipe is built with its pretrained layers copied in (the
same transfer as training); its layers before the head, globally average-pooled, give one vector per
image. Used by studies that need a quick model of the shared labelled photos (active learning order,
label-noise candidates) without training a network.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from training.config import NetworkConfig
from training.transfer import build_initial_checkpoint


def load_backbone(models_dir: Path | None) -> Any:
    """The pretrained layers of the default network (a torch module in eval mode)."""
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "init.pt"
        report = build_initial_checkpoint(NetworkConfig(), ["a", "b"], models_dir, path)
        if report.tensors_loaded == 0:
            raise ValueError("no pretrained tensor was loaded: embeddings would be random")
        model = torch.load(path, map_location="cpu", weights_only=False)["model"].float().eval()
    return torch.nn.Sequential(*list(model.model)[:-1])


POOLED_LAYERS = (4, 6, 8, 9)  # several depths: the last layer alone separates car makes much worse


def embed(
    images: Sequence[Image.Image],
    backbone: Any,
    imgsz: int = 256,
    batch: int = 32,
    layers: Sequence[int] = POOLED_LAYERS,
) -> npt.NDArray[np.float32]:
    """One vector per image: the spatial means of `layers`' outputs, each L2-normalised, side by side."""
    import torch

    out: list[npt.NDArray[np.float32]] = []
    for start in range(0, len(images), batch):
        chunk = [
            np.asarray(im.convert("RGB").resize((imgsz, imgsz)), dtype=np.float32) / 255.0
            for im in images[start : start + batch]
        ]
        x = torch.from_numpy(np.stack(chunk)).permute(0, 3, 1, 2)
        pooled: list[npt.NDArray[np.float32]] = []
        with torch.inference_mode():
            for index, layer in enumerate(backbone):
                x = layer(x)
                if index in layers:
                    part = x.mean(dim=(2, 3)).numpy().astype(np.float32)
                    pooled.append(part / np.maximum(np.linalg.norm(part, axis=1, keepdims=True), 1e-8))
        out.append(np.hstack(pooled))
    vectors: npt.NDArray[np.float32] = np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)
    return vectors
