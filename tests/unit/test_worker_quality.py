"""Dawid-Skene consolidation: reliable workers outvote a sloppy one (pure)."""

from __future__ import annotations

import random

import pytest

from functions.core.labelling.local_jobs import CropLook, CrowdSettings
from functions.core.labelling.worker_quality import dawid_skene, decide
from scripts.local.crowd_study import score

CLASSES = ["a", "b", "c"]


def crowd_items(n: int, seed: int = 1) -> tuple[list[list[tuple[str, str]]], list[str]]:
    """Two careful workers (5 % wrong) and one who answers at random; each item answered by all three."""
    rng = random.Random(seed)
    truth = [rng.choice(CLASSES) for _ in range(n)]
    items = []
    for t in truth:
        answers = []
        for worker, error in (("careful-1", 0.05), ("careful-2", 0.05), ("sloppy", 1.0)):
            answer = t if rng.random() >= error else rng.choice([c for c in CLASSES if c != t])
            answers.append((worker, answer))
        items.append(answers)
    return items, truth


def test_dawid_skene_beats_the_majority_vote_with_a_sloppy_worker():
    # GIVEN 300 items answered by two careful workers and a sloppy one
    items, truth = crowd_items(300)
    # WHEN both consolidations decide
    posteriors = dawid_skene(items, CLASSES)
    ds = [decide(p, 0.0) for p in posteriors]
    majority = []
    for item in items:
        votes = [a for _, a in item]
        top = max(set(votes), key=votes.count)
        majority.append(top if votes.count(top) > 1 else None)
    # THEN Dawid-Skene is right more often (it breaks the 1-1-1 ties for the careful workers)
    ds_right = sum(d == t for d, t in zip(ds, truth, strict=True))
    mv_right = sum(m == t for m, t in zip(majority, truth, strict=True))
    assert ds_right > mv_right
    assert ds_right / len(truth) > 0.95


def test_a_unanimous_answer_wins_even_in_a_tiny_job():
    # GIVEN a single item that three workers answered alike
    posteriors = dawid_skene([[("w1", "b"), ("w2", "b"), ("w3", "b")]], CLASSES)
    # THEN the answer is decided, with most of the probability
    assert decide(posteriors[0], 0.5) == "b"


def test_an_answer_outside_the_classes_is_refused():
    with pytest.raises(ValueError, match="not one of"):
        dawid_skene([[("w1", "z")]], CLASSES)


def test_on_the_simulated_crowd_dawid_skene_routes_more_crops_right():
    # GIVEN 300 crops of every kind and the simulated crowd with one sloppy worker (3 answers a crop)
    rng = random.Random(3)
    looks = [
        CropLook(
            width=rng.choice([30, 120, 240]),
            height=rng.choice([40, 120, 150]),
            brightness=rng.choice([20.0, 120.0, 240.0]),
            sharpness=rng.choice([2.0, 20.0]),
        )
        for _ in range(300)
    ]
    # WHEN both consolidations are scored against the honest answers
    scores = {s.method: s for s in score(looks, CrowdSettings(sloppy_error_rate=0.8), per_object=3)}
    # THEN Dawid-Skene routes more crops right and leaves fewer undecided
    assert scores["dawid-skene"].routing_accuracy > scores["majority"].routing_accuracy
    assert scores["dawid-skene"].undecided < scores["majority"].undecided
