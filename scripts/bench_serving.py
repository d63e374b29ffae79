"""Benchmark of serving (the `serving` section of `make bench`; `python -m scripts.bench_serving`).

Measured side by side in one run, on the real photos:
  1. classification ms per crop with the make skill on ONNX Runtime: the network, served input size and
     test-time augmentation of training/configs/car-make.json (yolov5n-cls, 4 makes, 320 px, flip TTA:
     two forward passes a crop, fewer with a flip confidence) exported to ONNX as training does; the
     weights are the untrained network's unless `--skill` names a trained version folder (timing depends
     on them only through the flip confidence: an untrained network is never confident, so every crop
     runs twice, the upper bound); crops are the real detector's square crops of the photos;
  2. the whole upload (S3 event → queue → detect handler → detect + serve + crops + records, on the
     embedded emulator) in ms/image, divided by the detector's own ms/image inside the same run,
     with serving on (the make skill deployed) and off.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
MAKE_CONFIG = REPO / "training" / "configs" / "car-make.json"
TARGET_MS_PER_CROP = 15.0
TARGET_UPLOAD_RATIO = 2.0


def make_skill_folder(folder: Path) -> Path:
    """A car-make skill version folder (skill.json + model.onnx) with the configured network, untrained."""
    import torch
    from ultralytics import YOLO  # type: ignore[attr-defined]
    from ultralytics.nn.tasks import ClassificationModel

    from functions.core.base.offline import configure_offline
    from functions.core.skills.manifest import SkillManifest
    from functions.core.skills.model import MANIFEST_FILE
    from training.config import load_config

    configure_offline()
    config = load_config(MAKE_CONFIG)
    served = config.training.served_imgsz  # what the skill is tested and served at
    classes = [c.name for c in config.dataset.classes or []]
    network = config.network.model
    yaml = REPO / "training" / "networks" / network
    torch.manual_seed(0)
    model: Any = ClassificationModel(str(yaml if yaml.is_file() else network), nc=len(classes), verbose=False)  # type: ignore[no-untyped-call]
    model.names = dict(enumerate(classes))
    model.args = {"imgsz": served, "task": "classify"}
    model.eval()
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / "weights.pt"
    torch.save({"model": model, "train_args": dict(model.args), "epoch": -1}, weights)
    exported = Path(YOLO(str(weights), task="classify").export(format="onnx", imgsz=served, verbose=False))
    exported.replace(folder / "model.onnx")
    manifest = SkillManifest(
        skill=config.skill,
        skill_version=1,
        code_version="bench",
        dataset_version="untrained",
        config_hash=config.config_hash(),
        hardware_profile="laptop",
        classes=classes,
        imgsz=served,
        weights="weights.pt",
        onnx="model.onnx",
        tta=config.training.tta,
        tta_confidence=config.training.tta_confidence,
    )
    (folder / MANIFEST_FILE).write_text(manifest.model_dump_json(indent=1), encoding="utf-8")
    return folder


def car_crops(photos: list[Path]) -> tuple[list[Image.Image], float]:
    """Crops of every car the light detector finds in the photos, and its median ms/image."""
    from functions.core.detection.crops import crop
    from functions.core.detection.detect import analyse_image
    from functions.core.detection.settings import DetectorSettings
    from functions.core.detection.wiring import build_detector

    settings = DetectorSettings()
    detector = build_detector(settings)
    crops: list[Image.Image] = []
    times: list[float] = []
    for path in photos:
        analysis = analyse_image(path.read_bytes(), detector, settings)
        times.append(analysis.elapsed_ms)
        if analysis.image is not None:
            crops.extend(crop(analysis.image, d.box, settings.crop_padding) for d in analysis.cars)
    return crops, statistics.median(times) if times else 0.0


def classify_ms(folder: Path, crops: list[Image.Image], rounds: int = 3) -> dict[str, Any]:
    from functions.core.skills.model import load_classifier

    skill = load_classifier(folder, backend="onnx")
    for image in crops[:3]:
        skill.classify(image)  # warm-up
    skill.runs = 0
    times: list[float] = []
    for _ in range(rounds):
        for image in crops:
            started = time.perf_counter()
            skill.classify(image)
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "skill": skill.manifest.skill,
        "imgsz": skill.manifest.imgsz,
        "classes": len(skill.manifest.classes),
        "model_mb": skill.model_megabytes(),
        "crops": len(crops),
        "weights": f"v{skill.manifest.skill_version} ({skill.manifest.dataset_version})",
        "tta": skill.manifest.tta,
        "tta_confidence": skill.manifest.tta_confidence,
        "network_runs_per_crop": round(skill.runs / len(times), 3) if times else None,
        "ms_per_crop_median": round(statistics.median(times), 2),
        "ms_per_crop_p95": round(times[int(0.95 * (len(times) - 1))], 2),
        "target_ms": TARGET_MS_PER_CROP,
    }


@dataclass
class TimedDetector:
    """The detector with its own time recorded (the denominator of the upload ratio)."""

    inner: Any
    ms: list[float] = field(default_factory=list)

    def detect(self, image: Image.Image) -> Any:
        started = time.perf_counter()
        try:
            return self.inner.detect(image)
        finally:
            self.ms.append((time.perf_counter() - started) * 1000)


def upload_ratio(photos: list[Path], skill_folder: Path) -> dict[str, Any]:
    """ms/image of the whole upload ÷ the detector's ms/image, serving on and off, in one emulator."""
    from functions.core.base.artifacts import Artifacts
    from functions.core.base.storage import BlobStore
    from functions.core.detection.settings import DetectorSettings, PipelineSettings
    from functions.core.detection.wiring import build_detector
    from functions.core.serving.config import CascadeConfig
    from functions.core.serving.settings import ServingSettings
    from functions.core.serving.wiring import build_detect_and_serve_deps
    from functions.core.skills.deployment import DeploymentStore, promote
    from functions.core.skills.model import read_manifest
    from functions.core.skills.registry import SkillRegistry
    from functions.detect import handler as detect_handler
    from scripts.local.delivery import drain_queue
    from scripts.local.emulator import running_emulator

    results: dict[str, Any] = {}
    with running_emulator(stage="bench") as emulator, tempfile.TemporaryDirectory() as cache:
        names = emulator.names
        table = emulator.resource("dynamodb").Table(names.catalog_table)
        manifest = read_manifest(skill_folder)
        uri = f"s3://{names.artifacts_bucket}/skills/{manifest.skill}/v{manifest.skill_version:06d}"
        Artifacts(BlobStore(emulator.client("s3"))).upload_folder(skill_folder, uri)
        registry = SkillRegistry(table)
        registry.register(manifest, uri)
        promote(
            registry,
            DeploymentStore(emulator.client("ssm"), names.stage),
            manifest.skill,
            manifest.skill_version,
            actor="bench",
        )
        detector_settings = DetectorSettings()
        detector = TimedDetector(build_detector(detector_settings))
        serving = ServingSettings(
            stage=names.stage, cascade=CascadeConfig.single(manifest.skill), skills_cache_dir=Path(cache)
        )
        served = build_detect_and_serve_deps(PipelineSettings(), detector_settings, detector, serving)  # type: ignore[call-arg]
        original = detect_handler.deps
        try:
            for label, deps in (("serving_on", served), ("serving_off", replace(served, annotate=None))):
                detect_handler.deps = lambda deps=deps: deps  # type: ignore[assignment,misc]
                if deps.annotate is not None:
                    deps.annotate(
                        [(Image.new("RGB", (64, 64)), _probe_crop())], _probe_image()
                    )  # load the skill
                detector.ms.clear()
                s3 = emulator.client("s3")
                for index, path in enumerate(photos):
                    s3.put_object(
                        Bucket=names.raw_bucket,
                        Key=f"{label}/{index:03d}-{path.name}",
                        Body=path.read_bytes(),
                    )
                started = time.perf_counter()
                stats = drain_queue(
                    emulator.client("sqs"), emulator.queues["detect_queue_url"], detect_handler.handler
                )
                elapsed_ms = (time.perf_counter() - started) * 1000
                upload = elapsed_ms / len(photos)
                detector_ms = sum(detector.ms) / max(1, len(detector.ms))
                results[label] = {
                    "images": len(photos),
                    "delivery_failures": stats.failures,
                    "upload_ms_per_image": round(upload, 1),
                    "detector_ms_per_image": round(detector_ms, 1),
                    "ratio": round(upload / detector_ms, 2) if detector_ms else None,
                }
        finally:
            detect_handler.deps = original  # type: ignore[method-assign]
            detect_handler.deps.cache_clear()
    results["target_ratio"] = TARGET_UPLOAD_RATIO
    return results


