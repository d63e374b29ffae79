"""A tiny CPU training run end to end on synthetic images: weights, ONNX and skill.json with versions."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from functions.core.dataset.build import RecordTable, extract
from tests.conftest import MODELS
from training.config import parse_config
from training.synthetic import write_synthetic_set
from training.transfer import _state_dict

PRETRAINED = MODELS / "yolov5n-coco-state-dict.pt"


def _train_tiny(tmp_path: Path, training: dict[str, Any]) -> tuple[Any, Any, Any]:
    """3 synthetic classes of 10 images each, extracted into a data set and trained with `training`;
    returns the config, the extraction and the manifest."""
    from training.train import TrainRequest, train_skill

    crops = tmp_path / "crops"
    files = write_synthetic_set(crops / "crops", ["red-box", "blue-disc", "green-tri"], 10, size=48)
    records = RecordTable()
    for i, path in enumerate(files):
        records.append(
            f"c{i}", f"i{i}", f"g{i}", path.parent.name, "bkt", f"crops/{path.parent.name}/{path.name}"
        )
    occluders = tmp_path / "occluders"
    occluders.mkdir()
    for i in range(2):
        Image.new("RGB", (20, 20), (200, 200 - 90 * i, 0)).save(occluders / f"object{i}.png")
    config = parse_config(
        {
            "skill": "tiny-skill",
            "dataset": {"min_images_per_class": 5, "test_fraction": 0.3},
            "network": {"pretrained": str(PRETRAINED) if PRETRAINED.is_file() else None, "freeze": 0},
            "training": training,
            "augment": {"copy_paste_occlusion": True, "occluders_dir": str(occluders)},
        }
    )
    extraction, _ = extract(records, config.dataset, {}, "salt")
    manifest = train_skill(
        TrainRequest(
            config=config,
            profile="laptop",
            skill_version=3,
            code_version="abc123",
            dataset=extraction.data,
            crops_root=crops,
            work_dir=tmp_path / "work",
            model_dir=tmp_path / "model",
            models_dir=None,
        )
    )
    return config, extraction, manifest


@pytest.mark.slow
def test_tiny_training_run_produces_a_versioned_skill(tmp_path):
    # GIVEN 3 synthetic classes of 10 images each
    # WHEN trained for one epoch at 32 px, tested at 64 px with flip TTA
    config, extraction, manifest = _train_tiny(
        tmp_path, {"imgsz": 32, "test_imgsz": 64, "epochs": 1, "batch": 8, "tta": "hflip"}
    )
    model_dir = tmp_path / "model"
    # THEN weights, ONNX, metrics, lineage and skill.json are written
    for name in (
        "weights.pt",
        "model.onnx",
        "skill.json",
        "metrics.json",
        "lineage.json",
        "augmentations.png",
        "training-curves.png",
    ):
        assert (model_dir / name).is_file(), name
    skill = json.loads((model_dir / "skill.json").read_text())
    # AND skill.json carries the versions and hashes
    assert skill["skill_version"] == 3
    assert skill["code_version"] == "abc123"
    assert skill["dataset_version"] == extraction.dataset_version
    assert skill["config_hash"] == config.config_hash()
    assert skill["hardware_profile"] == "laptop"
    assert sorted(skill["classes"]) == ["blue-disc", "green-tri", "red-box"]
    assert manifest.epochs_run == 1
    # AND the version is served as it was tested: with flip test-time augmentation, at the test input size
    assert skill["tta"] == "hflip"
    assert skill["imgsz"] == 64
    # AND with no confidence set, every test crop ran its mirror image too
    assert skill["tta_confidence"] is None
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert metrics["train_imgsz"] == 32
    assert metrics["tta_mirror_share"] == 1.0
    # AND the exported version, served on the light runtime, gives every test crop its counted answer
    served = metrics["served_check"]
    assert (served["backend"], served["crops"]) == ("onnx", metrics["test"]["images"])
    assert served["same_answer"] == served["crops"]
    assert served["max_probability_difference"] < 1e-4
    assert 0.0 <= metrics["test"]["top1"] <= 1.0
    assert len(metrics["test"]["confusion_matrix"]) == 3
    # AND held-out figures with and without TTA are recorded for tuning (test's TTA figure = its top-1)
    assert metrics["tta_comparison"]["test_top1_tta_hflip"] == metrics["test"]["top1"]
    assert {"test_top1_tta_none", "test_top1_tta_hflip"} <= set(metrics["tta_comparison"])
    # AND when pretrained weights exist, the transfer is proven at train start
    if PRETRAINED.is_file():
        assert metrics["transfer"]["tensors_loaded"] == 198
        assert metrics["transfer"]["verified_at_train_start"] is True
    # AND the CPU run trained on every core this process may use, not Ultralytics' cores - 1
    assert metrics["torch_threads"] == len(os.sched_getaffinity(0))
    # AND with NHWC convolutions, which train faster on CPU than Ultralytics' NCHW
    assert metrics["channels_last"] is True
    # AND the shipped checkpoint is the best validation epoch's, by default
    assert metrics["checkpoint"] == {"rule": "best", "file": "best.pt"}
    # AND the ONNX model runs at the size it is served at
    import numpy as np
    import onnxruntime as ort

    session = ort.InferenceSession(str(model_dir / "model.onnx"))
    assert session.get_inputs()[0].shape[2:] == [64, 64]
    output = session.run(None, {session.get_inputs()[0].name: np.zeros((1, 3, 64, 64), dtype=np.float32)})
    assert output[0].shape == (1, 3)


@pytest.mark.slow
def test_a_time_budget_cuts_the_planned_epochs(tmp_path):
    # GIVEN a run planned for 3 epochs with a budget (0.1 s) that the first epoch already spends
    # WHEN it trains
    _, _, manifest = _train_tiny(
        tmp_path, {"imgsz": 32, "epochs": 3, "patience": 3, "batch": 8, "time_budget_minutes": 0.1 / 60}
    )
    # THEN it stops after that epoch, and metrics.json says where and why the plan was cut
    assert manifest.epochs_run == 1
    metrics = json.loads((tmp_path / "model" / "metrics.json").read_text())
    assert metrics["epochs_planned"] == 3
    assert len(metrics["epochs"]) == 1
    [cut] = metrics["budget_cuts"]
    assert (cut["after_epoch"], cut["planned"], cut["epochs"]) == (1, 3, 1)
    assert cut["elapsed_s"] > cut["budget_s"] == 0.1


@pytest.mark.slow
def test_the_same_config_and_data_train_the_same_weights(tmp_path):
    import torch

    # GIVEN a tiny config trained once (its new head started from the config's seed)
    (tmp_path / "a").mkdir()
    _train_tiny(tmp_path / "a", {"imgsz": 32, "epochs": 1, "batch": 8})
    # WHEN the same config trains again on the same data, in a process whose generators the first run moved
    (tmp_path / "b").mkdir()
    _train_tiny(tmp_path / "b", {"imgsz": 32, "epochs": 1, "batch": 8})

    # THEN both runs shipped the same weights, tensor for tensor
    first, second = (_state_dict(tmp_path / run / "model" / "weights.pt")[0] for run in ("a", "b"))
    assert first.keys() == second.keys()
    assert [k for k in first if not torch.equal(first[k], second[k])] == []
    # AND the same training loss
    losses = [
        [e["train_loss"] for e in json.loads((tmp_path / r / "model" / "metrics.json").read_text())["epochs"]]
        for r in ("a", "b")
    ]
    assert losses[0] == losses[1]
