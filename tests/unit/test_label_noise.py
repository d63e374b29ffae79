"""Label-noise candidates: cleanlab on out-of-fold predictions finds flipped labels (pure)."""

from __future__ import annotations

import numpy as np
import pytest

from training.label_noise import label_noise_candidates


@pytest.mark.slow  # cleanlab imports pandas: seconds
def test_flipped_labels_are_the_candidates():
    # GIVEN three well separated clusters of 60 examples and 5 examples given the wrong label
    rng = np.random.default_rng(0)
    centres = {"audi": (0.0, 0.0), "bmw": (6.0, 0.0), "dodge": (0.0, 6.0)}
    names, points = [], []
    for name, centre in centres.items():
        for _ in range(60):
            names.append(name)
            points.append(rng.normal(centre, 0.8))
    flipped = [3, 70, 130, 10, 75]
    for i in flipped:
        names[i] = "dodge" if names[i] != "dodge" else "audi"
    ids = [f"crop-{i}" for i in range(len(names))]
    # WHEN candidates are listed
    found = label_noise_candidates(np.asarray(points, dtype=np.float32), names, ids)
    # THEN nearly every flipped example is among them, with its cluster's class suggested, few others
    by_id = {c.crop_id: c for c in found}
    hits = {f"crop-{i}" for i in flipped} & set(by_id)
    assert len(hits) >= 4
    assert by_id["crop-70"].suggested == "bmw" and by_id["crop-70"].given == "dodge"
    assert len(found) <= len(flipped) + 3
