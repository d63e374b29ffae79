"""What every demo stage shares: the options, the run (emulator, summary, progress) and the stage type."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.commands.output import info
from scripts.local.emulator import Emulator

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
DEFAULT_IMAGES = Path(__file__).resolve().parents[2] / "samples" / "images"


@dataclass
class DemoOptions:
    images_dir: Path = DEFAULT_IMAGES
    out_dir: Path = Path("out")
    auto_approve: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class DemoRun:
    emulator: Emulator
    options: DemoOptions
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def out_dir(self) -> Path:
        return self.options.out_dir

    def progress(self, message: str) -> None:
        info(f"[{time.strftime('%H:%M:%S')}] {message}")

    def write_summary(self) -> Path:
        path = self.out_dir / "summary.json"
        path.write_text(
            json.dumps(self.summary, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
        )
        return path


Stage = Callable[[DemoRun], None]
