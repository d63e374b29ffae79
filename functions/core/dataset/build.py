"""Dataset extraction: verified crops → a versioned, group-split, balanced training data set (pure).

Input is a column table of verified crops (one row per crop) plus the persisted group splits;
output is the data file (train/val/test lists per class), the definition file (files per class),
the report (excluded classes, balance before/after) and a content hash = the dataset version.
Everything is vectorised so a million records take seconds; I/O lives in dataset_io.py.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field

from functions.core.base.records import CropRecord
from functions.core.dataset.balance import BalanceReport, balance_copies
from functions.core.dataset.spec import DatasetSpec
from functions.core.dataset.split import SPLIT_ORDER, Split, SplitPolicy, group_hashes, resolve_group_splits
from functions.core.quality.screen import DataQualityReport

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
    # what the crop shows: the photo's content hash and the crop's index ("" when unknown)
    content_keys: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.crop_ids)

    def append(
        self, crop_id: str, image_id: str, group_id: str, label: str, bucket: str, key: str, content: str = ""
    ) -> None:
        self.content_keys.append(content)
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
            content = f"{crop.content_sha256}#{crop.index}" if crop.content_sha256 else ""
            table.append(
                crop.crop_id, crop.image_id, crop.group_id, label, crop.crop_bucket, crop.crop_key, content
            )
        return table


class Entry(BaseModel):
    crop_id: str
    image_id: str
    group_id: str
    uri: str
    copies: int = Field(default=1, ge=1, description="times the example is used (oversampling)")


class ClassList(BaseModel):
    """The examples of one class in one split, as columns (compact JSON, fast to build), sorted by crop id."""

    crop_ids: list[str] = Field(default_factory=list)
    image_ids: list[str] = Field(default_factory=list)
    group_ids: list[str] = Field(default_factory=list)
    uris: list[str] = Field(default_factory=list)
    copies: list[int] = Field(default_factory=list)

    def __len__(self) -> int:
        return len(self.crop_ids)

    def entries(self) -> Iterator[Entry]:
        for crop, image, group, uri, n in zip(
            self.crop_ids, self.image_ids, self.group_ids, self.uris, self.copies, strict=True
        ):
            yield Entry.model_construct(crop_id=crop, image_id=image, group_id=group, uri=uri, copies=n)

    def examples(self) -> int:
        return sum(self.copies)


class DataFile(BaseModel):
    """train/val/test lists per class; the training job reads only this (and the crops it names)."""

    dataset_version: str
    classes: list[str]
    splits: dict[str, dict[str, ClassList]]

    def entries(self, split: Split) -> Iterator[tuple[str, Entry]]:
        for name, class_list in self.splits.get(split.value, {}).items():
            for entry in class_list.entries():
                yield name, entry


class ExtractionReport(BaseModel):
    records_read: int
    records_matched: int = Field(description="verified crops that belong to one of the skill's classes")
    min_images_per_class: int
    images_per_class: dict[str, int]
    excluded_classes: dict[str, int] = Field(description="classes left out, with their verified image counts")
    exclusion_reasons: dict[str, str] = Field(default_factory=dict, description="why each class was left out")
    conflicting_duplicates: dict[str, list[str]] = Field(
        default_factory=dict,
        description="byte-identical crops verified under different classes: left out, to be reviewed",
    )
    duplicates_dropped: int = Field(default=0, description="extra copies of byte-identical crops, same class")
    split_counts: dict[str, dict[str, int]] = Field(description="unique crops per split per class")
    groups: dict[str, int] = Field(description="groups per split")
    new_group_assignments: int
    balance: BalanceReport
    data_quality: DataQualityReport | None = Field(
        default=None, description="near-duplicates kept out, quality flags, label-noise candidates"
    )


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
    """sha256 of the data set's content: classes and, per split and class, every crop, URI and copy count."""
    digest = hashlib.sha256()
    digest.update(("classes\x00" + "\x00".join(data.classes) + "\n").encode("utf-8"))
    for split in SPLIT_ORDER:
        for name in data.classes:
            rows = data.splits.get(split.value, {}).get(name) or ClassList()
            digest.update(f"{split.value}\x00{name}\x00{len(rows)}\n".encode())
            digest.update("\x00".join(rows.crop_ids).encode("utf-8"))
            digest.update("\x00".join(rows.uris).encode("utf-8"))
            digest.update(np.asarray(rows.copies, dtype="<i4").tobytes())
    return digest.hexdigest()


