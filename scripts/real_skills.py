"""Real skills on real photos, through the pipeline: `make skills` (= `python -m scripts.real_skills`).

Stanford Cars subset photos → raw bucket as `<class>/<group>/<file>` → detection crops them (the main
car of each photo inherits its hint) → review accepts the hints → for each skill config: extract →
local training → candidate registered. The trained skill versions are copied to `--out`
(`out/skills/<skill>/v<N>/`, what `skillforge classify --skills-dir out/skills` reads). A config that
starts from another skill (`network.pretrained: "skill:car-model"`) takes that skill's version from
`--out`, so parents come first: car-make → car-model (all 64 models) → the four variant skills. With
--compare-scratch a skill is also trained without the pretrained start (kept in the runs folder
only). The results table (top-1 on the held-out test groups, per class, wall and CPU time,
pretrained vs scratch) is printed and written to docs/training-results/. Not part of CI: minutes.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scripts.commands.output import emit, info, results_on_stdout

if TYPE_CHECKING:
    from functions.core.dataset.spec import DatasetSpec

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "training" / "configs"
COMPARE_CONFIG = CONFIGS / "car-make-compare.json"
DEFAULT_CONFIGS = [
    CONFIGS / f"{name}.json"
    for name in (
        "car-make",
        "car-model",
        "car-variant-audi",
        "car-variant-bmw",
        "car-variant-chevrolet",
        "car-variant-dodge",
    )
]


def default_subset() -> Path:
    """The labelled Stanford Cars subset under SKILLFORGE_SHARED_DATA (or ../shared/data)."""
    shared = Path(os.environ.get("SKILLFORGE_SHARED_DATA", REPO.parent / "shared" / "data"))
    return shared / "stanford-cars-subset"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subset", type=Path, default=default_subset())
    parser.add_argument("--configs", nargs="*", type=Path, default=DEFAULT_CONFIGS)
    parser.add_argument(
        "--compare-scratch", nargs="*", default=[], help="skills also trained from scratch (emulator path)"
    )
    parser.add_argument(
        "--compare",
        type=Path,
        default=None,
        help="a config trained with and without the pretrained backbone at equal cost (not published); "
        f"`make skills` uses {COMPARE_CONFIG.relative_to(REPO)}",
    )
    parser.add_argument(
        "--only-scratch", action="store_true", help="train only the from-scratch runs (a parallel process)"
    )
    parser.add_argument(
        "--direct",
        action="store_true",
        help="no emulator: the same detector, crop geometry, extraction and training, without S3/DynamoDB "
        "(about 10x less CPU for the ingest)",
    )
    parser.add_argument(
        "--update",
        action="store_true",
        help="with --direct: train only --configs and keep the other runs' rows of the existing results "
        "(they must come from the same photos and detections)",
    )
    parser.add_argument("--per-class", type=int, default=None, help="at most N photos per variant class")
    parser.add_argument("--runs", type=Path, default=REPO / "runs" / "real")
    parser.add_argument("--out", type=Path, default=REPO / "out" / "skills", help="skill version folders")
    parser.add_argument("--results", type=Path, default=REPO / "docs" / "training-results")
    args = parser.parse_args(argv)
    if not (args.subset / "labels.csv").is_file():
        parser.error(f"{args.subset}/labels.csv not found: set SKILLFORGE_SHARED_DATA or --subset")
    if args.update and not args.direct:
        parser.error("--update works with --direct only")

    with results_on_stdout():  # training's metric lines and library chatter are progress: stderr
        return make_skills(args, parser)


def make_skills(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """The run behind `main`, with stdout reserved for the results table."""
    from training.config import load_config
    from training.transfer import models_folder

    args.results.mkdir(parents=True, exist_ok=True)
    models_dir = models_folder()
    configs = [load_config(path) for path in args.configs]
    misordered = parents_after_children(configs)
    if misordered:
        parser.error(f"train the parent skill first: {misordered}")
    os.environ["SKILLFORGE_SKILLS_DIR"] = str(args.out.resolve())  # `skill:<name>` starts: this run's
    if args.direct:
        return run_direct(args, configs, models_dir)

    from functions.core.base.catalog import DynamoCatalog
    from functions.core.dataset.wiring import build_extract_deps
    from functions.core.skills.registry import SkillRegistry
    from scripts.local.emulator import running_emulator
    from scripts.local.labelled_ingest import accept_hints, stanford_photos, upload_and_detect
    from training.skill_maker import LocalMakerDeps, make_skill_local

    results: list[dict[str, Any]] = []
    per_class: dict[str, dict[str, Any]] = {}
    datasets: dict[str, Any] = {}
    with running_emulator() as emulator:
        table = emulator.resource("dynamodb").Table(emulator.names.catalog_table)
        catalog = DynamoCatalog(table)
        photos = stanford_photos(args.subset, per_class=args.per_class)
        started = time.perf_counter()
        failures = upload_and_detect(emulator, photos)
        statuses = Counter(record.status.value for record in catalog.iter_images())
        review = accept_hints(catalog)
        ingest = {
            "photos": len(photos),
            "images": dict(statuses),
            "detect_seconds": round(time.perf_counter() - started, 1),
            "delivery_failures": failures,
            "review": dict(review),
        }
        info(json.dumps(ingest))
        deps = LocalMakerDeps(build_extract_deps(), SkillRegistry(table), args.runs, models_dir)
        for config in configs:
            variants = [] if args.only_scratch else [(config, "pretrained")]
            if config.skill in args.compare_scratch:
                scratch = config.model_copy(
                    update={"network": config.network.model_copy(update={"pretrained": None, "freeze": 0})}
                )
                variants.append((scratch, "scratch"))
            for cfg, start in variants:
                made = make_skill_local(cfg, None, deps)
                model_dir = Path(made.model_dir)
                metrics = json.loads((model_dir / "metrics.json").read_text(encoding="utf-8"))
                row = _row(cfg.skill, start, made, metrics)
                results.append(row)
                per_class[f"{cfg.skill}/{start}"] = metrics["test"]["per_class"]
                info(json.dumps(row))
                _write_per_class(args.results / f"per-class-{cfg.skill}-{start}.csv", metrics)
                if made.dataset is not None:
                    datasets[cfg.skill] = made.dataset.report.model_dump(mode="json")
                    (args.results / f"dataset-{cfg.skill}.json").write_text(
                        json.dumps(datasets[cfg.skill], indent=1), encoding="utf-8"
                    )
                if start == "pretrained":
                    _publish(model_dir, args.out / cfg.skill / f"v{made.skill.skill_version:06d}")
                _write_summary_json(args.results, ingest, results, per_class)
    return _write_results(args.results, ingest, results, per_class, datasets)


def parents_after_children(configs: list[Any]) -> list[str]:
    """'child after parent' for each config that starts from a skill listed after it."""
    from training.transfer import SKILL_PREFIX

    order = {config.skill: i for i, config in enumerate(configs)}
    found = []
    for i, config in enumerate(configs):
        start = config.network.pretrained or ""
        parent = start.removeprefix(SKILL_PREFIX) if start.startswith(SKILL_PREFIX) else None
        if parent is not None and order.get(parent, -1) > i:
            found.append(f"{config.skill} starts from {parent}, listed after it")
    return found


def run_direct(args: argparse.Namespace, configs: list[Any], models_dir: Path | None) -> int:
    """Detector → main car's square crop → extraction → training, in this process (no emulator)."""
    from functions.core.base.versions import code_version
    from functions.core.dataset.build import extract
    from functions.core.dataset.settings import ExtractSettings
    from functions.core.detection.settings import DetectorSettings
    from training.config import load_config
    from training.train import TrainRequest, train_skill

    started = time.perf_counter()
    code = code_version()  # before this run rewrites the results folder (which would read as "-dirty")
    crops_root = args.runs / "crops"
    table, ingest = detect_and_crop(args.subset, args.per_class, DetectorSettings(), crops_root)
    ingest["detect_seconds"] = round(time.perf_counter() - started, 1)
    info(json.dumps({k: len(v) if k == "no_car_photos" else v for k, v in ingest.items()}))
    salt = ExtractSettings.model_fields["split_salt"].default
    results: list[dict[str, Any]] = []
    per_class: dict[str, dict[str, Any]] = {}
    datasets: dict[str, Any] = {}
    if args.update:  # the detections are the earlier run's (cached crops), so is the ingest summary
        try:
            earlier = previous_results(args.results, ingest)
        except ValueError as err:
            info(f"error: {err}")
            return 2
        ingest, results, per_class = earlier["ingest"], earlier["runs"], earlier["per_class"]
        datasets = earlier["datasets"]
    runs: list[tuple[Any, bool]] = [(config, False) for config in configs]
    if args.compare:
        runs.append((load_config(args.compare), True))
    for config, comparing in runs:
        extraction, _ = extract(table, config.dataset, {}, salt)
        if not extraction.data.classes:
            reasons = extraction.report.exclusion_reasons or extraction.report.excluded_classes
            info(f"error: {config.skill}: every class was left out of its data set: {reasons}")
            return 2
        datasets[config.skill] = extraction.report.model_dump(mode="json")
        (args.results / f"dataset-{config.skill}.json").write_text(
            json.dumps(datasets[config.skill], indent=1), encoding="utf-8"
        )
        variants = [] if args.only_scratch else [(config, "pretrained")]
        if comparing or config.skill in args.compare_scratch:
            scratch = config.model_copy(
                update={"network": config.network.model_copy(update={"pretrained": None, "freeze": 0})}
            )
            variants.append((scratch, "scratch"))
        if comparing:
            tag = f"{config.training.imgsz}px-{config.training.epochs}ep"
            variants = [(cfg, f"{start}-{tag}") for cfg, start in variants]
        for version, (cfg, start) in enumerate(variants, start=1):
            publish = start == "pretrained"
            run_dir = args.runs / cfg.skill / start
            request = TrainRequest(
                config=cfg,
                profile=cfg.default_profile,
                skill_version=version,
                code_version=code,
                dataset=extraction.data,
                crops_root=crops_root,
                work_dir=run_dir / "work",
                model_dir=run_dir / "model",
                models_dir=models_dir,
            )
            manifest = train_skill(request)
            metrics = json.loads((run_dir / "model" / "metrics.json").read_text(encoding="utf-8"))
            row = _row(cfg.skill, start, _Made(manifest), metrics)
            missed = missed_test_photos(ingest.get("no_car_photos", {}), cfg.dataset, salt)
            row["test_photos_no_car"] = missed
            row["full_stack_top1"] = full_stack_top1(row["top1"], row["test_images"], missed)
            results = merge_run(results, row)
            per_class[f"{cfg.skill}/{start}"] = metrics["test"]["per_class"]
            info(json.dumps(row))
            _write_per_class(args.results / f"per-class-{cfg.skill}-{start}.csv", metrics)
            if publish:
                _publish(run_dir / "model", args.out / cfg.skill / f"v{version:06d}")
            _write_summary_json(args.results, ingest, results, per_class)
    return _write_results(args.results, ingest, results, per_class, datasets)


