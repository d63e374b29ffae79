"""Dataset extraction: verified crops → a versioned, group-split, balanced training data set (pure).

Input is a column table of verified crops (one row per crop) plus the persisted group splits;
output is the data file (train/val/test lists per class), the definition file (files per class),
the report (excluded classes, balance before/after) and a content hash = the dataset version.
Everything is vectorised so a million records take seconds; I/O lives in dataset_io.py.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field

from functions.core.balance import BalanceReport, balance_copies
from functions.core.dataset_spec import DatasetSpec
from functions.core.models import CropRecord
from functions.core.split import SPLIT_ORDER, Split, SplitPolicy, resolve_group_splits

DATA_FILE = "data.json"
DEFINITION_FILE = "definition.json"
MANIFEST_FILE = "manifest.json"
CROPS_MANIFEST_FILE = "crops.manifest"


@dataclass
class RecordTable:
    """Columns of the verified crops an extraction reads (label = the verified class of the crop)."""

    crop_ids: list[str] = field(default_factory=list)
    image_ids: list[str] = field(default_factory=list)
    group_ids: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    buckets: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.crop_ids)

    def append(self, crop_id: str, image_id: str, group_id: str, label: str, bucket: str, key: str) -> None:
        self.crop_ids.append(crop_id)
        self.image_ids.append(image_id)
        self.group_ids.append(group_id)
        self.labels.append(label)
        self.buckets.append(bucket)
        self.keys.append(key)

    @classmethod
    def from_crops(cls, crops: Iterable[CropRecord]) -> RecordTable:
        """Verified crops: the expert's class, or the upload's hint when review accepted it unchanged."""
        table = cls()
        for crop in crops:
            label = crop.final_class or crop.variant_hint
            if not label:
                raise ValueError(f"verified crop {crop.crop_id} has neither final_class nor variant_hint")
            table.append(crop.crop_id, crop.image_id, crop.group_id, label, crop.crop_bucket, crop.crop_key)
        return table


class Entry(BaseModel):
    crop_id: str
    image_id: str
    group_id: str
    uri: str
    copies: int = Field(default=1, ge=1, description="times the example is used (oversampling)")


class DataFile(BaseModel):
    """train/val/test lists per class; the training job reads only this (and the crops it names)."""

    dataset_version: str
    classes: list[str]
    splits: dict[str, dict[str, list[Entry]]]

    def entries(self, split: Split) -> Iterable[tuple[str, Entry]]:
        for name, entries in self.splits.get(split.value, {}).items():
            for entry in entries:
                yield name, entry


class ExtractionReport(BaseModel):
    records_read: int
    records_matched: int = Field(description="verified crops that belong to one of the skill's classes")
    min_images_per_class: int
    images_per_class: dict[str, int]
    excluded_classes: dict[str, int] = Field(description="left out for having fewer images than the minimum")
    split_counts: dict[str, dict[str, int]] = Field(description="unique crops per split per class")
    groups: dict[str, int] = Field(description="groups per split")
    new_group_assignments: int
    balance: BalanceReport


class Extraction(BaseModel):
    dataset_version: str
    content_sha256: str
    data: DataFile
    report: ExtractionReport
    policy: SplitPolicy

    def definition(self) -> dict[str, Any]:
        """The definition file: every file of every class (all splits), for people and other tools."""
        files: dict[str, list[str]] = {name: [] for name in self.data.classes}
        for split in SPLIT_ORDER:
            for name, entry in self.data.entries(split):
                files[name].append(entry.uri)
        return {"dataset_version": self.dataset_version, "classes": {k: sorted(v) for k, v in files.items()}}

    def sagemaker_manifest(self) -> list[Any]:
        """A SageMaker ManifestFile channel: the crops' common bucket prefix and their keys."""
        uris = sorted({entry.uri for split in SPLIT_ORDER for _, entry in self.data.entries(split)})
        buckets = {uri.split("/", 3)[2] for uri in uris}
        if len(buckets) > 1:
            raise ValueError(f"crops come from several buckets {sorted(buckets)}; one is expected")
        if not uris:
            return []
        bucket = buckets.pop()
        return [{"prefix": f"s3://{bucket}/"}, *(uri.split("/", 3)[3] for uri in uris)]


