"""Label-noise candidates: confident learning (cleanlab) on out-of-fold predictions.

The examples are a skill version's training data: the crops its lineage record names (every split),
with the label they carry in the catalog now, mapped to the skill's classes by the data set's spec.
Each example is represented by the skill version's own embedding of its crop (the pooled features its
classification head reads; or its class probabilities) and gets predicted probabilities from a k-fold
logistic regression that never saw it; cleanlab's `find_label_issues` lists the examples whose given
label that out-of-fold model finds implausible, ranked by self-confidence. Candidates go back to the
expert (functions/core/labelling/label_noise.py), never silently relabelled.

The skill was trained on these very labels: a wrong label it has learnt by heart looks right to its
embedding. What it has not learnt (a label changed since, a few wrong ones among many right ones) stands
out; `--features probabilities` is the cheaper, coarser view.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from PIL import Image
from pydantic import BaseModel, Field

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import CropStatus
from functions.core.base.storage import BlobStore, ObjectMissingError
from functions.core.dataset.build import MANIFEST_FILE
from functions.core.dataset.extract import DatasetManifest, dataset_prefix, read_lineage
from functions.core.dataset.spec import DatasetSpec
from functions.core.labelling.label_noise import NoiseCandidate
from functions.core.skills.model import ClassifierSkill
from functions.core.skills.resolver import RegistrySkills

Features = Literal["embedding", "probabilities"]


def out_of_fold_probabilities(
    features: npt.NDArray[np.float32], labels: npt.NDArray[np.int64], folds: int = 5, seed: int = 0
) -> npt.NDArray[np.float64]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    counts = np.bincount(labels)
    folds = max(2, min(folds, int(counts[counts > 0].min())))
    model = LogisticRegression(max_iter=3000, C=10.0)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    probabilities: npt.NDArray[np.float64] = cross_val_predict(
        model, features, labels, cv=splitter, method="predict_proba"
    )
    return probabilities


def label_noise_candidates(
    features: npt.NDArray[np.float32], names: Sequence[str], ids: Sequence[str], folds: int = 5
) -> list[NoiseCandidate]:
    """The examples whose label looks wrong to an out-of-fold model, most suspicious first."""
    from cleanlab.filter import find_label_issues

    classes = sorted(set(names))
    labels = np.asarray([classes.index(n) for n in names], dtype=np.int64)
    probabilities = out_of_fold_probabilities(features, labels, folds)
    # n_jobs=1: cleanlab's default forks a multiprocessing pool per physical core, which is unsafe in a
    # process holding torch's threads (a pytest worker crashed in it) and fails where /dev/shm is missing
    # (Lambda); the result does not depend on it.
    ranked = find_label_issues(
        labels=labels, pred_probs=probabilities, return_indices_ranked_by="self_confidence", n_jobs=1
    )
    return [
        NoiseCandidate(
            crop_id=ids[i],
            given=names[i],
            suggested=classes[int(np.argmax(probabilities[i]))],
            self_confidence=round(float(probabilities[i][labels[i]]), 4),
        )
        for i in ranked
    ]


class NoiseCheck(BaseModel):
    """One run of the check on a skill version's training data."""

    skill: str
    skill_version: int
    dataset_version: str
    features: Features
    examples: int = Field(description="crops checked")
    per_class: dict[str, int]
    skipped: dict[str, int] = Field(description="crops of the lineage not checked, per reason")
    candidates: list[NoiseCandidate]

    @property
    def checked_by(self) -> str:
        return f"{self.skill} v{self.skill_version} ({self.features}, out of fold)"


@dataclass(frozen=True)
class NoiseCheckDeps:
    catalog: DynamoCatalog
    store: BlobStore
    skills: RegistrySkills
    artifacts_bucket: str


def dataset_spec(deps: NoiseCheckDeps, skill: str, dataset_version: str) -> DatasetSpec | None:
    """The spec the data set was extracted with (maps verified labels to classes), when recorded."""
    try:
        key = dataset_prefix(skill, dataset_version) + MANIFEST_FILE
        data = deps.store.get(deps.artifacts_bucket, key).data
    except ObjectMissingError:
        return None
    return DatasetManifest.model_validate(json.loads(data)).spec


def _vector(model: ClassifierSkill, image: Image.Image, features: Features) -> list[float]:
    if features == "embedding":
        vector = np.asarray(model.embedding(image), dtype=np.float64)
        vector /= max(float(np.linalg.norm(vector)), 1e-8)
    else:
        vector = np.log(np.clip(np.asarray(model.probabilities(image), dtype=np.float64), 1e-6, 1.0))
    return [float(v) for v in vector]


def check_skill(
    deps: NoiseCheckDeps,
    skill: str,
    version: int | None = None,
    features: Features = "embedding",
    folds: int = 5,
) -> NoiseCheck:
    """Label-noise candidates among the training data of `skill` v`version` (default: the deployed one)."""
    version = version or deps.skills.deployed_version(skill)
    if version is None:
        raise ValueError(f"skill {skill!r} has no deployed version here: name one with --version")
    lineage = read_lineage(deps.store, deps.artifacts_bucket, skill, version)
    if lineage is None:
        raise ValueError(f"{skill} v{version} has no lineage record: its training data is unknown")
    spec = dataset_spec(deps, skill, lineage.dataset_version)
    model = deps.skills.load(skill, version)
    skipped: Counter[str] = Counter()
    rows: list[tuple[str, str, list[float]]] = []
    for crop_id in sorted({c for ids in lineage.crop_ids.values() for c in ids}):
        crop = deps.catalog.get_crop(crop_id)
        if crop is None:
            skipped["not in the catalog"] += 1
            continue
        if crop.status is not CropStatus.VERIFIED:
            skipped[f"{crop.status.value} now"] += 1
            continue
        label = crop.final_class or crop.variant_hint or ""
        name = spec.class_of(label) if spec is not None else label
        if name not in model.classes:
            skipped["label not of a class of the skill"] += 1
            continue
        try:
            data = deps.store.get(crop.crop_bucket, crop.crop_key).data
        except ObjectMissingError:
            skipped["crop image missing"] += 1
            continue
        rows.append((crop_id, name, _vector(model, Image.open(io.BytesIO(data)), features)))
    counts = Counter(name for _, name, _ in rows)
    rows = [row for row in rows if counts[row[1]] >= 2]  # a class needs two examples to be cross-validated
    skipped["class with fewer than 2 examples"] += sum(n for n in counts.values() if n < 2)
    kept = Counter(name for _, name, _ in rows)
    if len(kept) < 2:
        raise ValueError(
            f"{skill} v{version}: {len(rows)} checkable crops in {len(kept)} class(es) of its training data "
            f"(skipped: {dict(+skipped)}); the check needs two classes with two crops each"
        )
    vectors = np.asarray([vector for _, _, vector in rows], dtype=np.float32)
    candidates = label_noise_candidates(vectors, [n for _, n, _ in rows], [c for c, _, _ in rows], folds)
    return NoiseCheck(
        skill=skill,
        skill_version=version,
        dataset_version=lineage.dataset_version,
        features=features,
        examples=len(rows),
        per_class=dict(sorted(kept.items())),
        skipped=dict(sorted((+skipped).items())),
        candidates=candidates,
    )
