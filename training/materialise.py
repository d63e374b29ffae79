"""Turns a data file + a folder of crops into the folder layout Ultralytics trains from.

`<work>/<split>/<class>/<crop id>[-copy].<ext>`: hard links where possible (copies otherwise);
an oversampled example appears `copies` times. The crops folder holds the crops under their S3
keys: a SageMaker ManifestFile channel, or the local download of the same keys.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pydantic import BaseModel

from functions.core.dataset.build import DataFile
from functions.core.dataset.split import SPLIT_ORDER, Split


class Materialised(BaseModel):
    root: str
    counts: dict[str, dict[str, int]]
    val_source: str


def crop_path(crops_root: Path, uri: str) -> Path:
    if not uri.startswith("s3://") or uri.count("/") < 3:
        raise ValueError(f"not an s3:// URI of a crop: {uri!r}")
    return crops_root / uri.split("/", 3)[3]


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def materialise(data: DataFile, crops_root: Path, work: Path) -> Materialised:
    """Lay out every split; a missing crop fails with its URI. An empty val split uses the test split."""
    if work.exists():
        shutil.rmtree(work)
    counts: dict[str, dict[str, int]] = {}
    for split in SPLIT_ORDER:
        counts[split.value] = {}
        for name in data.classes:
            folder = work / split.value / name
            folder.mkdir(parents=True, exist_ok=True)
            n = 0
            class_list = data.splits.get(split.value, {}).get(name)
            for entry in class_list.entries() if class_list else ():
                source = crop_path(crops_root, entry.uri)
                if not source.is_file():
                    raise FileNotFoundError(f"crop {entry.uri} is not in {crops_root} (expected {source})")
                for copy in range(entry.copies):
                    suffix = f"-{copy}" if copy else ""
                    _link(source, folder / f"{entry.crop_id}{suffix}{source.suffix or '.jpg'}")
                    n += 1
            counts[split.value][name] = n
    if sum(counts[Split.TRAIN.value].values()) == 0:
        classes = ", ".join(data.classes) or "none (every class was left out of the data set)"
        raise ValueError(f"data set {data.dataset_version} has no training examples; classes: {classes}")
    val_source = Split.VAL.value
    if sum(counts[Split.VAL.value].values()) == 0:
        shutil.rmtree(work / Split.VAL.value)
        val_source = Split.TEST.value  # Ultralytics validates on test when there is no val folder
    return Materialised(root=str(work), counts=counts, val_source=val_source)