def missed_test_photos(no_car: dict[str, str], spec: DatasetSpec, salt: str) -> int:
    """How many photos of the skill's classes on the test side of the split yielded no crop (no car found)."""
    from functions.core.dataset.split import Split, hashed_split

    policy = spec.split_policy(salt)
    return sum(
        1
        for group, label in no_car.items()
        if spec.class_of(label) is not None and hashed_split(group, policy) is Split.TEST
    )


def full_stack_top1(top1: float, test_crops: int, missed: int) -> float:
    """Top-1 over every test photo, photo → detector → main car → skill: a photo without a crop is wrong."""
    photos = test_crops + missed
    return round(round(top1 * test_crops) / photos, 4) if photos else 0.0


def previous_results(results_dir: Path, ingest: dict[str, Any]) -> dict[str, Any]:
    """The runs, per-class figures and data set reports of the results folder, for `--update`.
    Raises ValueError when there are none, or when they came from other photos or detections."""
    path = results_dir / "summary.json"
    if not path.is_file():
        raise ValueError(f"--update: no earlier results in {path}; run every skill first (make skills)")
    summary = json.loads(path.read_text(encoding="utf-8"))
    same = ("photos", "images", "review")
    if any(summary.get("ingest", {}).get(key) != ingest.get(key) for key in same):
        earlier = {key: summary.get("ingest", {}).get(key) for key in same}
        now = {key: ingest.get(key) for key in same}
        raise ValueError(
            f"--update: the results in {path} came from other photos or detections ({earlier} vs {now}); "
            "run every skill (make skills)"
        )
    skills = {run["skill"] for run in summary["runs"]}
    datasets = {
        skill: json.loads((results_dir / f"dataset-{skill}.json").read_text(encoding="utf-8"))
        for skill in skills
        if (results_dir / f"dataset-{skill}.json").is_file()
    }
    return {
        "ingest": summary["ingest"],
        "runs": summary["runs"],
        "per_class": summary["per_class"],
        "datasets": datasets,
    }


