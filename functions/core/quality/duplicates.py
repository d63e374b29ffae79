"""Near-duplicate photos across groups, and the ones that would leak a test photo into training.

Two photos are near-duplicates when their perceptual hashes differ in at most `max_bits` of 64 bits
(an exact copy: 0; a resized or re-encoded copy: a few). Candidates come from an index of the eight
bytes of each hash: two hashes at most 7 bits apart agree on at least one whole byte (pigeonhole),
so only photos sharing a byte value at a byte position are compared, never every pair.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

MAX_INDEXED_BITS = 7  # the byte index finds every pair up to 7 bits apart


def hash_distance(a: str, b: str) -> int:
    """Hamming distance of two hex hashes (bits that differ)."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


@dataclass(frozen=True)
class HashedImage:
    image_id: str
    group_id: str
    phash: str


@dataclass(frozen=True)
class NearDuplicate:
    a: HashedImage
    b: HashedImage
    bits: int


def near_duplicates(images: Sequence[HashedImage], max_bits: int) -> list[NearDuplicate]:
    """Every pair of photos of different groups whose hashes are at most `max_bits` apart."""
    if not 0 <= max_bits <= MAX_INDEXED_BITS:
        raise ValueError(f"max_bits must be between 0 and {MAX_INDEXED_BITS}, got {max_bits}")
    buckets: defaultdict[tuple[int, str], list[int]] = defaultdict(list)
    for index, image in enumerate(images):
        for position in range(8):
            buckets[(position, image.phash[2 * position : 2 * position + 2])].append(index)
    seen: set[tuple[int, int]] = set()
    pairs: list[NearDuplicate] = []
    for members in buckets.values():
        for i, first in enumerate(members):
            for second in members[i + 1 :]:
                a, b = images[first], images[second]
                if a.group_id == b.group_id or (first, second) in seen:
                    continue
                seen.add((first, second))
                bits = hash_distance(a.phash, b.phash)
                if bits <= max_bits:
                    pairs.append(NearDuplicate(a, b, bits))
    return sorted(pairs, key=lambda p: (p.a.image_id, p.b.image_id))


def test_leaks(pairs: Iterable[NearDuplicate], split_of_group: Callable[[str], str]) -> dict[str, str]:
    """Image id → the test image it nearly duplicates, for every image outside the test side that
    nearly duplicates a photo of a test group (those must never enter train or val)."""
    leaks: dict[str, str] = {}
    for pair in pairs:
        a_test = split_of_group(pair.a.group_id) == "test"
        b_test = split_of_group(pair.b.group_id) == "test"
        if a_test and not b_test:
            leaks.setdefault(pair.b.image_id, pair.a.image_id)
        elif b_test and not a_test:
            leaks.setdefault(pair.a.image_id, pair.b.image_id)
    return leaks
