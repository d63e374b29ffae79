"""Two skill configs compared on a held-out fold of one data set's train + validation crops (never test).

`python -m scripts.fold_compare --baseline A.json --candidate B.json [--fold 0 --folds 3 --seed 13]`

A skill's validation split is too small to tell recipes apart (about 160 crops), and its test split
must not choose. This deals the train + validation crops of the baseline's data set (the crops of an
`make skills` run in `--runs`, detected again only when it has none) into folds, class by class, trains each
config on the other folds and scores the **last** epoch on the held-out fold, so the fold never picks
an epoch; each arm is scored as it would be served (its test size and TTA). Prints one JSON
document: both arms' top-1, the crops only one arm got right, and the exact two-sided McNemar
p-value. Not part of CI: each arm is a full training run.

An arm that starts from another skill (`skill:car-model`) learns from that skill's weights too: when
that skill version trained on held-out crops (its `lineage.json`), they leak into the comparison, and
the run is refused, naming the count. `--parent-skills DIR` points at skill versions trained without
the fold; `--allow-parent-overlap` goes on anyway (a make skill's labels are not the models' labels)
and the output records the overlap.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from functions.core.gate.significance import mcnemar_one_sided
from scripts.commands.output import emit_json, info, results_on_stdout
from scripts.real_skills import default_subset, detect_and_crop
from training.transfer import skills_root

if TYPE_CHECKING:
    from functions.core.dataset.build import DataFile, Entry

REPO = Path(__file__).resolve().parents[1]


def deal_folds(data: DataFile, folds: int, seed: int) -> list[dict[str, list[Entry]]]:
    """Each class's train + validation entries, in crop-id order, shuffled by one seeded generator
    (classes in the data file's order) and dealt round-robin: fold k holds entries k, k + folds, …"""
    from functions.core.dataset.build import ClassList

    if folds < 2:
        raise ValueError(f"--folds must be at least 2, got {folds}")
    rng = random.Random(seed)
    dealt: list[dict[str, list[Entry]]] = [{} for _ in range(folds)]
    for name in data.classes:
        entries = [
            entry
            for split in ("train", "val")
            for entry in data.splits.get(split, {}).get(name, ClassList()).entries()
        ]
        entries.sort(key=lambda entry: entry.crop_id)
        rng.shuffle(entries)
        for k in range(folds):
            dealt[k][name] = entries[k::folds]
    return dealt


def fold_data(data: DataFile, fold: int, folds: int, seed: int) -> DataFile:
    """Train on every fold but `fold`; `fold` is the test split (and, one crop a class, the validation
    split that training needs for its progress lines: the last epoch ships, so it picks nothing)."""
    from functions.core.dataset.build import ClassList, DataFile

    if not 0 <= fold < folds:
        raise ValueError(f"--fold must be in 0..{folds - 1}, got {fold}")
    dealt = deal_folds(data, folds, seed)

    def column(entries: Sequence[Entry]) -> ClassList:
        return ClassList(
            crop_ids=[e.crop_id for e in entries],
            image_ids=[e.image_id for e in entries],
            group_ids=[e.group_id for e in entries],
            uris=[e.uri for e in entries],
            copies=[e.copies for e in entries],
        )

    held = dealt[fold]
    train = {
        name: [e for k, part in enumerate(dealt) if k != fold for e in part[name]] for name in data.classes
    }
    return DataFile(
        dataset_version=f"{data.dataset_version}-fold{fold}of{folds}-seed{seed}",
        classes=data.classes,
        splits={
            "train": {name: column(train[name]) for name in data.classes},
            "val": {name: column(held[name][:1]) for name in data.classes},
            "test": {name: column(held[name]) for name in data.classes},
        },
    )


def paired_result(baseline: Sequence[bool], candidate: Sequence[bool]) -> dict[str, Any]:
    """Top-1 of both arms on the same crops and the exact two-sided McNemar p-value."""
    if len(baseline) != len(candidate) or not baseline:
        raise ValueError(
            f"need the same, non-empty crops for both arms ({len(baseline)} vs {len(candidate)})"
        )
    gained = sum(1 for a, b in zip(baseline, candidate, strict=True) if b and not a)
    lost = sum(1 for a, b in zip(baseline, candidate, strict=True) if a and not b)
    return {
        "crops": len(baseline),
        "baseline_top1": round(sum(baseline) / len(baseline), 4),
        "candidate_top1": round(sum(candidate) / len(candidate), 4),
        "gained": gained,
        "lost": lost,
        "p_two_sided": round(min(1.0, 2 * mcnemar_one_sided(max(gained, lost), min(gained, lost))), 4),
    }


def held_out_seen(lineage_file: Path, held_out: set[str]) -> int:
    """How many of the held-out crops the skill version of `lineage_file` trained on. Its validation
    crops are not counted: a parent trained by this procedure validates on one held-out crop a class
    for its progress lines only (the last epoch ships), and a `make skills` parent trained on the rest."""
    from functions.core.dataset.extract import LineageRecord

    if not lineage_file.is_file():
        raise ValueError(f"{lineage_file} is missing: what that skill version trained on is unknown")
    lineage = LineageRecord.model_validate_json(lineage_file.read_text(encoding="utf-8"))
    return len(held_out & set(lineage.crop_ids.get("train", [])))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", type=Path, required=True, help="skill config (its data set is dealt)")
    parser.add_argument("--candidate", type=Path, required=True, help="skill config of the other arm")
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--subset", type=Path, default=default_subset(), help="the labelled photos")
    parser.add_argument(
        "--runs", type=Path, default=REPO / "runs" / "real", help="a `make skills` runs folder"
    )
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "folds")
    parser.add_argument(
        "--parent-skills",
        type=Path,
        default=skills_root(),
        help="where `skill:<name>` starts come from (default: SKILLFORGE_SKILLS_DIR, else out/skills)",
    )
    parser.add_argument(
        "--allow-parent-overlap",
        action="store_true",
        help="go on when a start skill trained on held-out crops (recorded in the output)",
    )
    args = parser.parse_args(argv)
    if not (args.subset / "labels.csv").is_file():
        parser.error(f"{args.subset}/labels.csv not found: set SKILLFORGE_SHARED_DATA or --subset")
    with results_on_stdout():
        try:
            emit_json(compare(args), indent=1)
        except (ValueError, FileNotFoundError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    return 0


def compare(args: argparse.Namespace) -> dict[str, Any]:
    from functions.core.base.versions import code_version
    from functions.core.dataset.build import extract
    from functions.core.dataset.settings import ExtractSettings
    from functions.core.detection.settings import DetectorSettings
    from training.config import load_config
    from training.evaluate import score_split
    from training.train import TrainRequest, train_skill
    from training.transfer import SKILL_PREFIX, models_folder, skill_weights

    baseline, candidate = load_config(args.baseline), load_config(args.candidate)
    if baseline.dataset != candidate.dataset:
        raise ValueError("the two configs must describe the same data set (`dataset` differs)")
    os.environ["SKILLFORGE_SKILLS_DIR"] = str(args.parent_skills)  # where `skill:<name>` starts resolve
    crops_root = args.runs / "crops"  # the same detections as `make skills` (its cached table)
    table, _ = detect_and_crop(args.subset, None, DetectorSettings(), crops_root)
    salt = ExtractSettings.model_fields["split_salt"].default
    data = fold_data(extract(table, baseline.dataset, {}, salt)[0].data, args.fold, args.folds, args.seed)
    held_out = {crop for column in data.splits["test"].values() for crop in column.crop_ids}
    overlap: dict[str, int] = {}
    for recipe in (baseline, candidate):
        start = recipe.network.pretrained or ""
        if start.startswith(SKILL_PREFIX) and start not in overlap:
            version, weights = skill_weights(start.removeprefix(SKILL_PREFIX), args.parent_skills)
            overlap[start] = seen = held_out_seen(weights.parent / "lineage.json", held_out)
            if seen and not args.allow_parent_overlap:
                raise ValueError(
                    f"{start} (v{version} in {args.parent_skills}) trained on {seen} of the {len(held_out)} "
                    "held-out crops, so they would leak into both arms: pass --parent-skills DIR with a "
                    "version trained without them, or --allow-parent-overlap"
                )
    models_dir = models_folder()
    right: dict[str, list[bool]] = {}
    seconds: dict[str, float] = {}
    for arm, recipe in (("baseline", baseline), ("candidate", candidate)):
        config = recipe.model_copy(
            update={"training": recipe.training.model_copy(update={"checkpoint": "last"})}
        )
        run = args.out / f"{data.dataset_version}-{arm}"
        info(f"{arm}: {config.skill}, {config.training.epochs} epochs → {run}")
        train_skill(
            TrainRequest(
                config=config,
                profile=config.default_profile,
                skill_version=1,
                code_version=code_version(),
                dataset=data,
                crops_root=crops_root,
                work_dir=run / "work",
                model_dir=run / "model",
                models_dir=models_dir,
            )
        )
        test = config.training
        scores = score_split(run / "model" / "weights.pt", run / "work" / "data" / "test", test.served_imgsz)
        answers = scores.probabilities(test.tta, test.tta_confidence).argmax(1)
        right[arm] = [bool(r) for r in answers == scores.true]
        seconds[arm] = json.loads((run / "model" / "metrics.json").read_text(encoding="utf-8"))[
            "train_seconds"
        ]
    train_crops = sum(len(c) for c in data.splits["train"].values())
    return {
        "data_set": data.dataset_version,
        "train_crops": train_crops,
        "start_skills_saw_held_out": overlap,
        **paired_result(right["baseline"], right["candidate"]),
        "train_seconds": seconds,
    }


if __name__ == "__main__":
    raise SystemExit(main())
