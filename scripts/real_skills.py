"""Real skills on real photos, through the pipeline: `python -m scripts.real_skills`.

Stanford Cars subset photos → raw bucket as `<class>/<group>/<file>` → detection crops them →
review accepts the hints → for each skill config: extract → local training → candidate registered.
With --compare-scratch the same skill is also trained without the pretrained start. Results
(top-1, per-class accuracy, time per epoch) go to docs/training-results/. Not part of CI: minutes.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--subset",
        type=Path,
        default=Path(os.environ.get("SKILLFORGE_SHARED_DATA", REPO.parent / "shared" / "data"))
        / "stanford-cars-subset",
    )
    parser.add_argument("--configs", nargs="+", type=Path, required=True)
    parser.add_argument("--compare-scratch", nargs="*", default=[], help="skills also trained from scratch")
    parser.add_argument("--per-class", type=int, default=None, help="at most N photos per variant class")
    parser.add_argument("--runs", type=Path, default=REPO / "runs" / "real")
    parser.add_argument("--results", type=Path, default=REPO / "docs" / "training-results")
    args = parser.parse_args()

    from functions.core.base.catalog import DynamoCatalog
    from functions.core.dataset.wiring import build_extract_deps
    from functions.core.skills.registry import SkillRegistry
    from scripts.local.emulator import running_emulator
    from scripts.local.labelled_ingest import accept_hints, stanford_photos, upload_and_detect
    from training.config import load_config
    from training.skill_maker import LocalMakerDeps, make_skill_local

    args.results.mkdir(parents=True, exist_ok=True)
    models_dir = (
        Path(os.environ["SKILLFORGE_MODELS_DIR"]) if os.environ.get("SKILLFORGE_MODELS_DIR") else None
    )
    results: list[dict[str, Any]] = []
    with running_emulator() as emulator:
        table = emulator.resource("dynamodb").Table(emulator.names.catalog_table)
        catalog = DynamoCatalog(table)
        photos = stanford_photos(args.subset, per_class=args.per_class)
        started = time.perf_counter()
        failures = upload_and_detect(emulator, photos)
        review = accept_hints(catalog)
        ingest = {
            "photos": len(photos),
            "detect_seconds": round(time.perf_counter() - started, 1),
            "delivery_failures": failures,
            "review": dict(review),
        }
        print(json.dumps(ingest), flush=True)
        deps = LocalMakerDeps(build_extract_deps(), SkillRegistry(table), args.runs, models_dir)
        for path in args.configs:
            config = load_config(path)
            variants = [(config, "pretrained")]
            if config.skill in args.compare_scratch:
                scratch = config.model_copy(
                    update={"network": config.network.model_copy(update={"pretrained": None, "freeze": 0})}
                )
                variants.append((scratch, "scratch"))
            for cfg, start in variants:
                made = make_skill_local(cfg, None, deps)
                metrics = json.loads((Path(made.model_dir) / "metrics.json").read_text())
                row = {
                    "skill": cfg.skill,
                    "start": start,
                    "skill_version": made.skill.skill_version,
                    "dataset_version": made.skill.dataset_version,
                    "classes": len(made.skill.classes),
                    "train_examples": sum(metrics["examples"]["train"].values()),
                    "test_images": metrics["test"]["images"],
                    "top1": metrics["test"]["top1"],
                    "top5": metrics["test"]["top5"],
                    "epochs": made.skill.epochs_run,
                    "seconds_per_epoch": metrics["seconds_per_epoch"],
                    "train_seconds": made.skill.train_seconds,
                    "pretrained_tensors": metrics["transfer"].get("tensors_loaded", 0),
                    "transfer_verified": metrics["transfer"].get("verified_at_train_start", False),
                }
                results.append(row)
                print(json.dumps(row), flush=True)
                with (args.results / f"per-class-{cfg.skill}-{start}.csv").open("w", newline="") as handle:
                    writer = csv.writer(handle)
                    writer.writerow(["class", "test_images", "accuracy_recall", "precision"])
                    for name, m in metrics["test"]["per_class"].items():
                        writer.writerow([name, m["support"], m["recall"], m["precision"]])
                if made.dataset is not None:
                    (args.results / f"dataset-{cfg.skill}.json").write_text(
                        json.dumps(made.dataset.report.model_dump(mode="json"), indent=1)
                    )
                (args.results / "summary.json").write_text(
                    json.dumps({"ingest": ingest, "runs": results}, indent=1)
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
