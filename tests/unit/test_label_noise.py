"""Label-noise candidates: cleanlab on out-of-fold predictions finds flipped labels (pure)."""

from __future__ import annotations

import multiprocessing
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from training.label_noise import label_noise_candidates

FLIPPED = [3, 70, 130, 10, 75]


def _clusters() -> tuple[npt.NDArray[np.float32], list[str], list[str]]:
    """Three well separated clusters of 60 examples; the FLIPPED ones carry another cluster's label."""
    rng = np.random.default_rng(0)
    centres = {"audi": (0.0, 0.0), "bmw": (6.0, 0.0), "dodge": (0.0, 6.0)}
    names, points = [], []
    for name, centre in centres.items():
        for _ in range(60):
            names.append(name)
            points.append(rng.normal(centre, 0.8))
    for i in FLIPPED:
        names[i] = "dodge" if names[i] != "dodge" else "audi"
    return np.asarray(points, dtype=np.float32), names, [f"crop-{i}" for i in range(len(names))]


@pytest.mark.slow  # cleanlab imports pandas: seconds
def test_flipped_labels_are_the_candidates() -> None:
    # GIVEN three clusters of 60 examples and 5 examples given the wrong label
    points, names, ids = _clusters()
    # WHEN candidates are listed
    found = label_noise_candidates(points, names, ids)
    # THEN nearly every flipped example is among them, with its cluster's class suggested, few others
    by_id = {c.crop_id: c for c in found}
    hits = {f"crop-{i}" for i in FLIPPED} & set(by_id)
    assert len(hits) >= 4
    assert by_id["crop-70"].suggested == "bmw" and by_id["crop-70"].given == "dodge"
    assert len(found) <= len(FLIPPED) + 3


@pytest.mark.slow
def test_candidates_are_found_without_forking_a_process_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a process where starting a multiprocessing pool fails (as in Lambda, without /dev/shm)
    def no_pool(*_args: Any, **_kwargs: Any) -> None:
        raise OSError("no process pools here")

    monkeypatch.setattr(multiprocessing, "Pool", no_pool)
    points, names, ids = _clusters()
    # WHEN candidates are listed
    found = label_noise_candidates(points, names, ids)
    # THEN they are, in this process
    assert {f"crop-{i}" for i in FLIPPED} & {c.crop_id for c in found}