def _probe_crop() -> Any:
    from functions.core.base.records import Box, CropRecord

    return CropRecord(
        crop_id="probe-00",
        image_id="probe",
        crop_bucket="-",
        crop_key="-",
        index=0,
        box=Box(x1=0, y1=0, x2=1, y2=1),
        confidence=1.0,
        label="car",
        group_id="-",
        skill="-",
        skill_version=1,
        code_version="-",
    )


def _probe_image() -> Any:
    from functions.core.base.records import ImageRecord, ImageStatus

    return ImageRecord(
        image_id="probe",
        bucket="-",
        key="-",
        group_id="-",
        status=ImageStatus.CARS_FOUND,
        skill="-",
        skill_version=1,
        code_version="-",
    )


def measure(photos: list[Path], skill: Path | None = None) -> dict[str, Any]:
    """Both measurements with the make skill version in `skill`, or the configured network untrained."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = skill or make_skill_folder(Path(tmp) / "car-make")
        crops, detector_ms = car_crops(photos)
        classification = classify_ms(folder, crops)
        classification["detector_ms_per_image_median"] = round(detector_ms, 1)
        return {"classification": classification, "upload": upload_ratio(photos, folder)}


def run(context: Any) -> dict[str, Any]:
    """The `serving` section of `make bench` (scripts/bench.py): the two ratios first, then the detail."""
    result = measure(list(context.photos))
    classification, upload = result["classification"], result["upload"]
    return {
        "classify_ms_per_crop": classification["ms_per_crop_median"],
        "classify_ms_per_crop_p95": classification["ms_per_crop_p95"],
        "classify_target_ms": TARGET_MS_PER_CROP,
        "upload_vs_detector_serving_on": upload["serving_on"]["ratio"],
        "upload_vs_detector_serving_off": upload["serving_off"]["ratio"],
        "upload_target_ratio": TARGET_UPLOAD_RATIO,
        **result,
    }


def main(argv: list[str] | None = None) -> int:
    import argparse

    from scripts.bench import photo_set
    from scripts.commands.output import results_on_stdout

    parser = argparse.ArgumentParser(prog="bench_serving", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--skill",
        type=Path,
        help="a trained car-make version folder (skill.json + model.onnx), e.g. out/skills/car-make/v000001; "
        "default: the configured network, untrained",
    )
    args = parser.parse_args(argv)
    if args.skill is not None:
        from functions.core.skills.model import read_manifest

        try:
            read_manifest(args.skill)
        except (OSError, ValueError) as error:  # pydantic's ValidationError is a ValueError
            parser.error(f"--skill {args.skill}: {error}")
    with results_on_stdout():  # export banners and handler logs on stderr, the figures alone on stdout
        figures = measure(photo_set(), args.skill)
    print(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
