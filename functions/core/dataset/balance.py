"""Per-class balance of the train side: cap large classes, oversample small ones (deterministically).

Which examples a cap keeps is decided by a stable hash of the crop id, so the same catalog always
gives the same data set, and growing data changes the choice only where it must.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel

from functions.core.dataset.spec import BalanceSpec, BalanceStrategy


class BalanceReport(BaseModel):
    strategy: BalanceStrategy
    cap_per_class: int | None
    oversample_to: int | None
    before: dict[str, int]
    after: dict[str, int]


def stable_order(ids: Sequence[str]) -> npt.NDArray[np.intp]:
    """Indices of `ids` sorted by a hash of each id (ties impossible in practice, then by position)."""
    digests = b"".join(hashlib.blake2b(i.encode("utf-8"), digest_size=8).digest() for i in ids)
    keys = np.frombuffer(digests, dtype=">u8")
    return np.argsort(keys, kind="stable")


def balance_copies(
    class_codes: npt.NDArray[np.intp], ids: Sequence[str], class_names: Sequence[str], spec: BalanceSpec
) -> tuple[npt.NDArray[np.int32], BalanceReport]:
    """How many times each train example is used (0 = capped out), and the before/after counts."""
    counts = np.bincount(class_codes, minlength=len(class_names))
    before = {name: int(n) for name, n in zip(class_names, counts, strict=True)}
    copies = np.ones(len(class_codes), dtype=np.int32)
    present = counts[counts > 0]
    cap: int | None = None
    target: int | None = None
    if len(present) == 0 or spec.strategy is BalanceStrategy.NONE:
        return copies, BalanceReport(
            strategy=spec.strategy, cap_per_class=None, oversample_to=None, before=before, after=before
        )
    order = stable_order(ids)
    rank = np.empty(len(order), dtype=np.int64)
    # rank of each example inside its class, in stable-hash order
    sorted_codes = class_codes[order]
    by_class = np.argsort(sorted_codes, kind="stable")
    starts = np.zeros(len(class_names) + 1, dtype=np.int64)
    starts[1:] = np.cumsum(counts)
    within = np.arange(len(order)) - starts[sorted_codes[by_class]]
    rank[order[by_class]] = within

    if spec.strategy in {BalanceStrategy.CAP, BalanceStrategy.CAP_AND_OVERSAMPLE}:
        cap = spec.cap_per_class or int(present.min()) * 3
        copies[rank >= cap] = 0
    kept = np.bincount(class_codes, weights=copies, minlength=len(class_names)).astype(np.int64)
    if spec.strategy in {BalanceStrategy.OVERSAMPLE, BalanceStrategy.CAP_AND_OVERSAMPLE}:
        target = spec.oversample_to or int(kept.max())
        n = kept[class_codes]
        active = (copies > 0) & (n > 0) & (n < target)
        base = np.where(active, target // np.maximum(n, 1), copies)
        extra = active & (rank < (target % np.maximum(n, 1)))
        copies = (base + extra).astype(np.int32)
    after_counts = np.bincount(class_codes, weights=copies, minlength=len(class_names)).astype(np.int64)
    after = {name: int(n) for name, n in zip(class_names, after_counts, strict=True)}
    return copies, BalanceReport(
        strategy=spec.strategy, cap_per_class=cap, oversample_to=target, before=before, after=after
    )
