"""The drift chart of a run: PSI per feature and day against the alarm threshold, and, for the worst
features, the reference's distribution beside the day's (numeric: histograms on the reference's
range; categorical: shares per value). matplotlib is imported only when a chart is drawn (the
monitor Lambda never draws one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from functions.core.base.plots import pyplot, save_png
from functions.core.monitoring.drift import CATEGORICAL, FEATURES, NUMERIC, DriftRun

DRIFT_CHART = "drift.png"
WORST_FEATURES = 3
HISTOGRAM_BINS = 20
REFERENCE, CURRENT = "#2f6fde", "#e67e22"


class DriftChart(BaseModel):
    """What the chart shows (so a test, or a reader of summary.json, can check it without the picture)."""

    path: str
    threshold: float
    days: list[str]
    psi: dict[str, dict[str, float | None]] = Field(description="day → feature → PSI (None: not scored)")
    worst: list[tuple[str, str]] = Field(
        description="(feature, day) drawn as distributions: the largest PSIs, one day each"
    )


def worst_features(run: DriftRun, count: int = WORST_FEATURES) -> list[tuple[str, str]]:
    """The `count` features with the largest PSI of the run, each with the day it peaked."""
    peaks: dict[str, tuple[float, str]] = {}
    for row in run.rows:
        for feature, value in row.features.items():
            if value is not None and (feature not in peaks or value > peaks[feature][0]):
                peaks[feature] = (value, row.day)
    ranked = sorted(peaks.items(), key=lambda item: (-item[1][0], FEATURES.index(item[0])))
    return [(feature, day) for feature, (_, day) in ranked[:count]]


def drift_chart(run: DriftRun, threshold: float, path: Path, worst: int = WORST_FEATURES) -> DriftChart:
    """Draw the run's chart into `path` (PNG) and return what it shows."""
    chart = DriftChart(
        path=str(path),
        threshold=threshold,
        days=[row.day for row in run.rows],
        psi={row.day: dict(row.features) for row in run.rows},
        worst=worst_features(run, worst),
    )
    plt = pyplot()
    columns = max(1, len(chart.worst))
    fig = plt.figure(figsize=(max(9.0, 3.4 * columns), 6.6))
    grid = fig.add_gridspec(2, columns, height_ratios=[1.1, 1.0])
    _psi_panel(fig.add_subplot(grid[0, :]), run, chart)
    for column, (feature, day) in enumerate(chart.worst):
        _distribution_panel(fig.add_subplot(grid[1, column]), run, feature, day)
    fig.suptitle(f"drift against {run.reference_text()}", fontsize=10)
    save_png(fig, path)
    return chart


def _psi_panel(ax: Any, run: DriftRun, chart: DriftChart) -> None:
    features = list(FEATURES)
    width = 0.8 / max(1, len(run.rows))
    for index, row in enumerate(run.rows):
        values = [row.features.get(f) or 0.0 for f in features]
        offsets = [i + (index - (len(run.rows) - 1) / 2) * width for i in range(len(features))]
        ax.bar(offsets, values, width=width, label=f"{row.day} ({row.status})")
    for i, feature in enumerate(features):
        if all(row.features.get(feature) is None for row in run.rows):
            ax.text(i, chart.threshold / 2, "not scored", ha="center", fontsize=7, color="#777", rotation=90)
    ax.axhline(chart.threshold, color="#c0392b", linestyle="--", label=f"alarm {chart.threshold}")
    ax.set_xticks(range(len(features)), features, fontsize=8)
    ax.set(title="PSI per feature and batch (not scored: too few values)", ylabel="PSI")
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(axis="y", alpha=0.3)


def _distribution_panel(ax: Any, run: DriftRun, feature: str, day: str) -> None:
    current = run.samples[day]
    psi = next((r.features.get(feature) for r in run.rows if r.day == day), None)
    if feature in NUMERIC:
        ref, cur = run.reference_sample.numeric[feature], current.numeric[feature]
        low, high = min(ref + cur), max(ref + cur)
        step = (high - low) / HISTOGRAM_BINS
        edges = [low + step * i for i in range(HISTOGRAM_BINS + 1)] if high > low else 1
        for series, label, colour in ((ref, "reference", REFERENCE), (cur, day, CURRENT)):
            name = f"{label} ({len(series)})"
            ax.hist(series, bins=edges, density=True, alpha=0.55, label=name, color=colour)
    elif feature in CATEGORICAL:
        ref_c, cur_c = run.reference_sample.categorical[feature], current.categorical[feature]
        values = sorted(set(ref_c) | set(cur_c))
        positions = range(len(values))
        sides = ((-0.2, ref_c, "reference", REFERENCE), (0.2, cur_c, day, CURRENT))
        for shift, sample, label, colour in sides:
            shares = [sample.count(v) / max(1, len(sample)) for v in values]
            ax.bar([p + shift for p in positions], shares, 0.4, label=label, color=colour)
        ax.set_xticks(list(positions), values, fontsize=7, rotation=30, ha="right")
    ax.set_title(f"{feature}: PSI {psi:.2f} on {day}" if psi is not None else feature, fontsize=9)
    ax.legend(fontsize=7)
