"""Active learning study: labels needed to reach an accuracy, uncertainty-first vs random order.

The shared labelled photos are embedded once with the pretrained backbone skills start from
(training/embed.py); a quarter is held out as the test set, the rest is the pool of waiting crops.
Starting from a few random labels, each round fits a classifier (logistic regression on the
embeddings) and sends the next batch to the labelling pipeline, either the crops whose answer has
the smallest margin (what the hand-off does, functions/core/labelling/active.py) or random ones.
Each label costs one crowd task at the simulated crowd's price. Averaged over seeds.
`python -m scripts.local.al_study --out docs/active-learning` writes the table (JSON) and the curve (PNG).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from functions.core.labelling.handoff import reward_per_task
from functions.core.labelling.settings import LabellingSettings

Strategy = str  # "uncertainty" | "random"


def load_labelled(subset: Path, level: str) -> tuple[list[Path], list[str]]:
    with (subset / "labels.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    key = "make" if level == "make" else "class_name"
    return [subset / r["file"] for r in rows], [r[key] for r in rows]


def features(paths: list[Path], cache: Path, models_dir: Path) -> npt.NDArray[np.float32]:
    if cache.is_file():
        cached = np.load(cache)
        if list(cached["files"]) == [p.name for p in paths]:
            vectors: npt.NDArray[np.float32] = cached["vectors"]
            return vectors
    from training.embed import embed, load_backbone

    backbone = load_backbone(models_dir)
    vectors = embed([Image.open(p) for p in paths], backbone)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cache, vectors=vectors, files=np.asarray([p.name for p in paths]))
    return vectors


def _margins(probabilities: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    top2 = np.sort(probabilities, axis=1)[:, -2:]
    margins: npt.NDArray[np.float64] = top2[:, 1] - top2[:, 0]
    return margins


def run_curve(
    x: npt.NDArray[np.float32],
    y: npt.NDArray[np.int64],
    strategy: Strategy,
    seed: int,
    start: int,
    step: int,
    max_labels: int,
) -> list[tuple[int, float]]:
    """(labels used, test accuracy) after each round."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    pool_idx, test_idx = train_test_split(np.arange(len(y)), test_size=0.25, random_state=seed, stratify=y)
    rng = np.random.default_rng(seed)
    order = rng.permutation(pool_idx)
    labelled = list(order[:start])
    waiting = list(order[start:])
    curve: list[tuple[int, float]] = []
    while True:
        model = LogisticRegression(max_iter=2000, C=10.0)
        model.fit(x[labelled], y[labelled])
        curve.append((len(labelled), float(model.score(x[test_idx], y[test_idx]))))
        if not waiting or len(labelled) >= max_labels:
            return curve
        take = min(step, len(waiting))
        if strategy == "uncertainty":
            chosen = np.argsort(_margins(model.predict_proba(x[waiting])), kind="stable")[:take]
        else:
            chosen = np.arange(take)
        picked = {int(i) for i in chosen}
        labelled += [waiting[i] for i in sorted(picked)]
        waiting = [w for i, w in enumerate(waiting) if i not in picked]


def labels_to_reach(curve: list[tuple[int, float]], target: float) -> int | None:
    return next((n for n, acc in curve if acc >= target), None)


def study(
    x: npt.NDArray[np.float32], names: list[str], seeds: int, start: int, step: int, max_labels: int
) -> dict[str, Any]:
    classes = sorted(set(names))
    y = np.asarray([classes.index(n) for n in names], dtype=np.int64)
    curves: dict[str, list[list[tuple[int, float]]]] = {"uncertainty": [], "random": []}
    for seed in range(seeds):
        for strategy, runs in curves.items():
            runs.append(run_curve(x, y, strategy, seed, start, step, max_labels))
    mean: dict[str, list[tuple[int, float]]] = {}
    for strategy, runs in curves.items():
        rounds = min(len(r) for r in runs)
        mean[strategy] = [
            (runs[0][i][0], round(float(np.mean([r[i][1] for r in runs])), 4)) for i in range(rounds)
        ]
    best = max(acc for _, acc in mean["random"] + mean["uncertainty"])
    targets = [round(best * share, 4) for share in (0.90, 0.95, 0.98)]
    price = float(reward_per_task(3.0, 15.0).price_usd) * LabellingSettings().workers_per_crop
    reach = []
    for target in targets:
        u, r = labels_to_reach(mean["uncertainty"], target), labels_to_reach(mean["random"], target)
        reach.append(
            {
                "target_accuracy": target,
                "labels_uncertainty_first": u,
                "labels_random": r,
                "labels_saved": (r - u) if u is not None and r is not None else None,
                "crowd_usd_saved": round((r - u) * price, 2) if u is not None and r is not None else None,
            }
        )
    return {
        "photos": len(names),
        "classes": len(classes),
        "seeds": seeds,
        "start_labels": start,
        "batch": step,
        "crowd_usd_per_crop": round(price, 3),
        "curves": mean,
        "reach": reach,
    }


def plot(result: dict[str, Any], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    for strategy, style in (("uncertainty", "-"), ("random", "--")):
        points = result["curves"][strategy]
        ax.plot([n for n, _ in points], [a for _, a in points], style, label=f"{strategy} order")
    ax.set_xlabel("labels (crops sent to people)")
    ax.set_ylabel("test accuracy")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/stanford-cars-subset"))
    parser.add_argument("--models", type=Path, default=Path("../shared/models"))
    parser.add_argument("--level", choices=["make", "class"], default="make")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--start", type=int, default=20)
    parser.add_argument("--step", type=int, default=40)
    parser.add_argument("--max-labels", type=int, default=1000)
    parser.add_argument("--cache", type=Path, default=Path("out/al-features.npz"))
    parser.add_argument("--out", type=Path, default=Path("out/active-learning"))
    args = parser.parse_args(argv)
    if not (args.data / "labels.csv").is_file():
        print(f"no labels.csv under {args.data}", file=sys.stderr)
        return 2
    paths, names = load_labelled(args.data, args.level)
    x = features(paths, args.cache, args.models)
    result = study(x, names, args.seeds, args.start, args.step, args.max_labels)
    result["level"] = args.level
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    plot(
        result,
        args.out.with_suffix(".png"),
        f"{result['classes']} classes ({args.level}), {len(names)} photos",
    )
    print(json.dumps(result["reach"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
