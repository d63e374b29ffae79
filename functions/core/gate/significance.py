"""Is a candidate's accuracy gain over the current version real? Paired statistics on one harness.

Both versions answer the same cases, so the comparison is paired: only the cases where they disagree
carry information. McNemar's exact test asks whether "only the candidate right" outnumbers "only the
current right" beyond chance; a paired bootstrap gives an interval for the accuracy gain.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel


class PairedComparison(BaseModel):
    cases: int
    candidate_only: int
    current_only: int
    p_value: float
    interval: tuple[float, float]


def mcnemar_one_sided(candidate_only: int, current_only: int) -> float:
    """Exact one-sided McNemar p-value: P(at least `candidate_only` of the discordant cases favour the
    candidate | both equally good)."""
    n = candidate_only + current_only
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(candidate_only, n + 1))
    return min(1.0, float(tail) / float(2**n))


def bootstrap_interval(
    pairs: Sequence[tuple[bool, bool]], level: float, samples: int, seed: int = 0
) -> tuple[float, float]:
    """Percentile interval of the accuracy gain (candidate − current), resampling cases with replacement."""
    if not pairs:
        return (0.0, 0.0)
    diff = np.asarray([int(a) - int(b) for a, b in pairs], dtype=np.float64)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(diff), size=(samples, len(diff)))
    gains = diff[picks].mean(axis=1)
    tail = (1.0 - level) / 2
    return float(np.quantile(gains, tail)), float(np.quantile(gains, 1.0 - tail))


def compare_paired(
    pairs: Sequence[tuple[bool, bool]], significance: float, samples: int = 2000
) -> PairedComparison:
    """`pairs`: per case, (candidate right, current right)."""
    candidate_only = sum(1 for a, b in pairs if a and not b)
    current_only = sum(1 for a, b in pairs if b and not a)
    return PairedComparison(
        cases=len(pairs),
        candidate_only=candidate_only,
        current_only=current_only,
        p_value=mcnemar_one_sided(candidate_only, current_only),
        interval=bootstrap_interval(pairs, 1.0 - significance, samples),
    )