def factorize(values: Sequence[str]) -> tuple[list[str], npt.NDArray[np.intp]]:
    """(distinct values in first-seen order, code of each value): a dict pass, no sort."""
    distinct = list(dict.fromkeys(values))
    index = {v: i for i, v in enumerate(distinct)}
    codes = np.fromiter(map(index.__getitem__, values), dtype=np.intp, count=len(values))
    return distinct, codes


def extract(
    table: RecordTable, spec: DatasetSpec, existing_splits: Mapping[str, str], salt: str
) -> tuple[Extraction, dict[str, Split]]:
    """The data set of `spec` from the verified crops, and the new group assignments to persist."""
    policy = spec.split_policy(salt)
    labels, label_codes = factorize(table.labels)
    label_class = [spec.class_of(label) for label in labels]
    totals_by_label = np.bincount(label_codes, minlength=len(labels))
    totals: Counter[str] = Counter()
    for name, count in zip(label_class, totals_by_label.tolist(), strict=True):
        if name is not None:
            totals[name] += count
    wanted = [c.name for c in spec.classes] if spec.classes else sorted(totals)
    excluded = {
        name: totals.get(name, 0) for name in wanted if totals.get(name, 0) < spec.min_images_per_class
    }
    classes = [name for name in wanted if name not in excluded]
    code_of = {name: i for i, name in enumerate(classes)}
    class_of_label = np.asarray([code_of.get(name or "", -1) for name in label_class] or [-1], dtype=np.intp)
    row_class = class_of_label[label_codes] if len(table) else np.zeros(0, dtype=np.intp)
    matched = int(sum(c for name, c in zip(label_class, totals_by_label.tolist(), strict=True) if name))
    idx = np.flatnonzero(row_class >= 0)
    unique, conflicts = _unique_contents(_column(table.content_keys)[idx].tolist(), row_class[idx], classes)
    duplicates_dropped = int((~unique).sum()) - sum(len(c) for c in conflicts.values())
    idx = idx[unique]
    codes = row_class[idx]

    groups, group_codes = factorize(_column(table.group_ids)[idx].tolist())
    resolved, new = resolve_group_splits(groups, existing_splits, policy)
    split_code = {s: i for i, s in enumerate(SPLIT_ORDER)}
    group_split = np.asarray([split_code[resolved[g]] for g in groups], dtype=np.int8)
    if policy.val_fraction > 0 and len(groups):
        for g in val_for_every_class(groups, group_codes, codes, group_split, new, policy.salt):
            group_split[g] = split_code[Split.VAL]
            new[groups[g]] = Split.VAL
    splits = group_split[group_codes] if len(groups) else np.zeros(0, dtype=np.int8)

    reasons = {
        name: f"{n} verified images < min_images_per_class {spec.min_images_per_class}"
        for name, n in excluded.items()
    }
    train_counts = np.bincount(codes[splits == 0], minlength=len(classes))
    if classes and (train_counts == 0).any():  # every image of the class fell on val/test groups
        kept_class = train_counts > 0
        for i in np.flatnonzero(~kept_class).tolist():
            excluded[classes[i]] = totals.get(classes[i], 0)
            reasons[classes[i]] = "no training example: all its groups are on the val/test side"
        remap = np.cumsum(kept_class) - 1
        rows_kept = kept_class[codes]
        idx, codes, splits, group_codes = (
            idx[rows_kept],
            remap[codes[rows_kept]],
            splits[rows_kept],
            group_codes[rows_kept],
        )
        classes = [name for name, keep in zip(classes, kept_class.tolist(), strict=True) if keep]

    train = splits == 0
    copies = np.ones(len(idx), dtype=np.int32)
    train_rows = idx[train]
    train_copies, balance = balance_copies(
        codes[train], _column(table.crop_ids)[train_rows].tolist(), classes, spec.balance
    )
    copies[train] = train_copies

    data = _data_file(table, idx, codes, splits, copies, classes)
    sha = content_hash(data)
    data.dataset_version = sha[:16]
    split_counts = {
        split.value: {name: len(data.splits[split.value][name]) for name in classes} for split in SPLIT_ORDER
    }
    used_groups = np.unique(group_codes) if len(group_codes) else np.zeros(0, dtype=np.intp)
    groups_per_split = np.bincount(group_split[used_groups], minlength=len(SPLIT_ORDER)).tolist()
    report = ExtractionReport(
        records_read=len(table),
        records_matched=matched,
        min_images_per_class=spec.min_images_per_class,
        images_per_class={name: totals.get(name, 0) for name in wanted},
        excluded_classes=excluded,
        exclusion_reasons=reasons,
        conflicting_duplicates=conflicts,
        duplicates_dropped=duplicates_dropped,
        split_counts=split_counts,
        groups={split.value: groups_per_split[i] for i, split in enumerate(SPLIT_ORDER)},
        new_group_assignments=len(new),
        balance=balance,
    )
    extraction = Extraction(
        dataset_version=data.dataset_version, content_sha256=sha, data=data, report=report, policy=policy
    )
    return extraction, new


