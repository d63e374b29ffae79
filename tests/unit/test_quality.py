"""Image statistics, flags, the perceptual hash and near-duplicate search (pure)."""

from __future__ import annotations

import imagehash
import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageFilter

from functions.core.base.records import QualityFlag
from functions.core.quality import duplicates
from functions.core.quality.duplicates import HashedImage, hash_distance, near_duplicates
from functions.core.quality.measure import measure, perceptual_hash
from functions.core.quality.settings import QualitySettings


def scene(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 255, size=(12, 16, 3), dtype=np.uint8)
    return Image.fromarray(coarse).resize(size, Image.Resampling.NEAREST)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_hash_is_imagehash_phash_bit_for_bit(seed):
    # GIVEN an image  WHEN it is hashed by our numpy code and by imagehash  THEN both strings agree
    image = scene(seed)
    assert perceptual_hash(image) == str(imagehash.phash(image))


def test_resized_and_reencoded_copies_stay_close_distinct_photos_do_not():
    # GIVEN a photo, a resized copy and another photo
    original = scene(5)
    small = original.resize((160, 120), Image.Resampling.LANCZOS)
    # THEN the copy is within the near-duplicate distance and the other photo far away
    settings = QualitySettings()
    assert hash_distance(perceptual_hash(original), perceptual_hash(small)) <= settings.near_duplicate_bits
    assert hash_distance(perceptual_hash(original), perceptual_hash(scene(6))) > 12


def test_blurred_over_exposed_and_too_small_images_are_flagged():
    # GIVEN a sharp scene and three degraded versions
    sharp = scene(7)
    blurred = sharp.filter(ImageFilter.GaussianBlur(4))
    bright = ImageEnhance.Brightness(sharp).enhance(8.0)
    tiny = sharp.resize((40, 30))
    # THEN only the degraded ones carry the matching flag
    assert measure(sharp).flags == []
    assert QualityFlag.BLURRED in measure(blurred).flags
    assert QualityFlag.OVER_EXPOSED in measure(bright).flags
    assert QualityFlag.TOO_SMALL in measure(tiny).flags


def test_near_duplicates_are_found_across_groups_only():
    # GIVEN two identical hashes in one group, one copy in another group, one unrelated photo
    h = perceptual_hash(scene(8))
    images = [
        HashedImage("a", "g1", h),
        HashedImage("b", "g1", h),
        HashedImage("c", "g2", f"{int(h, 16) ^ 0b101:016x}"),  # 2 bits off
        HashedImage("d", "g3", perceptual_hash(scene(9))),
    ]
    # WHEN near-duplicates are searched
    pairs = near_duplicates(images, max_bits=6)
    # THEN only the cross-group pairs are reported
    assert {(p.a.image_id, p.b.image_id, p.bits) for p in pairs} == {("a", "c", 2), ("b", "c", 2)}


def test_only_the_non_test_side_of_a_pair_is_a_leak():
    # GIVEN a test photo copied into a train group and a val group
    h = "0123456789abcdef"
    pairs = near_duplicates(
        [HashedImage("t", "gt", h), HashedImage("r", "gr", h), HashedImage("v", "gv", h)], max_bits=0
    )
    sides = {"gt": "test", "gr": "train", "gv": "val"}
    # WHEN leaks are computed  THEN both copies point at the test photo, the test photo stays
    assert duplicates.test_leaks(pairs, sides.__getitem__) == {"r": "t", "v": "t"}


def test_a_hash_distance_beyond_the_index_is_refused():
    with pytest.raises(ValueError, match="max_bits"):
        near_duplicates([], max_bits=9)
