"""Pretrained weights recovered from the INT8 OpenVINO detector: the same network, and a sound start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from tests.conftest import shared_data, shared_models
from training.config import NetworkConfig
from training.ir_weights import calibrate_batchnorm, folded_convolutions, folded_norms, ir_file, ir_state_dict
from training.transfer import build_initial_checkpoint, resolve_network

IR = "yolo11n_int8_openvino_model"


def _xml() -> Path:
    xml = ir_file(shared_models() / IR)
    assert xml is not None
    return xml


def _input(path: Path, size: int) -> np.ndarray[Any, Any]:
    from PIL import Image

    from functions.core.detection.yolo_numpy import classify_input

    return classify_input(Image.open(path), size)


def _road(size: int) -> np.ndarray[Any, Any]:
    return _input(shared_data() / "samples" / "test3.jpg", size)


def _folded_classifier() -> tuple[Any, list[str]]:
    from ultralytics.nn.tasks import ClassificationModel

    model: Any = ClassificationModel(resolve_network("yolo11n-cls.yaml"), nc=4, verbose=False)  # type: ignore[no-untyped-call]
    own = model.state_dict()
    tensors = {k: v for k, v in ir_state_dict(_xml()).items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(tensors, strict=False)
    return model, folded_norms(list(tensors))


def test_every_convolution_of_the_detector_is_recovered_under_its_module_path() -> None:
    # GIVEN the project's INT8 YOLO11n detector
    # WHEN its convolutions are read back
    found = folded_convolutions(_xml())
    # THEN all 88 come back, the stem with its 16 filters of 3x3 RGB and a folded bias
    assert len(found) == 88
    weights, bias = found["model.0.conv"]
    assert weights.shape == (16, 3, 3, 3) and bias is not None and bias.shape == (16,)
    # AND the depthwise attention convolution is in torch's layout (one input channel a group)
    assert found["model.10.m.0.attn.pe.conv"][0].shape == (128, 1, 3, 3)


def test_the_recovered_weights_detect_what_the_openvino_detector_detects() -> None:
    from functions.core.base.offline import configure_offline

    configure_offline()
    import openvino as ov
    from ultralytics.nn.tasks import DetectionModel

    # GIVEN Ultralytics' YOLO11n detection network with the recovered weights, and a real road photo
    network: Any = DetectionModel("yolo11n.yaml", nc=80, verbose=False)  # type: ignore[no-untyped-call]
    own = network.state_dict()
    tensors = ir_state_dict(_xml())
    assert {k for k in own if "num_batches" not in k} <= set(tensors)
    network.load_state_dict({k: v for k, v in tensors.items() if k in own}, strict=False)
    network.eval()
    photo = _road(640)
    # WHEN both networks score the photo
    expected = ov.Core().compile_model(str(_xml()), "CPU")(photo)[0][0]
    with torch.no_grad():
        got = network(torch.from_numpy(photo))[0][0].numpy()
    # THEN the car scores agree (the IR also quantises activations, so not to the last digit)
    car = 4 + 2
    assert np.corrcoef(expected[car], got[car])[0, 1] > 0.95
    # AND the best car box is the same box
    best = int(expected[car].argmax())
    assert float(got[car].max()) > 0.5
    assert np.abs(expected[:4, best] - got[:4, best]).max() < 4.0


def test_calibrated_batch_norms_keep_the_function_and_make_training_mode_agree() -> None:
    # GIVEN the classifier network with the detector's backbone, batch norm folded
    model, norms = _folded_classifier()
    photos = sorted((shared_data() / "cars").glob("*.jpg"))
    batch = torch.from_numpy(np.concatenate([_road(256)] * 2))
    model.eval()
    with torch.no_grad():
        before = model.model[:11](batch)
    # WHEN its batch norms are calibrated on real car photos
    used = calibrate_batchnorm(model, norms, photos, 256)
    # THEN every folded batch norm was set, from every photo, and inference computes the same function
    assert used == len(photos) == 20
    assert len(norms) == 40  # the 40 convolutions of layers 0..10
    with torch.no_grad():
        after = model.model[:11](batch)
        assert float((after - before).abs().max()) < 1e-2 * float(before.abs().max())
        # AND training mode (batch statistics) stays close to it: the channels are not rescaled
        model.train()
        cars = torch.from_numpy(np.concatenate([_road(256)] + [_input(p, 256) for p in photos[:15]]))
        trained = model.model[:11](cars)
        model.eval()
        served = model.model[:11](cars)
    assert float((trained - served).norm() / served.norm()) < 0.2


def test_without_calibration_training_mode_would_rescale_the_channels() -> None:
    # GIVEN the same network, batch norm folded and not calibrated (the reason calibration exists)
    model, _ = _folded_classifier()
    cars = torch.from_numpy(
        np.concatenate([_input(p, 256) for p in sorted((shared_data() / "cars").glob("*.jpg"))[:16]])
    )
    # WHEN it runs in training and in inference mode
    with torch.no_grad():
        model.train()
        trained = model.model[:11](cars)
        model.eval()
        served = model.model[:11](cars)
    # THEN the two differ by more than the signal
    assert float((trained - served).norm() / served.norm()) > 0.5


def test_a_skill_starts_from_the_detector_folder_with_its_backbone_and_calibrated_bn(
    tmp_path: Path,
) -> None:
    # GIVEN a config naming the detector's IR folder as the start, layers 0..10 (its whole backbone)
    network = NetworkConfig(model="yolo11n-cls.yaml", pretrained=IR, pretrained_layers=11)
    photos = sorted((shared_data() / "cars").glob("*.jpg"))[:8]
    # WHEN a 4-class skill is initialised from it
    report = build_initial_checkpoint(
        network, list("abcd"), shared_models(), tmp_path / "init.pt", photos, 160
    )
    # THEN the 11 layers' tensors come from the IR and its batch norms were calibrated on the photos
    assert report.layers == 11 and report.tensors_loaded == 200
    assert report.calibration_images == 8
    child: Any = torch.load(tmp_path / "init.pt", weights_only=False)["model"]
    stem = folded_convolutions(_xml())["model.0.conv"][0]
    assert torch.equal(child.model[0].conv.weight, torch.from_numpy(stem))
    assert not torch.equal(child.model[0].bn.running_var, torch.ones(16) - 1e-3)


def test_a_start_from_the_ir_without_calibration_images_is_refused_by_name(tmp_path: Path) -> None:
    # GIVEN a config naming the detector's IR folder, and no training crops to calibrate on
    network = NetworkConfig(model="yolo11n-cls.yaml", pretrained=IR, pretrained_layers=11)
    # WHEN a skill is initialised from it
    # THEN it is refused, naming what is missing, and no checkpoint is written
    with pytest.raises(ValueError, match="need calibration images"):
        build_initial_checkpoint(network, list("abcd"), shared_models(), tmp_path / "init.pt")
    assert not (tmp_path / "init.pt").exists()


def test_a_folder_without_the_ir_weights_file_is_not_taken_for_an_ir(tmp_path: Path) -> None:
    # GIVEN a folder with an .xml but no .bin beside it
    (tmp_path / "model.xml").write_text("<net/>")
    # WHEN it is asked for its IR
    # THEN there is none (a start named after it is then "not found", as any missing file)
    assert ir_file(tmp_path) is None