def val_for_every_class(
    groups: Sequence[str],
    group_codes: npt.NDArray[np.intp],
    codes: npt.NDArray[np.intp],
    group_split: npt.NDArray[np.int8],
    new: Mapping[str, Split],
    salt: str,
) -> list[int]:
    """Groups to move from train to val so that every class can be validated on.

    A class whose groups all fell on train (and test) by the hash gets its train group with the lowest
    hash moved to val, when it has at least two train groups and that group is newly assigned in this
    extraction (a persisted assignment never moves).
    """
    moved: list[int] = []
    row_split = group_split[group_codes]
    for c in np.unique(codes).tolist():
        mine = codes == c
        if (row_split[mine] == 1).any():
            continue
        train_groups = np.unique(group_codes[mine & (row_split == 0)])
        movable = [int(g) for g in train_groups.tolist() if groups[g] in new and int(g) not in moved]
        if len(train_groups) < 2 or not movable:
            continue
        hashes = group_hashes([groups[g] for g in movable], salt)
        chosen = movable[int(np.argmin(hashes))]
        moved.append(chosen)
        row_split = np.where(group_codes == chosen, np.int8(1), row_split)
    return moved


def _unique_contents(
    contents: Sequence[str], codes: npt.NDArray[np.intp], classes: Sequence[str]
) -> tuple[npt.NDArray[np.bool_], dict[str, list[str]]]:
    """Which rows to keep: one row per content (the first), and none where copies disagree on the class.

    Byte-identical photos under two labels would train the network on both sides of one question (and a
    copy on each side of the split would leak test into train); the conflicts are reported for review.
    """
    keep = np.ones(len(contents), dtype=np.bool_)
    first: dict[str, int] = {}
    rows_of: dict[str, list[int]] = {}
    for row, content in enumerate(contents):
        if not content:
            continue
        if content in first:
            keep[row] = False
        else:
            first[content] = row
        rows_of.setdefault(content, []).append(row)
    conflicts: dict[str, list[str]] = {}
    for content, rows in rows_of.items():
        names = sorted({classes[int(codes[row])] for row in rows})
        if len(names) > 1:
            conflicts[content] = names
            keep[rows] = False
    return keep, conflicts


def _column(values: Sequence[str]) -> npt.NDArray[np.object_]:
    column = np.empty(len(values), dtype=object)
    column[:] = values
    return column


def _data_file(
    table: RecordTable,
    idx: npt.NDArray[np.intp],
    codes: npt.NDArray[np.intp],
    splits: npt.NDArray[np.int8],
    copies: npt.NDArray[np.int32],
    classes: list[str],
) -> DataFile:
    used = copies > 0
    rows, codes, splits, copies = idx[used], codes[used], splits[used], copies[used]
    crop_ids, image_ids, group_ids = (
        _column(table.crop_ids),
        _column(table.image_ids),
        _column(table.group_ids),
    )
    uris = "s3://" + _column(table.buckets) + "/" + _column(table.keys) if len(table) else _column([])
    by_crop = np.argsort(crop_ids[rows], kind="stable")
    order = by_crop[np.lexsort((codes[by_crop], splits[by_crop]))]  # split, class, then crop id
    rows, codes, splits, copies = rows[order], codes[order], splits[order], copies[order]
    lists: dict[str, dict[str, ClassList]] = {s.value: {c: ClassList() for c in classes} for s in SPLIT_ORDER}
    keys = splits.astype(np.int64) * max(1, len(classes)) + codes
    bounds = np.flatnonzero(np.diff(keys)) + 1
    for chunk_rows, chunk_copies, key in zip(
        np.split(rows, bounds),
        np.split(copies, bounds),
        keys[np.r_[0, bounds]] if len(keys) else [],
        strict=False,
    ):
        split, code = divmod(int(key), max(1, len(classes)))
        lists[SPLIT_ORDER[split].value][classes[code]] = ClassList.model_construct(
            crop_ids=crop_ids[chunk_rows].tolist(),
            image_ids=image_ids[chunk_rows].tolist(),
            group_ids=group_ids[chunk_rows].tolist(),
            uris=uris[chunk_rows].tolist(),
            copies=chunk_copies.tolist(),
        )
    return DataFile.model_construct(dataset_version="", classes=classes, splits=lists)
