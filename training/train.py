"""Training entry point: the same code runs locally and as a SageMaker training job.

SageMaker: channels `config` (skill-config.json), `dataset` (data.json) and `crops` (a ManifestFile
channel of the crops under their S3 keys) arrive as SM_CHANNEL_*; hyperparameters (skill_version,
profile, code_version) as `--name value` arguments; everything for the model goes to SM_MODEL_DIR.
Metrics are printed as `metric_name=value;` lines for SageMaker metric definitions.

Locally: `python -m training.train --config C --data data.json --crops DIR --model-dir DIR --skill-version N`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in {None, ""}:  # run as a script (SageMaker's `python training/train.py`)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import BaseModel, ConfigDict

from functions.core.base.offline import configure_offline
from functions.core.dataset.build import DataFile
from functions.core.dataset.extract import lineage_record
from functions.core.dataset.split import Split
from functions.core.skills.manifest import SkillManifest
from training.charts import write_run_charts
from training.config import SkillConfig, load_config

WEIGHTS_FILE = "weights.pt"
ONNX_FILE = "model.onnx"
SKILL_FILE = "skill.json"
METRICS_FILE = "metrics.json"
LINEAGE_FILE = "lineage.json"


def emit(name: str, value: float) -> None:
    """One metric line that a SageMaker metric definition `name=([0-9.]+);` picks up."""
    print(f"{name}={value:.6g};", flush=True)


class TrainRequest(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    config: SkillConfig
    profile: str
    skill_version: int
    code_version: str
    dataset: DataFile
    crops_root: Path
    work_dir: Path
    model_dir: Path
    models_dir: Path | None = None


def _trainer_class(augmenter: Any) -> type:
    from torchvision import transforms
    from ultralytics.models.yolo.classify import ClassificationTrainer

    class SkillTrainer(ClassificationTrainer):  # type: ignore[misc]
        """Ultralytics' classification trainer with the skill's augmentations in front of resize/normalise."""

        def build_dataset(self, img_path: str, mode: str = "train", batch: Any = None) -> Any:
            dataset = super().build_dataset(img_path, mode, batch)
            if mode == "train" and augmenter is not None:
                dataset.torch_transforms = transforms.Compose(
                    [augmenter, *dataset.torch_transforms.transforms]
                )
            return dataset

    return SkillTrainer


def train_skill(request: TrainRequest) -> SkillManifest:
    """Materialise the data, train with transfer learning, evaluate on test, export, write skill.json."""
    configure_offline()
    from ultralytics import YOLO  # type: ignore[attr-defined]

    from training.augment import Augmenter, occluder_files, write_contact_sheet
    from training.evaluate import evaluate_folder, write_csvs
    from training.materialise import materialise
    from training.transfer import build_initial_checkpoint, fingerprint

    cfg = request.config
    profile_name, profile = cfg.profile(request.profile)
    started = time.perf_counter()
    data_root = request.work_dir / "data"
    laid_out = materialise(request.dataset, request.crops_root, data_root)
    model_dir = request.model_dir
    model_dir.mkdir(parents=True, exist_ok=True)

    train_dir = data_root / Split.TRAIN.value
    occluders = (
        occluder_files(Path(cfg.augment.occluders_dir))
        if cfg.augment.occluders_dir
        else occluder_files(train_dir)
    )
    augmenter = Augmenter(cfg.augment, occluders=occluders, seed=cfg.training.seed)
    samples = [next(iter(sorted(d.iterdir()))) for d in sorted(train_dir.iterdir()) if any(d.iterdir())][:4]
    write_contact_sheet(
        samples, Augmenter(cfg.augment, occluders, seed=1), model_dir / "augmentations.png", 5, 96
    )

    start_from: str
    transfer: dict[str, Any] = {"source": None, "tensors_loaded": 0}
    if cfg.network.model.endswith((".yaml", ".yml")):
        init = request.work_dir / "init.pt"
        report = build_initial_checkpoint(
            cfg.network, sorted(request.dataset.classes), request.models_dir, init
        )
        transfer = report.model_dump()
        start_from = str(init)
    else:
        start_from = cfg.network.model  # an Ultralytics checkpoint (path, or hub name with internet)

    epoch_times: list[float] = []
    history: list[dict[str, float]] = []
    clock: dict[str, float] = {}

    def on_pretrain_routine_end(trainer: Any) -> None:
        if transfer.get("probe_tensor"):
            found = fingerprint(trainer.model, transfer["probe_tensor"])
            transfer["verified_at_train_start"] = abs(found - transfer["probe_sum"]) <= 1e-3 * max(
                1.0, abs(transfer["probe_sum"])
            )
            if not transfer["verified_at_train_start"]:
                raise RuntimeError("pretrained tensors were lost before training started (model rebuilt)")

    def on_train_epoch_start(trainer: Any) -> None:
        clock["epoch"] = time.perf_counter()

    def on_fit_epoch_end(trainer: Any) -> None:
        if "epoch" not in clock:
            return  # Ultralytics' final validation of best.pt repeats this callback after the last epoch
        seconds = time.perf_counter() - clock.pop("epoch")
        epoch_times.append(seconds)
        metrics = trainer.metrics or {}
        row = {
            "epoch": len(history) + 1,
            "seconds": round(seconds, 2),
            "train_loss": _loss(trainer.tloss),
            "val_top1": float(metrics.get("metrics/accuracy_top1", 0.0)),
            "val_top5": float(metrics.get("metrics/accuracy_top5", 0.0)),
        }
        history.append(row)
        for name, value in row.items():
            emit(name, value)

    model: Any = YOLO(start_from, task="classify")
    model.add_callback("on_pretrain_routine_end", on_pretrain_routine_end)
    model.add_callback("on_train_epoch_start", on_train_epoch_start)
    model.add_callback("on_fit_epoch_end", on_fit_epoch_end)
    t = cfg.training
    model.train(
        trainer=_trainer_class(augmenter),
        data=str(data_root),
        epochs=t.epochs,
        patience=t.patience,
        imgsz=t.imgsz,
        batch=profile.batch or t.batch,
        lr0=t.lr0,
        optimizer=t.optimizer,
        freeze=cfg.network.freeze or None,
        device=profile.device,
        workers=profile.workers,
        seed=t.seed,
        project=str(request.work_dir),
        name="ultralytics",
        exist_ok=True,
        plots=False,
        amp=profile.device != "cpu",
        verbose=False,
        # Ultralytics' own augmentations off: ours run instead (never a vertical flip)
        fliplr=0.0,
        flipud=0.0,
        hsv_h=0.0,
        hsv_s=0.0,
        hsv_v=0.0,
        erasing=0.0,
        auto_augment=None,
        scale=t.crop_scale,
    )
    trainer = model.trainer
    best = Path(trainer.best if Path(trainer.best).is_file() else trainer.last)
    train_seconds = time.perf_counter() - started
    weights = model_dir / WEIGHTS_FILE
    shutil.copyfile(best, weights)

    evaluation = evaluate_folder(weights, data_root / Split.TEST.value, t.imgsz, profile.device)
    csvs = write_csvs(evaluation, model_dir)
    emit("test_top1", evaluation.top1)
    emit("test_top5", evaluation.top5)
    exported = Path(YOLO(str(weights), task="classify").export(format="onnx", imgsz=t.imgsz, simplify=False))
    shutil.move(str(exported), model_dir / ONNX_FILE)

    charts = write_run_charts(history, request.dataset, request.crops_root, model_dir)
    metrics = {
        "test": evaluation.model_dump(),
        "epochs": history,
        "seconds_per_epoch": round(sum(epoch_times) / len(epoch_times), 2) if epoch_times else None,
        "transfer": transfer,
        "val_source": laid_out.val_source,
        "examples": laid_out.counts,
        "files": {**{k: v.name for k, v in csvs.items()}, **charts},
    }
    (model_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=1), encoding="utf-8")
    lineage = lineage_record(request.dataset, cfg.skill, request.skill_version)
    (model_dir / LINEAGE_FILE).write_text(lineage.model_dump_json(indent=1), encoding="utf-8")
    manifest = SkillManifest(
        skill=cfg.skill,
        skill_version=request.skill_version,
        code_version=request.code_version,
        dataset_version=request.dataset.dataset_version,
        config_hash=cfg.config_hash(),
        hardware_profile=profile_name,
        classes=evaluation.classes,
        imgsz=t.imgsz,
        weights=WEIGHTS_FILE,
        onnx=ONNX_FILE,
        metrics={
            "top1": evaluation.top1,
            "top5": evaluation.top5,
            "per_class_recall": {k: v.recall for k, v in evaluation.per_class.items()},
            "test_images": evaluation.images,
            "seconds_per_epoch": metrics["seconds_per_epoch"],
            "pretrained_tensors": transfer.get("tensors_loaded", 0),
        },
        train_seconds=round(train_seconds, 1),
        epochs_run=len(history),
    )
    (model_dir / SKILL_FILE).write_text(manifest.model_dump_json(indent=1), encoding="utf-8")
    emit("train_seconds", train_seconds)
    return manifest


def _loss(tloss: Any) -> float:
    """Ultralytics keeps the running train loss as a dict of named items (or a tensor in older versions)."""
    if tloss is None:
        return float("nan")
    if isinstance(tloss, dict):
        return float(sum(float(v) for v in tloss.values()))
    return float(tloss.sum())


def _sm_dir(channel: str) -> Path | None:
    value = os.environ.get(f"SM_CHANNEL_{channel.upper()}")
    return Path(value) if value else None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="train one skill version (locally or in SageMaker)")
    config_dir, dataset_dir = _sm_dir("config"), _sm_dir("dataset")
    parser.add_argument(
        "--config", type=Path, default=config_dir / "skill-config.json" if config_dir else None
    )
    parser.add_argument("--data", type=Path, default=dataset_dir / "data.json" if dataset_dir else None)
    parser.add_argument("--crops", type=Path, default=_sm_dir("crops"))
    parser.add_argument("--model-dir", "--model_dir", type=Path, default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--work-dir", "--work_dir", type=Path, default=None)
    parser.add_argument("--skill-version", "--skill_version", type=int, required=True)
    parser.add_argument("--profile", default=None)
    parser.add_argument("--code-version", "--code_version", default=None)
    models = _sm_dir("models") or os.environ.get("SKILLFORGE_MODELS_DIR")
    parser.add_argument("--models-dir", "--models_dir", type=Path, default=models)
    args = parser.parse_args(argv)
    for name in ("config", "data", "crops", "model_dir"):
        if getattr(args, name) is None:
            parser.error(f"--{name.replace('_', '-')} is required outside SageMaker")
    return args


def main(argv: list[str] | None = None) -> int:
    from functions.core.base.versions import code_version

    args = parse_args(argv)
    if not args.data.is_file():
        raise FileNotFoundError(f"data file {args.data} does not exist")
    request = TrainRequest(
        config=load_config(args.config),
        profile=args.profile or "",
        skill_version=args.skill_version,
        code_version=args.code_version or code_version(),
        dataset=DataFile.model_validate_json(args.data.read_text(encoding="utf-8")),
        crops_root=args.crops,
        work_dir=args.work_dir or Path(os.environ.get("SM_OUTPUT_DATA_DIR", "runs")) / "work",
        model_dir=args.model_dir,
        models_dir=args.models_dir,
    )
    if not request.profile:
        request.profile = request.config.default_profile
    manifest = train_skill(request)
    print(manifest.model_dump_json(indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
