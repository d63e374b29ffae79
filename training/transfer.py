"""Transfer learning: a classification network whose first layers start from pretrained weights.

`YOLO("x.yaml").train()` rebuilds the network from the yaml and drops hand-loaded tensors, so we
build the network, copy the pretrained tensors in, save an Ultralytics checkpoint and train from
that file. `fingerprint` lets the trainer prove the tensors are still there when training starts.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from training.config import NETWORKS_DIR, NetworkConfig
from training.ir_weights import calibrate_batchnorm, folded_norms, ir_file, ir_state_dict

PROBE_PREFIX = "model.0."


class TransferReport(BaseModel):
    source: str | None
    tensors_loaded: int
    layers: int
    probe_tensor: str | None = None
    probe_sum: float | None = None
    head_rows: int = 0  # classifier rows taken from a source with the same class names (a parent skill)
    calibration_images: int = 0  # images that set the batch norms of weights recovered from an OpenVINO IR


def resolve_network(model: str) -> str:
    """A yaml in training/networks, else the name as given (a path, or an Ultralytics model name)."""
    local = NETWORKS_DIR / model
    return str(local) if local.is_file() else model


SKILL_PREFIX = "skill:"  # network.pretrained "skill:car-model": the newest trained version of that skill


def skills_root() -> Path:
    """Where `skill:<name>` starts are looked up: SKILLFORGE_SKILLS_DIR, else out/skills (`make skills`)."""
    return Path(os.environ.get("SKILLFORGE_SKILLS_DIR") or "out/skills")


def models_folder() -> Path | None:
    """Where pretrained weights named in a config are looked up: SKILLFORGE_MODELS_DIR, None when unset."""
    folder = os.environ.get("SKILLFORGE_MODELS_DIR")
    return Path(folder) if folder else None


def skill_weights(skill: str, root: Path | None = None) -> tuple[int, Path]:
    """(version, weights file) of the newest version of `skill` under the skill version folders."""
    from functions.core.skills.model import read_manifest
    from functions.core.skills.resolver import FolderSkills

    root = root or skills_root()
    try:
        version, folder = FolderSkills(root).folder(skill)
    except ValueError as error:
        raise FileNotFoundError(
            f"network.pretrained {SKILL_PREFIX}{skill}: {error}; train {skill} first "
            "(`make skills` trains parents before their children) or set SKILLFORGE_SKILLS_DIR"
        ) from error
    weights = folder / read_manifest(folder).weights
    if not weights.is_file():
        raise FileNotFoundError(f"network.pretrained {SKILL_PREFIX}{skill}: {weights} is missing")
    return version, weights


def resolve_weights(name: str, models_dir: Path | None) -> Path:
    if name.startswith(SKILL_PREFIX):
        return skill_weights(name.removeprefix(SKILL_PREFIX))[1]
    for candidate in ([models_dir / name] if models_dir else []) + [Path(name)]:
        if candidate.is_file() or ir_file(candidate):
            return candidate
    looked = f"{models_dir} and the working folder" if models_dir else "the working folder"
    raise FileNotFoundError(
        f"pretrained weights {name!r} not found (looked in {looked}); set SKILLFORGE_MODELS_DIR or "
        "network.pretrained to a path, or null to start from scratch"
    )


def _state_dict(path: Path) -> tuple[dict[str, Any], list[str]]:
    """The tensors of `path`, and its class names when it is a trained classifier (else [])."""
    import torch

    xml = ir_file(path)
    if xml is not None:  # an OpenVINO IR: its convolutions, batch norm folded (training/ir_weights.py)
        return ir_state_dict(xml), []

    loaded = torch.load(path, map_location="cpu", weights_only=False)
    names: list[str] = []
    if isinstance(loaded, dict):  # an Ultralytics checkpoint: the EMA weights when saved, else the model
        module = next(
            (m for m in (loaded.get("ema"), loaded.get("model")) if isinstance(m, torch.nn.Module)), None
        )
        if module is not None:
            found = getattr(module, "names", None) or {}
            names = [str(found[i]) for i in sorted(found)] if isinstance(found, dict) else list(found)
            loaded = module.float().state_dict()
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} holds neither a state dict nor an Ultralytics checkpoint")
    return {k: v for k, v in loaded.items() if hasattr(v, "shape")}, names


def head_rows(
    tensors: dict[str, Any], names: list[str], own: dict[str, Any], classes: list[str]
) -> dict[str, Any]:
    """The classifier's last layer for `classes`, row by row from a source classifier that has every one
    of them (a child skill of a finer or wider parent, e.g. one make's models of the all-models skill);
    {} when the source lacks a class or has no such layer."""
    keys = [k for k in own if k.endswith(".linear.weight") or k.endswith(".linear.bias")]
    if not names or not keys or not set(classes) <= set(names):
        return {}
    rows = [names.index(name) for name in classes]
    picked = {k: tensors[k][rows].clone() for k in keys if k in tensors}
    fits = len(picked) == len(keys) and all(picked[k].shape == own[k].shape for k in keys)
    return picked if fits else {}


def _layer(key: str) -> int:
    parts = key.split(".")
    return int(parts[1]) if len(parts) > 2 and parts[0] == "model" and parts[1].isdigit() else -1


def build_initial_checkpoint(
    network: NetworkConfig,
    classes: list[str],
    models_dir: Path | None,
    out_path: Path,
    calibration: Sequence[Path] = (),
    imgsz: int = 224,
    seed: int = 0,
) -> TransferReport:
    """Save an Ultralytics checkpoint of the network for `classes`, pretrained layers copied in.
    Weights from an OpenVINO IR come with batch norm folded: `calibration` images (the training crops)
    at `imgsz` set those batch norms' statistics (training/ir_weights.py).

    The layers that start fresh (a new head, or every layer from scratch) are drawn from `seed` (the
    config's training seed) on a generator of their own: the same config, data and code give the same
    start, whatever ran before in the process (Ultralytics seeds only once training starts)."""
    import torch
    from ultralytics import __version__ as ultralytics_version
    from ultralytics.nn import tasks

    classification_model: Any = tasks.ClassificationModel
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = classification_model(resolve_network(network.model), nc=len(classes), verbose=False)
    model.names = dict(enumerate(classes))
    report = TransferReport(source=None, tensors_loaded=0, layers=0)
    if network.pretrained is not None and network.pretrained_layers > 0:
        source = resolve_weights(network.pretrained, models_dir)
        own = model.state_dict()
        tensors, source_classes = _state_dict(source)
        wanted = {
            k: v
            for k, v in tensors.items()
            if 0 <= _layer(k) < network.pretrained_layers
            and k in own
            and own[k].shape == v.shape
            and not (source_classes and ".linear." in k)  # a named classifier's rows: only by name
        }
        head_layer = max(_layer(k) for k in own)
        rows = (
            head_rows(tensors, source_classes, own, classes) if head_layer < network.pretrained_layers else {}
        )
        wanted.update(rows)
        if not wanted:
            raise ValueError(
                f"no tensor of {source} fits layers 0..{network.pretrained_layers - 1} of {network.model}"
            )
        model.load_state_dict({k: v.float() for k, v in wanted.items()}, strict=False)
        norms = folded_norms(list(wanted)) if ir_file(source) else []
        if norms and not calibration:
            raise ValueError(
                f"{source}: weights read from an OpenVINO IR have batch norm folded in and need calibration "
                "images (the skill's training crops) to train; none were given"
            )
        calibrated = calibrate_batchnorm(model, norms, calibration, imgsz) if norms else 0
        probe = next(
            (k for k in wanted if k.startswith(PROBE_PREFIX) and k.endswith("weight") and ".bn." not in k),
            next(iter(wanted)),
        )
        report = TransferReport(
            source=str(source),
            tensors_loaded=len(wanted),
            layers=len({_layer(k) for k in wanted}),
            probe_tensor=probe,
            probe_sum=float(wanted[probe].float().abs().sum()),
            head_rows=len(classes) if rows else 0,
            calibration_images=calibrated,
        )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "model": model,
            "train_args": {"task": "classify"},
            "date": dt.datetime.now(dt.UTC).isoformat(),
            "version": ultralytics_version,
        },
        out_path,
    )
    return report


def fingerprint(model: Any, tensor: str) -> float:
    """abs-sum of one named tensor of a (possibly wrapped) model: equal to the source = transferred."""
    state = model.state_dict()
    return float(state[tensor].float().abs().sum())
