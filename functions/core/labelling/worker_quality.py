"""Dawid-Skene: consolidation weighted by each worker's estimated confusion matrix (pure Python).

Every worker gets a confusion matrix (how often it answers l when the truth is k) and every item a
posterior over the true answer, estimated together by expectation-maximisation from the majority
vote as a start (Dawid & Skene, 1979). A worker who is often wrong counts for less, so a tie or a
2-1 split against a careless worker is decided by the careful ones. Pure Python: it runs in the
consolidation Lambda, whose layer has no numpy. docs/labelling.md has the comparison with the plain
majority vote on the simulated crowd.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Item = Sequence[tuple[str, str]]  # (worker id, answer) for one data object

# A Laplace prior on every confusion cell and class (0.01 let a rare class win on one stray answer)...
SMOOTHING = 1.0
# ...and a prior belief that a worker usually answers right (extra pseudo-answers on the diagonal), so a
# small job, where the data say little about each worker, still follows a unanimous answer.
DIAGONAL_PRIOR = 3.0


def _majority_start(item: Item, classes: list[str]) -> dict[str, float]:
    counts = dict.fromkeys(classes, 0.0)
    for _, answer in item:
        counts[answer] += 1.0
    total = sum(counts.values())
    return {k: (v / total if total else 1.0 / len(classes)) for k, v in counts.items()}


def dawid_skene(
    items: Sequence[Item], classes: Sequence[str], iterations: int = 50
) -> list[dict[str, float]]:
    """Posterior over `classes` of every item (same order); items without answers get the prior."""
    labels = list(classes)
    known = set(labels)
    for item in items:
        for worker, answer in item:
            if answer not in known:
                raise ValueError(f"answer {answer!r} of worker {worker} is not one of {labels}")
    posteriors = [_majority_start(item, labels) for item in items]
    workers = sorted({worker for item in items for worker, _ in item})
    for _ in range(iterations):
        prior = {k: SMOOTHING + sum(p[k] for p in posteriors) for k in labels}
        norm = sum(prior.values())
        prior = {k: v / norm for k, v in prior.items()}
        confusion = {
            w: {k: {a: SMOOTHING + (DIAGONAL_PRIOR if a == k else 0.0) for a in labels} for k in labels}
            for w in workers
        }
        for item, posterior in zip(items, posteriors, strict=True):
            for worker, answer in item:
                for k in labels:
                    confusion[worker][k][answer] += posterior[k]
        for rows in confusion.values():
            for row in rows.values():
                total = sum(row.values())
                for answer in row:
                    row[answer] /= total
        updated: list[dict[str, float]] = []
        for item in items:
            logs = {
                k: math.log(prior[k]) + sum(math.log(confusion[w][k][a]) for w, a in item) for k in labels
            }
            top = max(logs.values())
            weights = {k: math.exp(v - top) for k, v in logs.items()}
            total = sum(weights.values())
            updated.append({k: v / total for k, v in weights.items()})
        change = max(
            (abs(u[k] - p[k]) for u, p in zip(updated, posteriors, strict=True) for k in labels), default=0.0
        )
        posteriors = updated
        if change < 1e-6:
            break
    return posteriors


def decide(posterior: dict[str, float], min_posterior: float) -> str | None:
    """The most probable answer, or None when it is not probable enough (or two share the top)."""
    ranked = sorted(posterior.items(), key=lambda kv: -kv[1])
    if not ranked or ranked[0][1] < min_posterior or (len(ranked) > 1 and ranked[1][1] == ranked[0][1]):
        return None
    return ranked[0][0]
