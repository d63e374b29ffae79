"""Grad-CAM on an Ultralytics classification skill: where the model looked for a class.

Real gradients through the PyTorch module: the class score's gradient w.r.t. the activations of the
deepest backbone layer that still has a usable spatial grid (≥ `min_grid` cells a side) weights
those activation maps; ReLU, upsample to the input, normalise to 0..1.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from functions.core.skills.model import ClassifierSkill


def _target_layer(module: Any, tensor: Any, min_grid: int) -> int:
    import torch

    shapes: dict[int, tuple[int, ...]] = {}
    hooks = [
        layer.register_forward_hook(lambda _m, _i, out, idx=idx: shapes.__setitem__(idx, tuple(out.shape)))
        for idx, layer in enumerate(module.model[:-1])
    ]
    try:
        with torch.no_grad():
            module(tensor)
    finally:
        for hook in hooks:
            hook.remove()
    spatial = [idx for idx, shape in shapes.items() if len(shape) == 4]
    usable = [idx for idx in spatial if min(shapes[idx][2:]) >= min_grid]
    return max(usable) if usable else min(spatial)


def grad_cam(
    skill: ClassifierSkill, image: Image.Image, class_name: str | None = None, min_grid: int = 4
) -> np.ndarray:
    """Heat map (H×W of the model input, float 0..1) for `class_name` (default: the top-1 class)."""
    import torch

    module = skill.module
    tensor = skill.tensor(image)
    layer_index = _target_layer(module, tensor, min_grid)
    captured: dict[str, Any] = {}

    def keep(_module: Any, _inputs: Any, output: Any) -> None:
        output.retain_grad()
        captured["activations"] = output

    hook = module.model[layer_index].register_forward_hook(keep)
    try:
        with torch.enable_grad():
            tensor = tensor.clone().requires_grad_(True)  # gradients flow even with frozen weights
            output = module(tensor)
            logits = output[1] if isinstance(output, tuple | list) else output
            index = skill.classes.index(class_name) if class_name else int(logits[0].argmax())
            module.zero_grad(set_to_none=True)
            logits[0, index].backward()
    finally:
        hook.remove()
    activations = captured["activations"]
    gradients = activations.grad
    if gradients is None:
        raise RuntimeError("no gradient reached the target layer")
    weights = gradients.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * activations).sum(dim=1))[0].detach()
    cam = torch.nn.functional.interpolate(
        cam[None, None], size=tuple(tensor.shape[2:]), mode="bilinear", align_corners=False
    )[0, 0]
    cam = cam - cam.min()
    peak = float(cam.max())
    result: np.ndarray = (cam / peak).numpy() if peak > 0 else cam.numpy()
    return result


def overlay(image: Image.Image, heat: np.ndarray, alpha: float = 0.45) -> Image.Image:
    """The heat map (jet colours) over the image as the model saw it (square, resized)."""
    from matplotlib import colormaps
    from PIL import ImageOps

    side = heat.shape[0]
    base = ImageOps.fit(image.convert("RGB"), (side, side))  # the centre square the model saw
    colours = (colormaps["jet"](heat)[..., :3] * 255).astype(np.uint8)
    return Image.blend(base, Image.fromarray(colours).resize(base.size), alpha)
