"""A data file + a crops folder → the split/class folder layout Ultralytics trains from."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from functions.core.dataset.build import ClassList, DataFile
from training.materialise import materialise


def _crops(root: Path, names: list[str]) -> None:
    for name in names:
        path = root / "crops" / f"{name}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"jpeg " + name.encode())


def _class_list(names: list[str], copies: int = 1) -> ClassList:
    return ClassList(
        crop_ids=names,
        image_ids=names,
        group_ids=names,
        uris=[f"s3://bucket/crops/{n}.jpg" for n in names],
        copies=[copies] * len(names),
    )


def test_every_split_is_laid_out_by_class_with_oversampled_copies(tmp_path: Path) -> None:
    # GIVEN two classes, one oversampled twice, a val and a test example
    _crops(tmp_path, ["a1", "b1", "a2", "b2"])
    data = DataFile(
        dataset_version="v1",
        classes=["A", "B"],
        splits={
            "train": {"A": _class_list(["a1"]), "B": _class_list(["b1"], copies=2)},
            "val": {"A": _class_list(["a2"])},
            "test": {"B": _class_list(["b2"])},
        },
    )
    # WHEN materialised
    done = materialise(data, tmp_path, tmp_path / "work")
    # THEN each example sits in its split/class folder, as often as its copies say
    assert done.counts == {"train": {"A": 1, "B": 2}, "val": {"A": 1, "B": 0}, "test": {"A": 0, "B": 1}}
    assert sorted(p.name for p in (tmp_path / "work" / "train" / "B").iterdir()) == ["b1-1.jpg", "b1.jpg"]
    assert (tmp_path / "work" / "val" / "A" / "a2.jpg").read_bytes() == b"jpeg a2"
    assert done.val_source == "val"


def test_an_empty_val_split_validates_on_test(tmp_path: Path) -> None:
    # GIVEN training and test examples but no validation ones
    _crops(tmp_path, ["a1", "a2"])
    data = DataFile(
        dataset_version="v1",
        classes=["A"],
        splits={"train": {"A": _class_list(["a1"])}, "test": {"A": _class_list(["a2"])}},
    )
    # WHEN materialised
    done = materialise(data, tmp_path, tmp_path / "work")
    # THEN there is no val folder and validation reads the test split
    assert not (tmp_path / "work" / "val").exists()
    assert done.val_source == "test"


def test_a_data_set_without_classes_is_refused_by_name(tmp_path: Path) -> None:
    # GIVEN a data file whose classes were all left out (too few crops each)
    data = DataFile(dataset_version="v-empty", classes=[], splits={})
    # WHEN / THEN materialising says there is nothing to train on, and why
    with pytest.raises(ValueError, match="v-empty has no training examples; classes: none"):
        materialise(data, tmp_path, tmp_path / "work")


def test_a_missing_crop_fails_with_its_uri(tmp_path: Path) -> None:
    # GIVEN a data file naming a crop that is not in the crops folder
    data = DataFile(dataset_version="v1", classes=["A"], splits={"train": {"A": _class_list(["gone"])}})
    # WHEN / THEN the error names the crop's URI
    with pytest.raises(FileNotFoundError, match=re.escape("s3://bucket/crops/gone.jpg")):
        materialise(data, tmp_path, tmp_path / "work")
