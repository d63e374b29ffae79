"""Pretrained weights recovered from an OpenVINO IR (the project's YOLO11n COCO detector, INT8).

The IR keeps every convolution's weights as int8 with a per-channel scale (Convert, Subtract, Multiply
of constants), batch norm folded into the weights and a bias Add, and each node named after its module
path (`__module.model.6.m.0.cv1.conv/…`). Evaluating those constant sub-graphs gives the weights back,
to int8 precision, under Ultralytics' own state-dict keys, so a network built from a yaml with the
detector's layers (training/networks/yolo11n-cls.yaml) can start from them.

Folded batch norm: a `Conv` (conv + bn) gets the folded weights and a bn that adds the bias and nothing
else (mean 0, variance 1 - eps, scale 1). That is exact in inference, but in training batch norm
normalises by the batch's own statistics, which would rescale every channel. `calibrate_batchnorm`
sets each such bn's statistics from real images (the skill's own training crops) and its scale and
shift to undo them, so the network computes the same function in both modes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

_CONVOLUTIONS = ("Convolution", "GroupConvolution")
_MODULE = re.compile(r"^__module\.(model\.[\w.]+?)/")
_BN_EPS = 1e-3  # Ultralytics' Conv batch norm


def ir_file(path: Path) -> Path | None:
    """The IR's .xml when `path` is one, or a folder holding exactly one (with its .bin); else None."""
    if path.is_file() and path.suffix == ".xml":
        return path
    if path.is_dir():
        found = sorted(path.glob("*.xml"))
        if len(found) == 1 and found[0].with_suffix(".bin").is_file():
            return found[0]
    return None


def _constant(output: Any) -> np.ndarray[Any, Any]:
    node = output.get_node()
    kind = node.get_type_name()
    if kind == "Constant":
        return np.array(node.get_data(), dtype=np.float32)  # a writable copy
    args = [_constant(item.get_source_output()) for item in node.inputs()]
    if kind == "Convert":
        return args[0]
    if kind == "Multiply":
        return np.asarray(args[0] * args[1], dtype=np.float32)
    if kind == "Subtract":
        return np.asarray(args[0] - args[1], dtype=np.float32)
    if kind == "Reshape":
        return args[0].reshape(args[1].astype(np.int64))
    raise ValueError(f"{node.get_friendly_name()}: {kind} in a weight's sub-graph is not constant arithmetic")


def _bias(conv: Any) -> np.ndarray[Any, Any] | None:
    """The constant added to the convolution's output (folded batch norm, or a conv bias), if any."""
    for target in conv.output(0).get_target_inputs():
        add = target.get_node()
        if add.get_type_name() != "Add":
            continue
        other = [i.get_source_output() for i in add.inputs() if i.get_source_output().get_node() is not conv]
        if other:
            return _constant(other[0]).reshape(-1)
    return None


def folded_convolutions(xml: Path) -> dict[str, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None]]:
    """Module path of each convolution in the IR (`model.6.m.0.cv1.conv`, the conv of a `Conv`; or a bare
    `model.23.cv2.0.2`) → (weights, bias), in graph order."""
    from functions.core.base.offline import configure_offline

    configure_offline()
    import openvino as ov

    model = ov.Core().read_model(str(xml))
    found: dict[str, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None]] = {}
    for op in model.get_ordered_ops():
        if op.get_type_name() not in _CONVOLUTIONS:
            continue
        match = _MODULE.match(op.get_friendly_name())
        if match is None:
            raise ValueError(f"{xml}: convolution {op.get_friendly_name()!r} is not named by a module path")
        weights = _constant(op.input(1).get_source_output())
        if op.get_type_name() == "GroupConvolution":  # [groups, out/groups, in/groups, k, k] → torch layout
            weights = weights.reshape(weights.shape[0] * weights.shape[1], *weights.shape[2:])
        found[match.group(1)] = (weights, _bias(op))
    if not found:
        raise ValueError(f"{xml} holds no convolution")
    return found


def ir_state_dict(xml: Path) -> dict[str, Any]:
    """Ultralytics state-dict tensors for the IR's convolutions: `Conv` modules as conv + a bn that only
    adds the folded bias (calibrate it before training), plain convolutions as weight + bias."""
    import torch

    tensors: dict[str, Any] = {}
    for conv, (weights, bias) in folded_convolutions(xml).items():
        channels = weights.shape[0]
        path = conv.removesuffix(".conv")
        if path == conv or bias is None:  # a bare nn.Conv2d (the Detect head's last layers, its DFL)
            tensors[f"{conv}.weight"] = torch.from_numpy(weights)
            if bias is not None:
                tensors[f"{conv}.bias"] = torch.from_numpy(bias)
            continue
        tensors[f"{path}.conv.weight"] = torch.from_numpy(weights)
        tensors[f"{path}.bn.weight"] = torch.ones(channels)
        tensors[f"{path}.bn.bias"] = torch.from_numpy(bias)
        tensors[f"{path}.bn.running_mean"] = torch.zeros(channels)
        tensors[f"{path}.bn.running_var"] = torch.full((channels,), 1.0 - _BN_EPS)
    return tensors


def folded_norms(keys: Sequence[str]) -> list[str]:
    """The batch-norm modules (`model.6.m.0.cv1.bn`) among state-dict keys from `ir_state_dict`."""
    return sorted({key.removesuffix(".running_var") for key in keys if key.endswith(".bn.running_var")})


def calibrate_batchnorm(model: Any, norms: Sequence[str], images: Sequence[Path], imgsz: int) -> int:
    """Give each folded bn of `model` the per-channel mean and variance of its input over `images`
    (the classifier's input at imgsz: `classify_input`, as served), and the scale and shift that undo
    them: the same output in inference, and in training the batch statistics cancel instead of
    rescaling channels. Returns the number of images used (0: nothing changed)."""
    import torch
    from PIL import Image

    from functions.core.detection.yolo_numpy import classify_input

    modules = dict(model.named_modules())
    targets = {name: modules[name] for name in norms if isinstance(modules.get(name), torch.nn.BatchNorm2d)}
    if not targets or not images:
        return 0
    sums: dict[str, list[Any]] = {name: [0.0, 0.0, 0] for name in targets}

    def hook(name: str) -> Any:
        def record(_module: Any, inputs: tuple[Any, ...]) -> None:
            x = inputs[0].detach().double()
            acc = sums[name]
            acc[0] = acc[0] + x.sum(dim=(0, 2, 3))
            acc[1] = acc[1] + (x * x).sum(dim=(0, 2, 3))
            acc[2] += x.numel() // x.shape[1]

        return record

    handles = [module.register_forward_pre_hook(hook(name)) for name, module in targets.items()]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(images), 16):
                batch = [classify_input(Image.open(path), imgsz) for path in images[start : start + 16]]
                model(torch.from_numpy(np.concatenate(batch)))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    with torch.no_grad():
        for name, module in targets.items():
            total, squares, count = sums[name]
            mean = total / count
            variance = (squares / count - mean * mean).clamp(min=0.0)
            module.bias.add_(mean.float())  # the folded bias stays; the mean is given back after normalising
            module.weight.copy_((variance + module.eps).sqrt().float())
            module.running_mean.copy_(mean.float())
            module.running_var.copy_(variance.float())
    return len(images)
