"""`make bench`: speed, memory, size and cost of the detector backends, measured side by side in one run.

    python -m scripts.bench [--backends ultralytics,openvino] [--repeats 2] [--skip pipeline] [--out out]

Sections are named functions in SECTIONS (each takes the BenchContext and returns a JSON-able dict,
printed by its entry in PRINTERS or as key/value lines); another module adds one by exposing
`run(context) -> dict` (scripts/bench_extract.py is picked up when it exists). Figures go to
out/bench.json.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra.artifacts import DETECT_IMAGE, EVALUATE_IMAGE
from scripts.commands.output import results_on_stdout

REPO = Path(__file__).resolve().parents[1]
PHOTO_FOLDERS = ("cars", "samples", "notcars")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
HEAVY_BACKEND = "ultralytics"
# What each backend ships as in the cloud (infra/artifacts.py): the light backends are the detect image,
# Ultralytics (torch) runs only in the evaluate image.
SHIPPED_AS = {"ultralytics": EVALUATE_IMAGE, "openvino": DETECT_IMAGE, "onnx": DETECT_IMAGE}
LIGHT_REQUIREMENTS = {backend: artifact.requirements for backend, artifact in SHIPPED_AS.items()}
TARGETS = {"speed": 1.5, "cold_start": 3.0, "memory": 0.5, "cost_vs_rekognition": 200.0}


@dataclass
class BenchContext:
    photos: list[Path]
    backends: list[str]
    repeats: int
    lambda_memory_mb: int
    images_per_invocation: int
    models_dir: Path | None
    results: dict[str, Any] = field(default_factory=dict)


Section = Callable[[BenchContext], dict[str, Any]]


def photo_set() -> list[Path]:
    """The real photos of ../shared/data (cars, samples, notcars), else the bundled samples."""
    shared = os.environ.get("SKILLFORGE_SHARED_DATA") or str(REPO.parent / "shared" / "data")
    folders = [Path(shared) / name for name in PHOTO_FOLDERS]
    if not any(folder.is_dir() for folder in folders):
        folders = [REPO / "samples" / "images"]
    return sorted(
        p
        for folder in folders
        if folder.is_dir()
        for p in folder.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES
    )


def worker_env(backend: str | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "YOLO_OFFLINE": "1"}
    if backend:
        env["SKILLFORGE_DETECTOR_BACKEND"] = backend
    return env


def run_worker(backend: str, photos: list[Path]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "scripts.benchlib.worker", backend, *map(str, photos)],
        cwd=REPO,
        env=worker_env(backend),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"benchmark worker for {backend!r} failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def detectors_section(context: BenchContext) -> dict[str, Any]:
    """Each backend in fresh subprocesses, interleaved; the last run (disk cache warm) is reported."""
    from scripts.commands.output import progress

    runs: dict[str, list[dict[str, Any]]] = {backend: [] for backend in context.backends}
    with progress("bench: detector runs", total=context.repeats * len(context.backends)) as bar:
        for _ in range(context.repeats):
            for backend in context.backends:
                bar.update(description=f"bench: {backend}")
                runs[backend].append(run_worker(backend, context.photos))
                bar.advance()
    return {
        backend: {**results[-1], "cold_start_s_runs": [r["cold_start_s"] for r in results]}
        for backend, results in runs.items()
    }


def package_section(context: BenchContext) -> dict[str, Any]:
    from scripts.benchlib.sizes import closure_size, folder_bytes

    model = (context.models_dir or REPO) / "yolo11n_int8_openvino_model"
    model_bytes = folder_bytes(model)
    report: dict[str, Any] = {"model_mb": model_bytes / 1e6}
    for backend in context.backends:
        requirements = REPO / LIGHT_REQUIREMENTS.get(backend, "requirements-lambda-light.txt")
        sizes = closure_size(requirements)
        shipped = SHIPPED_AS.get(backend, DETECT_IMAGE)
        report[backend] = {
            "ships_as": f"{shipped.name} ({shipped.dockerfile})",
            "requirements": requirements.name,
            "site_packages_mb": sizes.total_bytes / 1e6,
            "site_packages_without_gpu_mb": sizes.without_gpu_packages() / 1e6,
            "with_model_mb": (sizes.total_bytes + model_bytes) / 1e6,
            "largest": [f"{name} {size / 1e6:.0f} MB" for name, size in sizes.top(4)],
            "not_installed": sizes.missing,
        }
    return report


def cost_section(context: BenchContext) -> dict[str, Any]:
    from scripts.benchlib.cost import lambda_cost_per_1000

    detectors = context.results["detectors"]
    return {
        backend: lambda_cost_per_1000(
            detectors[backend]["ms_median"], context.lambda_memory_mb, context.images_per_invocation
        ).as_dict()
        for backend in context.backends
    }


def targets_section(context: BenchContext) -> dict[str, Any]:
    """Light backend vs Ultralytics against the issue's targets (PASS or GAP, never hidden)."""
    detectors, costs = context.results["detectors"], context.results["cost"]
    if HEAVY_BACKEND not in detectors:
        return {"skipped": "the Ultralytics backend was not measured"}
    heavy = detectors[HEAVY_BACKEND]
    report: dict[str, Any] = {}
    for light in (b for b in context.backends if b != HEAVY_BACKEND):
        mine = detectors[light]
        checks = {
            "speed": (heavy["ms_median"] / mine["ms_median"], ">=", TARGETS["speed"]),
            "cold_start": (heavy["cold_start_s"] / mine["cold_start_s"], ">=", TARGETS["cold_start"]),
            "memory": (mine["peak_rss_mb"] / heavy["peak_rss_mb"], "<=", TARGETS["memory"]),
            "cost_vs_rekognition": (
                costs[light]["times_cheaper_than_rekognition"],
                ">=",
                TARGETS["cost_vs_rekognition"],
            ),
        }
        report[light] = {
            name: {
                "value": value,
                "target": f"{op} {target}",
                "status": "PASS" if (value >= target if op == ">=" else value <= target) else "GAP",
            }
            for name, (value, op, target) in checks.items()
        }
    return report