def merge_run(results: list[dict[str, Any]], row: dict[str, Any]) -> list[dict[str, Any]]:
    """`results` with `row` in place of the run of the same skill and start, or after them."""
    key = (row["skill"], row["start"])
    if any((run["skill"], run["start"]) == key for run in results):
        return [row if (run["skill"], run["start"]) == key else run for run in results]
    return [*results, row]


class _Made:
    """What `_row` reads of a made skill, for a run without the registry."""

    def __init__(self, manifest: Any) -> None:
        self.skill = manifest


def detect_and_crop(
    subset: Path, per_class: int | None, settings: Any, crops_root: Path
) -> tuple[Any, dict[str, Any]]:
    """Every labelled photo through the detector; the main car's square crop gets the photo's label."""
    import hashlib

    from functions.core.dataset.build import RecordTable
    from functions.core.detection.crops import crop, crop_id, crop_key
    from functions.core.detection.detect import analyse_image
    from functions.core.detection.images import encode_jpeg
    from functions.core.detection.upload_keys import image_id_for
    from functions.core.detection.wiring import build_detector
    from scripts.local.labelled_ingest import stanford_photos

    detector_key = hashlib.sha256(settings.model_dump_json(exclude={"models_dir"}).encode()).hexdigest()[:12]
    cache = crops_root / f"table-{per_class or 'all'}-{detector_key}.json"
    if cache.is_file():  # the crops of an earlier run, same photos and detector settings: no second pass
        saved = json.loads(cache.read_text(encoding="utf-8"))
        return RecordTable(**saved["table"]), saved["ingest"]
    detector = build_detector(settings)
    table = RecordTable()
    statuses: Counter[str] = Counter()
    no_car: dict[str, str] = {}  # group → label of photos that yield no crop: wrong through the full stack
    for photo in stanford_photos(subset, per_class=per_class):
        data = photo.path.read_bytes()
        analysis = analyse_image(data, detector, settings)
        statuses[analysis.status.value] += 1
        if analysis.image is None or not analysis.cars:
            no_car[photo.group] = photo.label
            continue
        main = analysis.main_car(settings.main_car_rule)
        if main is None:
            continue
        image_id = image_id_for(photo.key)
        key = crop_key(image_id, main)
        target = crops_root / key
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(
                encode_jpeg(crop(analysis.image, analysis.cars[main].box, settings.crop_padding))
            )
        content = f"{hashlib.sha256(data).hexdigest()}#{main}"
        table.append(crop_id(image_id, main), image_id, photo.group, photo.label, "local", key, content)
    ingest = {
        "photos": sum(statuses.values()),
        "images": dict(statuses),
        "review": {"verified": len(table)},
        "no_car_photos": no_car,
    }
    crops_root.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"table": vars(table), "ingest": ingest}), encoding="utf-8")
    return table, ingest


