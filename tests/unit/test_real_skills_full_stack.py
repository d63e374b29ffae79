"""`make skills` also reports each skill through the full stack: a test photo without a crop is wrong."""

from __future__ import annotations

from functions.core.dataset.split import Split, SplitPolicy, hashed_split
from scripts.real_skills import full_stack_top1, missed_test_photos
from training.config import parse_config

SALT = "skillforge"


def _groups(side: Split, count: int) -> list[str]:
    policy = SplitPolicy(test_fraction=0.2, val_fraction=0.1, salt=SALT)
    found: list[str] = []
    index = 0
    while len(found) < count:
        group = f"stanford-{index:05d}"
        if hashed_split(group, policy) is side:
            found.append(group)
        index += 1
    return found


def test_only_test_side_photos_of_the_skills_classes_count_as_missed() -> None:
    # GIVEN photos without a car: two BMWs and an Audi on the test side, a BMW on the train side
    test_groups, train_groups = _groups(Split.TEST, 3), _groups(Split.TRAIN, 1)
    no_car = {
        test_groups[0]: "bmw-m3-coupe-2012",
        test_groups[1]: "bmw-x5-suv-2007",
        test_groups[2]: "audi-r8-coupe-2012",
        train_groups[0]: "bmw-m3-coupe-2012",
    }
    bmw = parse_config({"skill": "bmw", "dataset": {"label_filter": ["bmw-*"]}})
    # WHEN the BMW skill's missed test photos are counted
    missed = missed_test_photos(no_car, bmw.dataset, SALT)
    # THEN only the two test-side BMW photos count
    assert missed == 2


def test_a_photo_without_a_crop_is_wrong_through_the_full_stack() -> None:
    # GIVEN 90 of 100 test crops right and 20 test photos the detector found no car in
    # WHEN the full-stack top-1 is taken THEN it is 90 of 120
    assert full_stack_top1(0.9, 100, 20) == 0.75
    # AND without misses it is the test split's top-1
    assert full_stack_top1(0.9, 100, 0) == 0.9
