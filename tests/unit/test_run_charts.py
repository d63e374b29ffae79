"""The pictures of a training run: training curves and data-set statistics, as PNGs next to the model."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from functions.core.dataset.build import ClassList, DataFile
from training.charts import dataset_statistics, write_run_charts


def data_file(crops_root: Path) -> DataFile:
    splits: dict[str, dict[str, ClassList]] = {}
    for split, per_class in (("train", 3), ("test", 1)):
        for label, size in (("audi", (120, 80)), ("bmw", (60, 40))):
            lists = splits.setdefault(split, {}).setdefault(label, ClassList())
            for n in range(per_class):
                key = f"crops/{label}-{split}-{n}/00.jpg"
                (crops_root / key).parent.mkdir(parents=True, exist_ok=True)
                Image.new("RGB", size, (90, 90, 90)).save(crops_root / key)
                lists.crop_ids.append(f"{label}-{split}-{n}")
                lists.image_ids.append(f"{label}-{split}-{n}")
                lists.group_ids.append(f"g-{label}-{n % 2}")
                lists.uris.append(f"s3://crops-bucket/{key}")
                lists.copies.append(2 if split == "train" and label == "bmw" else 1)
    return DataFile(dataset_version="ds1", classes=["audi", "bmw"], splits=splits)


def test_statistics_count_examples_groups_and_crop_sizes(tmp_path: Path) -> None:
    # GIVEN a data file whose bmw training examples are oversampled twice
    stats = dataset_statistics(data_file(tmp_path), tmp_path)
    # THEN examples count the copies, groups are distinct adverts, and every crop's size is read
    assert stats["examples"] == {"train": {"audi": 3, "bmw": 6}, "test": {"audi": 1, "bmw": 1}}
    assert stats["groups_per_class"] == {"audi": 2, "bmw": 2}
    assert sorted(set(stats["crop_sizes"])) == [(60, 40), (120, 80)] and len(stats["crop_sizes"]) == 8


def test_run_charts_are_written_as_pngs(tmp_path: Path) -> None:
    # GIVEN two epochs of history and the data file
    history = [
        {"epoch": 1, "seconds": 1.0, "train_loss": 1.2, "val_top1": 0.4, "val_top5": 1.0},
        {"epoch": 2, "seconds": 1.0, "train_loss": 0.8, "val_top1": 0.7, "val_top5": 1.0},
    ]
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    # WHEN the run's pictures are written
    files = write_run_charts(history, data_file(tmp_path / "crops"), tmp_path / "crops", model_dir)
    # THEN both are real PNG pictures in the model folder
    assert files == {"training_curves": "training-curves.png", "dataset": "dataset.png"}
    for name in files.values():
        with Image.open(model_dir / name) as picture:
            assert picture.format == "PNG" and picture.width > 600
