"""Held-out folds for recipe choices (`scripts.fold_compare`): how crops are dealt and compared."""

from __future__ import annotations

from pathlib import Path

import pytest

from functions.core.dataset.build import ClassList, DataFile
from functions.core.dataset.extract import LineageRecord
from scripts.fold_compare import deal_folds, fold_data, held_out_seen, paired_result


def _column(prefix: str, n: int) -> ClassList:
    ids = [f"{prefix}{i:03d}" for i in range(n)]
    return ClassList(
        crop_ids=ids, image_ids=ids, group_ids=ids, uris=[f"s3://b/{i}" for i in ids], copies=[1] * n
    )


def _data() -> DataFile:
    return DataFile(
        dataset_version="v1",
        classes=["a", "b"],
        splits={
            "train": {"a": _column("a-train-", 20), "b": _column("b-train-", 10)},
            "val": {"a": _column("a-val-", 4), "b": _column("b-val-", 2)},
            "test": {"a": _column("a-test-", 6), "b": _column("b-test-", 3)},
        },
    )


def _ids(part: dict[str, ClassList]) -> set[str]:
    return {crop for column in part.values() for crop in column.crop_ids}


def test_the_folds_share_out_train_and_validation_crops_class_by_class_and_never_test() -> None:
    # GIVEN a data set with train, validation and test crops of two classes
    data = _data()
    # WHEN its crops are dealt into 3 folds
    folds = deal_folds(data, folds=3, seed=13)
    # THEN every train/val crop lands in exactly one fold, no test crop in any, each class spread evenly
    dealt = [e.crop_id for fold in folds for entries in fold.values() for e in entries]
    assert sorted(dealt) == sorted(_ids(data.splits["train"]) | _ids(data.splits["val"]))
    assert not set(dealt) & _ids(data.splits["test"])
    assert [len(fold["a"]) for fold in folds] == [8, 8, 8]
    assert [len(fold["b"]) for fold in folds] == [4, 4, 4]


def test_the_same_seed_deals_the_same_folds_and_another_seed_does_not() -> None:
    # GIVEN one data set WHEN dealt twice with seed 13 and once with seed 14
    first, again, other = (deal_folds(_data(), 3, seed) for seed in (13, 13, 14))
    # THEN the two seed-13 deals agree and the seed-14 deal differs
    assert first == again
    assert first != other


def test_a_fold_is_the_test_split_and_the_other_folds_train() -> None:
    # GIVEN the folds of a data set
    data = _data()
    folds = deal_folds(data, 3, 13)
    # WHEN fold 1 is held out
    held_out = fold_data(data, fold=1, folds=3, seed=13)
    # THEN it is the test split, the other two folds train, and validation is one held-out crop a class
    assert _ids(held_out.splits["test"]) == {e.crop_id for entries in folds[1].values() for e in entries}
    assert _ids(held_out.splits["train"]) == {
        e.crop_id for k in (0, 2) for entries in folds[k].values() for e in entries
    }
    assert {name: len(c) for name, c in held_out.splits["val"].items()} == {"a": 1, "b": 1}
    assert _ids(held_out.splits["val"]) <= _ids(held_out.splits["test"])
    assert held_out.dataset_version == "v1-fold1of3-seed13"


def test_a_fold_outside_the_folds_is_refused_by_name() -> None:
    # GIVEN 3 folds WHEN fold 3 is asked for THEN the error names the range
    with pytest.raises(ValueError, match=r"--fold must be in 0\.\.2, got 3"):
        fold_data(_data(), fold=3, folds=3, seed=13)


def test_the_paired_result_counts_the_crops_only_one_arm_got_right() -> None:
    # GIVEN 10 crops: both right on 4, only the candidate on 5, only the baseline on 1
    baseline = [True] * 4 + [False] * 5 + [True]
    candidate = [True] * 4 + [True] * 5 + [False]
    # WHEN compared
    result = paired_result(baseline, candidate)
    # THEN top-1 of each arm, 5 gained, 1 lost, two-sided exact McNemar p = 2 * 7/64
    assert (result["baseline_top1"], result["candidate_top1"]) == (0.5, 0.9)
    assert (result["gained"], result["lost"]) == (5, 1)
    assert result["p_two_sided"] == pytest.approx(0.2188, abs=1e-4)


def test_a_start_skill_that_trained_on_held_out_crops_is_counted(tmp_path: Path) -> None:
    # GIVEN a skill version whose lineage trained on two held-out crops and validated on a third
    lineage = tmp_path / "lineage.json"
    record = LineageRecord(
        skill="car-model",
        skill_version=1,
        dataset_version="v1",
        crop_ids={"train": ["a-1", "a-2", "x"], "val": ["a-3"], "test": ["a-4"]},
        image_ids={},
        created_at="2026-12-06T00:00:00Z",
    )
    lineage.write_text(record.model_dump_json(), encoding="utf-8")
    # WHEN the held-out crops a-1 … a-4 are checked against it
    seen = held_out_seen(lineage, {"a-1", "a-2", "a-3", "a-4"})
    # THEN the two it trained on count; its progress-only validation crop and its test crop do not
    assert seen == 2


def test_a_start_skill_without_lineage_is_refused_by_name(tmp_path: Path) -> None:
    # GIVEN a skill version folder with no lineage record
    missing = tmp_path / "lineage.json"
    # WHEN it is checked THEN the error names the file and says its training data is unknown
    with pytest.raises(ValueError, match=r"lineage\.json is missing: what that skill version trained on"):
        held_out_seen(missing, {"a-1"})
