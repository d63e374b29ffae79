"""`skillforge models`: which model files the CLI found, where, and how to produce a missing one.

The CLI looks for models (and the real photos) in this order, the first existing folder wins:
  1. `SKILLFORGE_MODELS_DIR` (`SKILLFORGE_SHARED_DATA` for photos), when set;
  2. `../shared/models` (`../shared/data`) beside the repository;
  3. the user folder `$XDG_DATA_HOME/skillforge/models` (default `~/.local/share/skillforge/models`;
     `.../skillforge/data` for photos).
Nothing is downloaded at run time: a missing model is reported with the command that produces it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class KnownModel:
    name: str
    used_by: str
    required: bool
    produce: str


# What the code reads by default (DetectorSettings.detector_model, training/config.py's pretrained
# weights, the onnx backend). `produce` runs once on a machine with internet, in the models folder
# ({bin} = this virtual environment's bin folder); Ultralytics downloads yolo11n.pt / coco8 itself there.
KNOWN_MODELS: tuple[KnownModel, ...] = (
    KnownModel(
        name="yolo11n_int8_openvino_model",
        used_by=(
            "detect, classify, demo, gate (the default openvino detector backend); a skill config may name "
            "it as its pretrained start (training/ir_weights.py)"
        ),
        required=True,
        produce=("{bin}/yolo export model=yolo11n.pt format=openvino int8=True imgsz=640 data=coco8.yaml"),
    ),
    KnownModel(
        name="yolov5n-coco-state-dict.pt",
        used_by="make-skill, demo training (COCO-pretrained backbone of the classifier skills)",
        required=True,
        produce=(
            "git clone --depth 1 https://github.com/ultralytics/yolov5 && cd yolov5 && "
            "curl -LO https://github.com/ultralytics/yolov5/releases/download/v6.1/yolov5n.pt && "
            "{bin}/python -c \"import torch; m = torch.load('yolov5n.pt', weights_only=False)['model']; "
            "torch.save(m.half().state_dict(), 'yolov5n-coco-state-dict.pt')\""
        ),
    ),
    KnownModel(
        name="yolo11n.onnx",
        used_by="detect with SKILLFORGE_DETECTOR_BACKEND=onnx (optional)",
        required=False,
        produce="{bin}/yolo export model=yolo11n.pt format=onnx imgsz=640",
    ),
)


def user_folder(kind: str) -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "skillforge" / kind


def candidate_folders(kind: str) -> list[tuple[str, Path]]:
    """(where it came from, folder) in search order; `kind` is `models` or `data`."""
    variable = "SKILLFORGE_MODELS_DIR" if kind == "models" else "SKILLFORGE_SHARED_DATA"
    found: list[tuple[str, Path]] = []
    if os.environ.get(variable):
        found.append((variable, Path(os.environ[variable])))
    found.append(("beside the repository", REPO.parent / "shared" / kind))
    found.append(("user folder", user_folder(kind)))
    return found


def find_folder(kind: str) -> Path | None:
    """The folder in use: the environment variable when set (even if absent: it was asked for), else the
    first existing candidate."""
    for origin, folder in candidate_folders(kind):
        if origin.startswith("SKILLFORGE_") or folder.is_dir():
            return folder.resolve()
    return None


@contextlib.contextmanager
def default_locations() -> Iterator[None]:
    """While a command runs, SKILLFORGE_MODELS_DIR / SKILLFORGE_SHARED_DATA default to the found folders."""
    saved: dict[str, str | None] = {}
    for kind, variable in (("models", "SKILLFORGE_MODELS_DIR"), ("data", "SKILLFORGE_SHARED_DATA")):
        if os.environ.get(variable):
            continue
        folder = find_folder(kind)
        if folder is not None:
            saved[variable] = os.environ.get(variable)
            os.environ[variable] = str(folder)
    try:
        yield
    finally:
        for variable, value in saved.items():
            if value is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = value


def require_model(name: str) -> None:
    """A clear error (naming the folders searched and `skillforge models`) when a model is missing."""
    if Path(name).exists():
        return
    folder = find_folder("models")
    if folder is not None and (folder / name).exists():
        return
    searched = ", ".join(str(path) for _, path in candidate_folders("models"))
    raise FileNotFoundError(
        f"model {name!r} not found (searched {searched}); "
        "`skillforge models` prints the command that produces it"
    )


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "models", help="list the model files found and how to produce the missing ones"
    )
    parser.add_argument("--format", choices=["table", "jsonl"], default="table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from scripts.commands.output import EXIT_PROBLEM, emit_json, emit_table, info

    folder = find_folder("models")
    rows: list[dict[str, Any]] = []
    for model in KNOWN_MODELS:
        path = folder / model.name if folder is not None else None
        present = path is not None and path.exists()
        rows.append(
            {
                "model": model.name,
                "status": "found" if present else "missing",
                "path": str(path) if present else None,
                "required": model.required,
                "used_by": model.used_by,
                "produce": None if present else model.produce.format(bin=Path(sys.executable).parent),
            }
        )
    info("models folders, in search order (* = in use):")
    marked = False
    for origin, candidate in candidate_folders("models"):
        chosen = not marked and folder is not None and candidate.resolve() == folder
        marked = marked or chosen
        info(f" {'*' if chosen else ' '} {candidate}  ({origin}{'' if candidate.is_dir() else ', absent'})")
    if args.format == "jsonl":
        for row in rows:
            emit_json(row)
    else:
        emit_table(
            ["model", "status", "where / how to produce it"],
            [[r["model"], r["status"], r["path"] or f"in {_target(folder)}: {r['produce']}"] for r in rows],
        )
    missing = [r for r in rows if r["required"] and r["status"] == "missing"]
    return EXIT_PROBLEM if missing else 0


def _target(folder: Path | None) -> str:
    return str(folder) if folder is not None else str(user_folder("models"))