def pipeline_section(context: BenchContext) -> dict[str, Any]:
    from scripts.benchlib.pipeline import run_pipeline

    return run_pipeline(context.photos)


SECTIONS: dict[str, Section] = {
    "detectors": detectors_section,
    "package_size": package_section,
    "cost": cost_section,
    "targets": targets_section,
    "pipeline": pipeline_section,
}
OPTIONAL_SECTIONS = {
    "dataset_extraction": "scripts.bench_extract",
    "serving": "scripts.bench_serving",
    "shipped": "scripts.bench_artifacts",  # size and cold start of the cloud's detect artifact
}


def optional_sections() -> dict[str, Section]:
    """Sections other modules provide (`run(context) -> dict`), when those modules exist."""
    found: dict[str, Section] = {}
    for name, module_name in OPTIONAL_SECTIONS.items():
        if importlib.util.find_spec(module_name) is not None:
            found[name] = importlib.import_module(module_name).run
    return found


# ---------------------------------------------------------------- printing


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    line = "  ".join([f"{{:<{widths[0]}}}", *(f"{{:>{w}}}" for w in widths[1:])])
    return [line.format(*headers), line.format(*("-" * w for w in widths))] + [line.format(*r) for r in rows]


def print_detectors(data: dict[str, Any]) -> list[str]:
    backends = list(data)
    rows = [
        ["warm ms/image, median", *(f"{data[b]['ms_median']:.1f}" for b in backends)],
        ["warm ms/image, p95", *(f"{data[b]['ms_p95']:.1f}" for b in backends)],
        ["cold start s (import+load+1st image)", *(f"{data[b]['cold_start_s']:.2f}" for b in backends)],
        ["  of which import s", *(f"{data[b]['import_s']:.2f}" for b in backends)],
        ["  of which model load s", *(f"{data[b]['load_s']:.2f}" for b in backends)],
        ["  of which first image s", *(f"{data[b]['first_image_s']:.2f}" for b in backends)],
        [
            "cold start s, every run",
            *(" / ".join(f"{v:.2f}" for v in data[b]["cold_start_s_runs"]) for b in backends),
        ],
        ["peak RSS MB", *(f"{data[b]['peak_rss_mb']:.0f}" for b in backends)],
        ["timed detections (images x rounds)", *(str(data[b]["detections"]) for b in backends)],
        ["vehicles found (1 round)", *(str(data[b]["vehicles_found"]) for b in backends)],
        ["torch imported", *(str(data[b]["torch_imported"]) for b in backends)],
    ]
    return _table(["detector backend", *backends], rows)


def print_package(data: dict[str, Any]) -> list[str]:
    backends = [b for b in data if isinstance(data[b], dict)]
    rows = [
        ["ships as (cloud)", *(data[b].get("ships_as", "-") for b in backends)],
        ["requirements set", *(data[b]["requirements"] for b in backends)],
        ["site-packages MB (RECORD sums)", *(f"{data[b]['site_packages_mb']:.0f}" for b in backends)],
        [
            "  without nvidia/cuda/triton MB",
            *(f"{data[b]['site_packages_without_gpu_mb']:.0f}" for b in backends),
        ],
        ["+ model MB", *(f"{data[b]['with_model_mb']:.0f}" for b in backends)],
    ]
    lines = _table(["package size", *backends], rows)
    for backend in backends:
        lines.append(f"largest in {backend}: {', '.join(data[backend]['largest'])}")
    return lines


def print_cost(data: dict[str, Any]) -> list[str]:
    backends = list(data)
    rows = [
        ["Lambda memory MB", *(str(data[b]["lambda_memory_mb"]) for b in backends)],
        ["ms/image used (median, this CPU)", *(f"{data[b]['ms_per_image']:.1f}" for b in backends)],
        ["Lambda USD / 1,000 images", *(f"{data[b]['usd_per_1000_images']:.5f}" for b in backends)],
        [
            "Rekognition DetectLabels USD / 1,000",
            *(f"{data[b]['rekognition_usd_per_1000_images']:.2f}" for b in backends),
        ],
        [
            "times cheaper than Rekognition",
            *(f"{data[b]['times_cheaper_than_rekognition']:.0f}x" for b in backends),
        ],
    ]
    first: dict[str, Any] = next(iter(data.values()), {})
    return [*_table(["cost estimate", *backends], rows), f"prices: {first.get('source', '')}"]


