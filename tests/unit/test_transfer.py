"""Transfer learning starts from the backbone of any Ultralytics checkpoint, mid-training ones included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from training.config import NetworkConfig
from training.transfer import build_initial_checkpoint, resolve_network, resolve_weights


def _trained_skill_checkpoint(path: Path, classes: int, names: list[str] | None = None) -> Any:
    from ultralytics.nn.tasks import ClassificationModel

    model = ClassificationModel(resolve_network("yolov5n-cls.yaml"), nc=classes, verbose=False)  # type: ignore[no-untyped-call]
    model.names = dict(enumerate(names or [f"parent-{i}" for i in range(classes)]))
    torch.nn.init.normal_(model.model[0].conv.weight)  # not what a fresh network starts with
    torch.nn.init.normal_(model.model[-1].linear.weight)
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
    child: Any = torch.load(tmp_path / "init.pt", weights_only=False)["model"]
    assert report.layers == 10
    assert torch.equal(child.model[0].conv.weight, parent.model[0].conv.weight)
    assert child.model[-1].linear.out_features == 14


def _child(
    tmp_path: Path, parent: Path, classes: list[str], layers: int = 11, seed: int = 0, name: str = "init.pt"
) -> tuple[Any, Any]:
    network = NetworkConfig(model="yolov5n-cls.yaml", pretrained=str(parent), pretrained_layers=layers)
    report = build_initial_checkpoint(network, classes, None, tmp_path / name, seed=seed)
    return report, torch.load(tmp_path / name, weights_only=False)["model"]


def test_a_child_skill_starts_with_its_parents_classifier_rows_for_the_same_classes(tmp_path: Path) -> None:
    # GIVEN the all-models skill's checkpoint (4 models of 2 makes)
    names = ["audi-a4", "bmw-x5", "audi-tt", "bmw-m3"]
    parent = _trained_skill_checkpoint(tmp_path / "best.pt", classes=4, names=names)
    # WHEN one make's skill (its 2 models, in its own order) takes layers 0..10, the head included
    report, child = _child(tmp_path, tmp_path / "best.pt", ["audi-tt", "audi-a4"])
    # THEN its classifier rows are the parent's rows of those class names
    assert report.head_rows == 2
    assert torch.equal(child.model[-1].linear.weight, parent.model[-1].linear.weight[[2, 0]])
    assert torch.equal(child.model[-1].linear.bias, parent.model[-1].linear.bias[[2, 0]])
    # AND the head's own convolution comes from the parent too
    assert torch.equal(child.model[-1].conv.conv.weight, parent.model[-1].conv.conv.weight)


def test_a_classifier_with_other_class_names_gives_no_rows_even_when_the_shape_fits(tmp_path: Path) -> None:
    # GIVEN a 2-class parent whose classes are not the child's
    parent = _trained_skill_checkpoint(tmp_path / "best.pt", classes=2, names=["cat", "dog"])
    # WHEN a 2-class child takes layers 0..10 from it
    report, child = _child(tmp_path, tmp_path / "best.pt", ["audi-tt", "audi-a4"])
    # THEN the backbone is the parent's but the classifier rows are the child's own
    assert report.head_rows == 0
    assert torch.equal(child.model[0].conv.weight, parent.model[0].conv.weight)
    assert not torch.equal(child.model[-1].linear.weight, parent.model[-1].linear.weight)


def _fresh_head(tmp_path: Path, name: str, seed: int) -> Any:
    parent = tmp_path / "parent.pt"
    if not parent.exists():
        _trained_skill_checkpoint(parent, classes=4)
    _, child = _child(tmp_path, parent, ["audi", "bmw", "chevrolet"], layers=10, seed=seed, name=name)
    return child.model[-1]


def test_a_new_head_starts_the_same_for_the_same_seed_whatever_ran_before(tmp_path: Path) -> None:
    # GIVEN a skill whose backbone comes from a parent and whose 3-class head starts fresh
    torch.manual_seed(1)
    first = _fresh_head(tmp_path, "a.pt", seed=0)
    # WHEN it is built again with the same seed after other code drew from the global generator
    torch.rand(1000)
    before = torch.get_rng_state()
    second = _fresh_head(tmp_path, "b.pt", seed=0)
    # THEN the head starts with the same weights (a rerun of a config trains from the same start)
    assert torch.equal(first.linear.weight, second.linear.weight)
    assert torch.equal(first.conv.conv.weight, second.conv.conv.weight)
    # AND the global generator is left as it was
    assert torch.equal(torch.get_rng_state(), before)


def test_another_seed_starts_the_new_head_elsewhere(tmp_path: Path) -> None:
    # GIVEN the same skill
    # WHEN it is built with seeds 0 and 1
    zero, one = _fresh_head(tmp_path, "a.pt", seed=0), _fresh_head(tmp_path, "b.pt", seed=1)
    # THEN the fresh heads differ: the seed, not the process, decides the start
    assert not torch.equal(zero.linear.weight, one.linear.weight)


def test_a_skill_start_resolves_to_the_newest_version_of_that_skill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.tiny_skill import build_tiny_skill

    # GIVEN versions 1 and 3 of car-model in the skill folders
    for version in (1, 3):
        build_tiny_skill(tmp_path / "skills" / f"car-model-{version}", "car-model", version, steps=1)
    monkeypatch.setenv("SKILLFORGE_SKILLS_DIR", str(tmp_path / "skills"))
    # WHEN `skill:car-model` is resolved
    weights = resolve_weights("skill:car-model", None)
    # THEN it is version 3's weights file
    assert weights == tmp_path / "skills" / "car-model-3" / "weights.pt"


def test_a_skill_folder_linked_into_the_skills_dir_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.tiny_skill import build_tiny_skill

    # GIVEN car-model's version folders kept elsewhere and linked into the skills folder
    build_tiny_skill(tmp_path / "elsewhere" / "v000002", "car-model", 2, steps=1)
    (tmp_path / "skills").mkdir()
    (tmp_path / "skills" / "car-model").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    monkeypatch.setenv("SKILLFORGE_SKILLS_DIR", str(tmp_path / "skills"))
    # WHEN `skill:car-model` is resolved
    weights = resolve_weights("skill:car-model", None)
    # THEN it is the linked version's weights file, reached through the link
    assert weights == tmp_path / "skills" / "car-model" / "v000002" / "weights.pt"


def test_a_skill_start_without_a_trained_version_names_the_skill_and_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN no trained version of car-model
    monkeypatch.setenv("SKILLFORGE_SKILLS_DIR", str(tmp_path))
    # WHEN `skill:car-model` is resolved THEN the error names it and says to train it first
    with pytest.raises(FileNotFoundError, match=r"skill:car-model.*train car-model first"):
        resolve_weights("skill:car-model", None)


def test_pretrained_names_resolve_in_the_models_folder_only_when_one_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from training.transfer import models_folder

    # GIVEN SKILLFORGE_MODELS_DIR set, then unset
    monkeypatch.setenv("SKILLFORGE_MODELS_DIR", str(tmp_path))
    # WHEN the models folder is asked for
    # THEN it is that folder, and none without it
    assert models_folder() == tmp_path
    monkeypatch.delenv("SKILLFORGE_MODELS_DIR")
    assert models_folder() is None
