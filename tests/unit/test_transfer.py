"""Transfer learning starts from the backbone of any Ultralytics checkpoint, mid-training ones included."""

from __future__ import annotations

from pathlib import Path

import torch

from training.config import NetworkConfig
from training.transfer import build_initial_checkpoint, resolve_network


def _trained_skill_checkpoint(path: Path, classes: int) -> torch.nn.Module:
    from ultralytics.nn.tasks import ClassificationModel

    model = ClassificationModel(resolve_network("yolov5n-cls.yaml"), nc=classes, verbose=False)  # type: ignore[no-untyped-call]
    torch.nn.init.normal_(model.model[0].conv.weight)  # not what a fresh network starts with
    # as Ultralytics saves best.pt while training: the weights under "ema", "model" None
    torch.save({"model": None, "ema": model, "epoch": 3}, path)
    return model


def test_a_skill_checkpoint_saved_mid_training_gives_its_backbone_to_a_new_skill(tmp_path: Path) -> None:
    # GIVEN a 4-class skill's checkpoint saved during training (model None, EMA weights)
    parent = _trained_skill_checkpoint(tmp_path / "best.pt", classes=4)
    # WHEN a 14-class skill is initialised from its first 10 layers
    report = build_initial_checkpoint(
        NetworkConfig(model="yolov5n-cls.yaml", pretrained=str(tmp_path / "best.pt"), pretrained_layers=10),
        [f"class-{i}" for i in range(14)],
        None,
        tmp_path / "init.pt",
    )
    # THEN every backbone tensor comes from the parent, and the new head keeps its own shape
    child = torch.load(tmp_path / "init.pt", weights_only=False)["model"]
    assert report.layers == 10
    assert torch.equal(child.model[0].conv.weight, parent.model[0].conv.weight)
    assert child.model[-1].linear.out_features == 14