def print_targets(data: dict[str, Any]) -> list[str]:
    if "skipped" in data:
        return [f"skipped: {data['skipped']}"]
    rows = [
        [f"{light}: {name}", f"{check['value']:.2f}", check["target"], check["status"]]
        for light, checks in data.items()
        for name, check in checks.items()
    ]
    return _table(["target (light vs Ultralytics)", "measured", "target", "result"], rows)


def print_pipeline(data: dict[str, Any]) -> list[str]:
    lines = [
        f"backend {data['backend']}: {data['catalogued']}/{data['images']} images catalogued, "
        f"{data['crops']} crops, {data['delivery_failures']} delivery failures",
        f"throughput {data['images_per_s']:.2f} images/s ({data['elapsed_s']:.1f} s; "
        f"detector cold start {data['cold_start_s']:.2f} s not included)",
        "profile (top functions by cumulative time; per-record wrappers above 90% left out):",
    ]
    rows = [
        [p["function"][:78], str(p["calls"]), f"{p['cumulative_s']:.2f}", f"{p['share']:.0%}"]
        for p in data["profile"]
    ]
    return lines + _table(["function", "calls", "cum s", "share"], rows)


PRINTERS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "detectors": print_detectors,
    "package_size": print_package,
    "cost": print_cost,
    "targets": print_targets,
    "pipeline": print_pipeline,
}


def print_section(name: str, data: dict[str, Any]) -> None:
    print(f"\n== {name} ==")
    if "error" in data or name not in PRINTERS:
        lines = [f"{key}: {value}" for key, value in data.items()]
    else:
        lines = PRINTERS[name](data)
    for line in lines:
        print(f"  {line}")
    sys.stdout.flush()


# ---------------------------------------------------------------- entry point


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--backends", default="ultralytics,openvino", help="comma-separated detector backends"
    )
    parser.add_argument(
        "--repeats", type=int, default=2, help="fresh subprocesses per backend (last reported)"
    )
    parser.add_argument("--skip", default="", help="comma-separated section names to skip")
    parser.add_argument("--out", type=Path, default=REPO / "out", help="folder for bench.json")
    parser.add_argument(
        "--lambda-memory-mb",
        type=int,
        default=int(os.environ.get("SKILLFORGE_DETECT_MEMORY_MB", "2048")),
        help="memory of the detect Lambda (env SKILLFORGE_DETECT_MEMORY_MB)",
    )
    parser.add_argument("--batch-size", type=int, default=10, help="images per Lambda invocation (SQS batch)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not os.environ.get("SKILLFORGE_MODELS_DIR") and (REPO.parent / "shared" / "models").is_dir():
        os.environ["SKILLFORGE_MODELS_DIR"] = str(REPO.parent / "shared" / "models")
    os.environ.setdefault("YOLO_OFFLINE", "1")
    from training.transfer import models_folder

    models_dir = models_folder()
    context = BenchContext(
        photos=photo_set(),
        backends=[b.strip() for b in args.backends.split(",") if b.strip()],
        repeats=max(1, args.repeats),
        lambda_memory_mb=args.lambda_memory_mb,
        images_per_invocation=args.batch_size,
        models_dir=models_dir,
    )
    if not context.photos:
        print("bench: no photos found (set SKILLFORGE_SHARED_DATA)", file=sys.stderr)
        return 2
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    machine: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": _cpu_name(),
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "python": platform.python_version(),
        "photos": len(context.photos),
    }
    print(
        f"skillforge bench — {machine['date']} on {machine['cpu']} ({machine['cpus']} CPUs, shared), "
        f"{machine['photos']} photos"
    )
    started = time.perf_counter()
    for name, section in {**SECTIONS, **optional_sections()}.items():
        if name in skip:
            continue
        try:
            with results_on_stdout():  # library chatter and handler logs on stderr, the figures on stdout
                context.results[name] = section(context)
        except Exception as exc:  # one failing section must not hide the figures of the others
            context.results[name] = {"error": f"{type(exc).__name__}: {exc}"}
        print_section(name, context.results[name])
    load_at_end = os.getloadavg()
    elapsed = time.perf_counter() - started
    machine.update(load_average_at_end=load_at_end, bench_s=elapsed)
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "bench.json"
    target.write_text(
        json.dumps({"machine": machine, **context.results}, indent=2, default=str), encoding="utf-8"
    )
    print(
        f"\nwrote {target} ({elapsed:.0f} s; 1-min load average {load_at_end[0]:.1f}, {os.cpu_count()} CPUs)"
    )
    return 0


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
