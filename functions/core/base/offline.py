"""Keep Ultralytics and OpenVINO offline: no downloads, no telemetry, no pip auto-installs."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def configure_offline() -> None:
    """Set the environment before `ultralytics` or `openvino` is imported (idempotent)."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    os.environ.setdefault("YOLO_VERBOSE", "false")
    os.environ.setdefault("OPENVINO_TELEMETRY_DISABLE", "1")
    config_dir = Path(os.environ.get("YOLO_CONFIG_DIR", Path(tempfile.gettempdir()) / "skillforge-yolo"))
    config_dir.mkdir(parents=True, exist_ok=True)
    os.environ["YOLO_CONFIG_DIR"] = str(config_dir)
    _place_font(config_dir)


def _place_font(config_dir: Path) -> None:
    """Ultralytics plots want Arial.ttf and would download it: give it matplotlib's DejaVuSans."""
    target = config_dir / "Ultralytics" / "Arial.ttf"
    if target.exists():
        return
    try:
        import matplotlib

        source = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    except ImportError:
        return
    if source.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
