"""Extraction rules: min images per class, balance, manifest hash, lineage contents."""

from __future__ import annotations

import pytest

from functions.core.dataset.build import RecordTable, content_hash, extract
from functions.core.dataset.extract import lineage_record
from functions.core.dataset.spec import BalanceSpec, BalanceStrategy, DatasetSpec
from functions.core.dataset.split import Split, SplitPolicy, hashed_split


def table(counts: dict[str, int], groups_of: int = 1) -> RecordTable:
    records = RecordTable()
    for label, n in counts.items():
        for i in range(n):
            crop = f"{label}-{i}"
            records.append(
                crop, f"img-{crop}", f"grp-{label}-{i // groups_of}", label, "crops", f"crops/{crop}.jpg"
            )
    return records


def test_classes_under_the_minimum_are_left_out_and_reported():
    # GIVEN two big classes and a small one
    spec = DatasetSpec(min_images_per_class=50, balance=BalanceSpec(strategy=BalanceStrategy.NONE))
    # WHEN extracted
    result, _ = extract(table({"audi": 80, "bmw": 60, "tiny": 10}), spec, {}, "salt")
    # THEN the small class is excluded and named in the report with its count, never trained on
    assert result.data.classes == ["audi", "bmw"]
    assert result.report.excluded_classes == {"tiny": 10}
    assert result.report.exclusion_reasons["tiny"] == "10 verified images < min_images_per_class 50"
    assert all("tiny" not in per_class for per_class in result.data.splits.values())


def test_a_class_without_training_examples_is_left_out_with_its_reason():
    # GIVEN a class whose only group falls on the test side (all crops share one advert)
    records = table({"audi": 30, "bmw": 30})
    for i in range(5):
        records.append(f"x-{i}", f"img-x-{i}", "one-advert", "rare", "crops", f"crops/x-{i}.jpg")
    spec = DatasetSpec(min_images_per_class=5, test_fraction=0.5)
    existing = {"one-advert": "test"}
    # WHEN extracted
    result, _ = extract(records, spec, existing, "s")
    # THEN the class is excluded with its reason, and the others are kept
    assert result.data.classes == ["audi", "bmw"]
    assert result.report.excluded_classes == {"rare": 5}
    assert "no training example" in result.report.exclusion_reasons["rare"]


def test_explicit_classes_group_labels_by_glob():
    # GIVEN variant labels and a make skill mapping them
    spec = DatasetSpec(
        classes=[{"name": "Audi", "match": ["audi-*"]}, {"name": "BMW", "match": ["bmw-*"]}],
        min_images_per_class=1,
        balance=BalanceSpec(strategy=BalanceStrategy.NONE),
    )
    # WHEN extracted
    result, _ = extract(table({"audi-a4": 5, "audi-tt": 5, "bmw-m3": 4, "dodge-ram": 9}), spec, {}, "s")
    # THEN labels are pooled into the make classes, other labels ignored
    assert result.report.images_per_class == {"Audi": 10, "BMW": 4}
    assert result.report.records_matched == 14


def test_cap_and_oversample_balance_the_train_side_and_report_before_after():
    # GIVEN a large and a small class, capped at 40 and oversampled to the largest
    spec = DatasetSpec(
        min_images_per_class=1,
        balance=BalanceSpec(strategy=BalanceStrategy.CAP_AND_OVERSAMPLE, cap_per_class=40),
        val_fraction=0.0,
    )
    # WHEN extracted
    result, _ = extract(table({"big": 200, "small": 20}), spec, {}, "s")
    report = result.report.balance
    # THEN before is the raw train count, after is 40 per class (copies counted)
    assert report.before["big"] > 40
    assert report.after == {"big": 40, "small": 40}
    train = result.data.splits["train"]
    assert len(train["big"]) == 40
    assert train["small"].examples() == 40
    # AND the test side is never balanced
    assert set(result.data.splits["test"]["big"].copies) == {1}


def test_manifest_hash_changes_iff_content_changes():
    # GIVEN an extraction
    spec = DatasetSpec(min_images_per_class=1)
    records = table({"a": 30, "b": 30})
    first, _ = extract(records, spec, {}, "s")
    # WHEN the same records are extracted again THEN the version is the same
    again, _ = extract(records, spec, {}, "s")
    assert again.dataset_version == first.dataset_version
    assert content_hash(again.data) == first.content_sha256
    # WHEN one record is added THEN the version changes
    records.append("new", "img-new", "grp-new", "a", "crops", "crops/new.jpg")
    grown, _ = extract(records, spec, {}, "s")
    assert grown.dataset_version != first.dataset_version


