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
from training.budget import apply_epoch_budget
from training.charts import write_run_charts
from training.config import CheckpointRule, SkillConfig, load_config, trainer_arguments

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


class SmoothedLoss:
    """Cross-entropy with label smoothing (Ultralytics' classification loss has none)."""

    def __init__(self, label_smoothing: float) -> None:
        self.label_smoothing = label_smoothing

    def __call__(self, preds: Any, batch: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        from torch.nn import functional

        logits = preds[1] if isinstance(preds, list | tuple) else preds
        loss = functional.cross_entropy(logits, batch["cls"], label_smoothing=self.label_smoothing)
        return loss, {"loss": loss.detach()}


def _trainer_class(augmenter: Any, label_smoothing: float) -> type:
    from torchvision import transforms
    from ultralytics.models.yolo.classify import ClassificationTrainer

    class SkillTrainer(ClassificationTrainer):  # type: ignore[misc]
        """Ultralytics' classification trainer with the skill's augmentations in front of resize/normalise,
        label smoothing, and the best checkpoint chosen on validation top-1."""

        def build_dataset(self, img_path: str, mode: str = "train", batch: Any = None) -> Any:
            dataset = super().build_dataset(img_path, mode, batch)
            if mode == "train" and augmenter is not None:
                dataset.torch_transforms = transforms.Compose(
                    [augmenter, *dataset.torch_transforms.transforms]
                )
            return dataset

        def get_model(self, cfg: Any = None, weights: Any = None, verbose: bool = True) -> Any:
            model = super().get_model(cfg=cfg, weights=weights, verbose=verbose)
            model.criterion = SmoothedLoss(label_smoothing)
            return model

        def validate(self) -> tuple[Any, Any]:
            # Ultralytics ranks checkpoints by (top-1 + top-5) / 2; with 4 classes top-5 is always 1.0,
            # so the best checkpoint is the one with the best validation top-1.
            before: float | None = self.best_fitness
            metrics, fitness = super().validate()  # type: ignore[no-untyped-call]
            if metrics is None:
                return metrics, fitness
            top1 = float(metrics.get("metrics/accuracy_top1", 0.0))
            best: Any = top1 if before is None or top1 > before else before
            self.best_fitness = best
            return metrics, top1

    return SkillTrainer


def train_skill(request: TrainRequest) -> SkillManifest:
    """Materialise the data, train with transfer learning, evaluate on test, export, write skill.json."""
    configure_offline()
    import torch
    from ultralytics import YOLO  # type: ignore[attr-defined]

    from training.augment import Augmenter, occluder_files, write_contact_sheet
    from training.evaluate import check_served, score_split, write_csvs
    from training.materialise import materialise
    from training.transfer import build_initial_checkpoint, fingerprint

    cfg = request.config
    profile_name, profile = cfg.profile(request.profile)
    started = time.perf_counter()
    cpu_started = cpu_seconds()
    data_root = request.work_dir / "data"
    laid_out = materialise(request.dataset, request.crops_root, data_root)
    model_dir = request.model_dir
    model_dir.mkdir(parents=True, exist_ok=True)

    train_dir = data_root / Split.TRAIN.value
    # occluders are objects from their own folder, never training crops (another class's car)
    occluders = occluder_files(Path(cfg.augment.occluders_dir)) if cfg.augment.occluders_dir else []
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
            cfg.network,
            sorted(request.dataset.classes),
            request.models_dir,
            init,
            calibration=calibration_sample(train_dir),
            imgsz=cfg.training.imgsz,
            seed=cfg.training.seed,
        )
        transfer = report.model_dump()
        start_from = str(init)
    else:
        start_from = cfg.network.model  # an Ultralytics checkpoint (path, or hub name with internet)

    epoch_times: list[float] = []
    history: list[dict[str, float]] = []
    clock: dict[str, float] = {}
    seen: dict[str, Any] = {}  # how the epochs ran: torch threads, convolution layout
    budget_cuts: list[dict[str, Any]] = []  # where training.time_budget_minutes cut the planned epochs

    def on_pretrain_routine_end(trainer: Any) -> None:
        if trainer.device.type == "cpu":  # after Ultralytics' select_device has set min(8, cores - 1)
            torch.set_num_threads(profile.cpu_threads())
            # Ultralytics keeps NCHW on CPU; NHWC convolutions train this network ~14% faster on 2 cores
            # (same results to float rounding). Parameters are converted in place: the optimiser keeps them.
            trainer.model.to(memory_format=torch.channels_last)
            if trainer.ema:
                trainer.ema.ema.to(memory_format=torch.channels_last)
        if transfer.get("probe_tensor"):
            found = fingerprint(trainer.model, transfer["probe_tensor"])
            transfer["verified_at_train_start"] = abs(found - transfer["probe_sum"]) <= 1e-3 * max(
                1.0, abs(transfer["probe_sum"])
            )
            if not transfer["verified_at_train_start"]:
                raise RuntimeError("pretrained tensors were lost before training started (model rebuilt)")

    def on_train_epoch_start(trainer: Any) -> None:
        clock["epoch"] = time.perf_counter()
        seen["threads"] = torch.get_num_threads()
        seen["channels_last"] = _channels_last(trainer.model)

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
        budget = cfg.training.time_budget_minutes
        if budget is not None:
            cut = apply_epoch_budget(trainer, epoch_times, time.perf_counter() - started, budget * 60)
            if cut is not None:
                budget_cuts.append(cut.model_dump())

    model: Any = YOLO(start_from, task="classify")
    model.add_callback("on_pretrain_routine_end", on_pretrain_routine_end)
    model.add_callback("on_train_epoch_start", on_train_epoch_start)
    model.add_callback("on_fit_epoch_end", on_fit_epoch_end)
    model.train(
        trainer=_trainer_class(augmenter, cfg.training.label_smoothing),
        **trainer_arguments(cfg, profile, data_root, request.work_dir),
    )
    t = cfg.training
    trainer = model.trainer
    shipped = shipped_checkpoint(t.checkpoint, Path(trainer.best), Path(trainer.last))
    train_seconds = time.perf_counter() - started
    train_cpu_seconds = cpu_seconds() - cpu_started
    weights = model_dir / WEIGHTS_FILE
    shutil.copyfile(shipped, weights)

    # each held-out split is scored once; the test figure uses the skill's own TTA setting
    scored = {
        split: score_split(weights, data_root / split.value, t.served_imgsz, profile.device)
        for split in (Split.VAL, Split.TEST)
        if (data_root / split.value).is_dir()
    }
    evaluation = scored[Split.TEST].evaluate(t.tta, t.tta_confidence)
    csvs = write_csvs(evaluation, model_dir)
    # held-out figures for tuning (validation, never test), with and without test-time augmentation
    tuning: dict[str, float] = {
        f"{split.value}_top1_tta_{tta}": scores.evaluate(tta).top1
        for split, scores in scored.items()
        for tta in ("none", "hflip")
    }
    emit("test_top1", evaluation.top1)
    emit("test_top5", evaluation.top5)
    exported = Path(
        YOLO(str(weights), task="classify").export(format="onnx", imgsz=t.served_imgsz, simplify=False)
    )
    shutil.move(str(exported), model_dir / ONNX_FILE)

    charts = write_run_charts(history, request.dataset, request.crops_root, model_dir)
    metrics = {
        "test": evaluation.model_dump(),
        "epochs": history,
        "seconds_per_epoch": round(sum(epoch_times) / len(epoch_times), 2) if epoch_times else None,
        "train_seconds": round(train_seconds, 1),
        "train_cpu_seconds": round(train_cpu_seconds, 1),
        "torch_threads": seen.get("threads"),
        "channels_last": seen.get("channels_last", False),
        "transfer": transfer,
        "checkpoint": {"rule": t.checkpoint, "file": shipped.name},
        "train_imgsz": t.imgsz,
        "epochs_planned": t.epochs,
        "time_budget_minutes": t.time_budget_minutes,
        "budget_cuts": budget_cuts,
        "tta": t.tta,
        "tta_confidence": t.tta_confidence,
        # test crops the served version runs twice (plain and mirror)
        "tta_mirror_share": scored[Split.TEST].mirror_share(t.tta, t.tta_confidence),
        "tta_comparison": tuning,
        "val_source": laid_out.val_source,
        "examples": laid_out.counts,
        "files": {**{k: v.name for k, v in csvs.items()}, **charts},
    }
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
        imgsz=t.served_imgsz,
        weights=WEIGHTS_FILE,
        onnx=ONNX_FILE,
        tta=t.tta,
        tta_confidence=t.tta_confidence,
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
    # what ships is what was scored: the exported version, served, gives the counted answer per test crop
    served = check_served(model_dir, scored[Split.TEST], t.tta, t.tta_confidence)
    metrics["served_check"] = served.model_dump()
    (model_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=1), encoding="utf-8")
    if served.same_answer < served.crops:
        print(
            f"warning: served {cfg.skill} v{request.skill_version} ({served.backend}) answers "
            f"{served.crops - served.same_answer} of {served.crops} test crops differently from its figure",
            file=sys.stderr,
        )
    emit("served_same_answer", served.same_answer / served.crops if served.crops else 1.0)
    emit("train_seconds", train_seconds)
    return manifest


def calibration_sample(train_dir: Path, limit: int = 256) -> list[Path]:
    """Up to `limit` training images, spread evenly over the sorted files of every class (deterministic)."""
    files = sorted(path for path in train_dir.rglob("*") if path.is_file())
    step = max(1, -(-len(files) // limit))
    return files[::step][:limit]


def shipped_checkpoint(rule: CheckpointRule, best: Path, last: Path) -> Path:
    """The checkpoint a skill version ships: the best validation epoch's, else (rule 'last', or no best
    saved) the last epoch's."""
    return best if rule == "best" and best.is_file() else last


def _channels_last(model: Any) -> bool:
    """Whether the network's convolution weights are laid out NHWC."""
    import torch

    weights = [p for p in model.parameters() if p.dim() == 4]
    return bool(weights) and all(p.is_contiguous(memory_format=torch.channels_last) for p in weights)


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (data-loader workers), user + system."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


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