def content_hash(data: DataFile) -> str:
    """sha256 of the data set's content: classes and every (split, class, crop, uri, copies) row."""
    digest = hashlib.sha256()
    digest.update(("classes\t" + "\t".join(data.classes) + "\n").encode("utf-8"))
    for split in SPLIT_ORDER:
        rows = sorted(
            f"{split.value}\t{name}\t{e.crop_id}\t{e.uri}\t{e.copies}\n" for name, e in data.entries(split)
        )
        digest.update("".join(rows).encode("utf-8"))
    return digest.hexdigest()


def extract(
    table: RecordTable, spec: DatasetSpec, existing_splits: Mapping[str, str], salt: str
) -> tuple[Extraction, dict[str, Split]]:
    """The data set of `spec` from the verified crops, and the new group assignments to persist."""
    policy = SplitPolicy(test_fraction=spec.test_fraction, val_fraction=spec.val_fraction, salt=salt)
    label_to_class = {label: spec.class_of(label) for label in set(table.labels)}
    matched = np.fromiter(
        (label_to_class[label] is not None for label in table.labels), dtype=bool, count=len(table)
    )
    idx = np.flatnonzero(matched)
    class_per_row = [label_to_class[table.labels[i]] or "" for i in idx]
    totals = Counter(class_per_row)
    wanted = [c.name for c in spec.classes] if spec.classes else sorted(totals)
    excluded = {name: totals.get(name, 0) for name in wanted if totals.get(name, 0) < spec.min_images_per_class}
    classes = [name for name in wanted if name not in excluded]
    code_of = {name: i for i, name in enumerate(classes)}
    keep = np.fromiter((c in code_of for c in class_per_row), dtype=bool, count=len(idx))
    idx = idx[keep]
    codes = np.fromiter(
        (code_of[c] for c, k in zip(class_per_row, keep, strict=True) if k), dtype=np.intp, count=len(idx)
    )

    group_ids = [table.group_ids[i] for i in idx]
    resolved, new = resolve_group_splits(group_ids, existing_splits, policy)
    split_code = {s: i for i, s in enumerate(SPLIT_ORDER)}
    splits = np.fromiter((split_code[resolved[g]] for g in group_ids), dtype=np.int8, count=len(idx))

    train = splits == 0
    crop_ids = table.crop_ids
    copies = np.ones(len(idx), dtype=np.int32)
    train_copies, balance = balance_copies(
        codes[train], [crop_ids[i] for i in idx[train]], classes, spec.balance
    )
    copies[train] = train_copies

    data = _data_file(table, idx, codes, splits, copies, classes)
    sha = content_hash(data)
    data.dataset_version = sha[:16]
    split_counts = {
        split.value: {name: len(data.splits[split.value][name]) for name in classes} for split in SPLIT_ORDER
    }
    groups_per_split = Counter(resolved[g].value for g in set(group_ids))
    report = ExtractionReport(
        records_read=len(table),
        records_matched=int(matched.sum()),
        min_images_per_class=spec.min_images_per_class,
        images_per_class={name: totals.get(name, 0) for name in wanted},
        excluded_classes=excluded,
        split_counts=split_counts,
        groups={split.value: groups_per_split.get(split.value, 0) for split in SPLIT_ORDER},
        new_group_assignments=len(new),
        balance=balance,
    )
    extraction = Extraction(
        dataset_version=data.dataset_version, content_sha256=sha, data=data, report=report, policy=policy
    )
    return extraction, new


def _data_file(
    table: RecordTable,
    idx: npt.NDArray[np.intp],
    codes: npt.NDArray[np.intp],
    splits: npt.NDArray[np.int8],
    copies: npt.NDArray[np.int32],
    classes: list[str],
) -> DataFile:
    lists: dict[str, dict[str, list[Entry]]] = {s.value: {c: [] for c in classes} for s in SPLIT_ORDER}
    for row, code, split, n in zip(idx.tolist(), codes.tolist(), splits.tolist(), copies.tolist(), strict=True):
        if n == 0:
            continue
        lists[SPLIT_ORDER[split].value][classes[code]].append(
            Entry.model_construct(
                crop_id=table.crop_ids[row],
                image_id=table.image_ids[row],
                group_id=table.group_ids[row],
                uri=f"s3://{table.buckets[row]}/{table.keys[row]}",
                copies=n,
            )
        )
    for per_class in lists.values():
        for entries in per_class.values():
            entries.sort(key=lambda e: e.crop_id)
    return DataFile.model_construct(dataset_version="", classes=classes, splits=lists)