def test_lineage_names_every_crop_and_image_used_per_split():
    # GIVEN an extraction where some train examples are capped out
    spec = DatasetSpec(
        min_images_per_class=1, balance=BalanceSpec(strategy=BalanceStrategy.CAP, cap_per_class=5)
    )
    result, _ = extract(table({"a": 40, "b": 8}), spec, {}, "s")
    # WHEN the lineage of a training run is recorded
    lineage = lineage_record(result.data, "skill-x", 7)
    # THEN it lists exactly the crops in the data file (capped-out ones excluded), and their images
    used = {c for per in result.data.splits["train"].values() for c in per.crop_ids}
    assert set(lineage.crop_ids["train"]) == used
    assert len(lineage.crop_ids["train"]) <= 10
    assert lineage.image_ids["test"] == sorted({f"img-{c}" for c in lineage.crop_ids["test"]})
    assert (lineage.skill_version, lineage.dataset_version) == (7, result.dataset_version)


def test_a_bad_spec_names_the_field():
    # GIVEN a spec with a single class WHEN validated THEN the error says why
    with pytest.raises(ValueError, match="at least 2 classes"):
        DatasetSpec(classes=["only"])


def test_the_default_balance_keeps_every_train_example():
    # GIVEN a large and a small class and the default balance
    spec = DatasetSpec(min_images_per_class=1, val_fraction=0.0)
    # WHEN extracted
    result, _ = extract(table({"big": 200, "small": 20}), spec, {}, "s")
    report = result.report.balance
    # THEN nothing is discarded: every train example of the large class is kept, the small one repeated
    train = result.data.splits["train"]
    assert len(train["big"]) == report.before["big"]
    assert train["big"].examples() == report.before["big"]
    assert report.after["small"] == report.before["big"]


def test_identical_crops_with_conflicting_labels_are_flagged_and_never_trained_on():
    # GIVEN two classes, where one photo was uploaded twice under different labels (same content), and
    # another photo twice under the same label
    records = table({"audi-a5": 30, "audi-tts": 30})
    records.append("dup-1", "img-dup-1", "grp-dup-1", "audi-a5", "crops", "crops/dup-1.jpg", "sha-x#0")
    records.append("dup-2", "img-dup-2", "grp-dup-2", "audi-tts", "crops", "crops/dup-2.jpg", "sha-x#0")
    records.append("same-1", "img-same-1", "grp-same-1", "audi-a5", "crops", "crops/same-1.jpg", "sha-y#0")
    records.append("same-2", "img-same-2", "grp-same-2", "audi-a5", "crops", "crops/same-2.jpg", "sha-y#0")
    spec = DatasetSpec(min_images_per_class=1, balance=BalanceSpec(strategy=BalanceStrategy.NONE))
    # WHEN extracted
    result, _ = extract(records, spec, {}, "salt")
    used = {entry.crop_id for _, entry in result.data.entries(Split.TRAIN)}
    used |= {entry.crop_id for split in (Split.VAL, Split.TEST) for _, entry in result.data.entries(split)}
    # THEN the conflicting pair is left out on both sides and reported for review
    assert "dup-1" not in used and "dup-2" not in used
    assert result.report.conflicting_duplicates == {"sha-x#0": ["audi-a5", "audi-tts"]}
    # AND of the agreeing pair one copy is kept
    assert ("same-1" in used) != ("same-2" in used)
    assert result.report.duplicates_dropped == 1


def test_every_class_with_two_train_groups_gets_a_validation_group():
    # GIVEN three small classes of 6 groups each and a small val fraction (the hash alone leaves some
    # class without any validation group)
    spec = DatasetSpec(
        min_images_per_class=1,
        test_fraction=0.2,
        val_fraction=0.05,
        balance=BalanceSpec(strategy=BalanceStrategy.NONE),
    )
    records = table({"pickup": 6, "convertible": 6, "van": 6})
    policy = SplitPolicy(test_fraction=0.2, val_fraction=0.05, salt="salt")
    by_hash = {g: hashed_split(g, policy) for g in records.group_ids}
    assert any(
        all(by_hash[f"grp-{name}-{i}"] is not Split.VAL for i in range(6))
        for name in ("pickup", "convertible", "van")
    )
    # WHEN extracted with the split policy
    result, new = extract(records, spec, {}, "salt")
    # THEN every class has a val example, the moved groups are recorded as new val assignments,
    # and no group is on two sides
    for name in result.data.classes:
        assert len(result.data.splits["val"][name]) >= 1, name
        assert len(result.data.splits["train"][name]) >= 1, name
    val_groups = {entry.group_id for _, entry in result.data.entries(Split.VAL)}
    assert val_groups <= {g for g, s in new.items() if s is Split.VAL}
    train_groups = {entry.group_id for _, entry in result.data.entries(Split.TRAIN)}
    assert not val_groups & train_groups


def test_a_persisted_group_is_never_moved_to_val():
    # GIVEN every group already assigned to train or test (persisted)
    records = table({"pickup": 6, "van": 6})
    spec = DatasetSpec(min_images_per_class=1, val_fraction=0.2)
    _, new = extract(records, spec.model_copy(update={"val_fraction": 0.0}), {}, "salt")
    persisted = {g: s.value for g, s in new.items()}
    # WHEN extracted again with a val fraction
    result, again = extract(records, spec, persisted, "salt")
    # THEN nothing moves: val stays empty and no new assignment is made
    assert again == {}
    assert all(len(result.data.splits["val"][name]) == 0 for name in result.data.classes)