def _row(skill: str, start: str, made: Any, metrics: dict[str, Any]) -> dict[str, Any]:
    return {
        "skill": skill,
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
        "train_seconds": metrics.get("train_seconds", made.skill.train_seconds),
        "train_cpu_seconds": metrics.get("train_cpu_seconds"),
        "pretrained_tensors": metrics["transfer"].get("tensors_loaded", 0),
        "transfer_verified": metrics["transfer"].get("verified_at_train_start", False),
        "served_same_answer": _served(metrics),
    }


def _served(metrics: dict[str, Any]) -> str | None:
    """'same/crops': test crops the exported version, served as uploads are, answers as the figure counted."""
    check = metrics.get("served_check")
    return None if check is None else f"{check['same_answer']}/{check['crops']}"


def _publish(model_dir: Path, target: Path) -> None:
    """The skill version folder that `classify --skills-dir` reads (older copies of the skill replaced)."""
    if target.parent.exists():
        shutil.rmtree(target.parent)
    shutil.copytree(model_dir, target)


def _write_per_class(path: Path, metrics: dict[str, Any]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["class", "test_images", "accuracy_recall", "precision"])
        for name, m in metrics["test"]["per_class"].items():
            writer.writerow([name, m["support"], m["recall"], m["precision"]])


def _write_summary_json(
    results_dir: Path, ingest: dict[str, Any], results: list[dict[str, Any]], per_class: dict[str, Any]
) -> None:
    """summary.json after every run, so an interrupted `make skills` keeps what it measured."""
    summary = {"ingest": ingest, "runs": results, "per_class": per_class}
    (results_dir / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")


def _write_results(
    results_dir: Path,
    ingest: dict[str, Any],
    results: list[dict[str, Any]],
    per_class: dict[str, Any],
    datasets: dict[str, Any],
) -> int:
    """summary.csv and the README table of the results folder; the table is also the command's output."""
    write_summary_csv(results_dir / "summary.csv", results)
    text = results_table(ingest, results, per_class, datasets)
    (results_dir / "README.md").write_text(text, encoding="utf-8")
    emit(text.rstrip("\n"))
    return 0


def write_summary_csv(path: Path, results: list[dict[str, Any]]) -> None:
    if not results:
        return
    # every row's columns, in order: rows kept by --update may lack columns added since
    fields = list(dict.fromkeys(key for row in results for key in row))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(results)


def results_table(
    ingest: dict[str, Any],
    results: list[dict[str, Any]],
    per_class: dict[str, dict[str, Any]],
    datasets: dict[str, Any],
) -> str:
    """The results as Markdown: one row per skill and start, then per-class accuracy of each skill."""
    lines = [
        "# Training results (`make skills`)",
        "",
        "Top-1 on each skill's **test split**: the held-out groups (photos) of its data set, never used",
        "for training or checkpoint selection, cropped by the detector exactly as uploads are.",
        "*Full stack*: the same over every test-side photo of the skill's classes, photo → detector → main",
        "car → skill, where a photo the detector finds no car in counts as wrong.",
        "*Served*: test crops that the exported version, loaded as serving loads it, answers as the figure",
        "counted (– where the run predates the check).",
        f"Photos: {ingest['photos']} uploaded; images by status: {ingest['images']};",
        f"review (main car verified, other cars rejected): {ingest['review']}.",
        "",
        "| skill | start | classes | train crops | test crops | top-1 | test photos without a car "
        "| full stack | served | epochs | wall s | CPU s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        full = f"{r['full_stack_top1']:.3f}" if "full_stack_top1" in r else "–"
        lines.append(
            f"| {r['skill']} | {r['start']} | {r['classes']} | {r['train_examples']} | {r['test_images']} "
            f"| **{r['top1']:.3f}** | {r.get('test_photos_no_car', '–')} | {full} "
            f"| {r.get('served_same_answer') or '–'} | {r['epochs']} "
            f"| {r['train_seconds']} | {r['train_cpu_seconds']} |"
        )
    for key, classes in per_class.items():
        lines += ["", f"## {key}: per class (test split)", ""]
        lines += ["| class | test crops | accuracy | precision |", "|---|---|---|---|"]
        for name, m in classes.items():
            lines.append(f"| {name} | {m['support']} | {m['recall']:.3f} | {m['precision']:.3f} |")
    dropped = {skill: report.get("exclusion_reasons", {}) for skill, report in datasets.items()}
    if any(dropped.values()):
        lines += ["", "## Classes left out", ""]
        for skill, reasons in dropped.items():
            lines.extend(f"- {skill}: {name}: {reason}" for name, reason in reasons.items())
    conflicts = {skill: report.get("conflicting_duplicates", {}) for skill, report in datasets.items()}
    if any(conflicts.values()):
        lines += ["", "## Identical photos with conflicting labels (left out, to review)", ""]
        for skill, found in conflicts.items():
            lines.extend(f"- {skill}: {content}: {', '.join(names)}" for content, names in found.items())
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
