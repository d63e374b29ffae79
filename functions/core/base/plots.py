"""matplotlib for the pictures the project writes (PNG files, PDF report pages): no display, lazy import.

Every chart (training curves, data-set statistics, the gate report's figures, drift charts) draws
through `pyplot()` and saves with `save_png`, so the backend and the closing of figures are set once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (files only); imported on first use, never at module load."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig: Any, path: Path, dpi: int = 110) -> Path:
    """Lay out, write `fig` to `path` as PNG and free it."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi, format="png")
    pyplot().close(fig)
    return path
