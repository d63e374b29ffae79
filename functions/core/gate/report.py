"""The PDF model report written after every evaluation (fpdf2 + matplotlib).

Sections: gate decision and versioning, data used (counts per class, class balance, split sizes),
metrics overall / per class / vs current, confusion matrix, latency, failures with Grad-CAM maps.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from functions.core.base.artifacts import Artifacts
from functions.core.base.plots import pyplot
from functions.core.base.records import Box
from functions.core.detection.crops import DEFAULT_CROP_PADDING, crop
from functions.core.detection.images import decode_image
from functions.core.gate.regression import NO_CAR, CaseResult, SideMetrics
from functions.core.gate.rule import GateOutcome
from functions.core.skills.model import CURVES_FILE, DATASET_FILE, ClassifierSkill

if TYPE_CHECKING:
    from fpdf import FPDF

    from functions.core.gate.records import EvaluationRecord

GREEN, ORANGE, GREY = (27, 122, 61), (196, 98, 0), (90, 90, 90)


def class_counts(metrics: dict[str, Any]) -> dict[str, dict[str, int]]:
    """{split: {class: n}} from what training recorded in skill.json (several shapes accepted)."""
    for candidate in (metrics.get("class_counts"), (metrics.get("dataset") or {}).get("class_counts")):
        if isinstance(candidate, dict) and candidate:
            first = next(iter(candidate.values()))
            if isinstance(first, dict):
                return {str(s): {str(c): int(n) for c, n in v.items()} for s, v in candidate.items()}
            return {"train": {str(c): int(n) for c, n in candidate.items()}}
    return {}


def _font_path() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


class _Report:
    def __init__(self) -> None:
        from fpdf import FPDF

        self.pdf: FPDF = FPDF(format="A4")
        self.pdf.set_auto_page_break(auto=True, margin=14)
        font = _font_path()
        self.pdf.add_font("DejaVu", "", str(font))
        self.pdf.add_font("DejaVu", "B", str(font.with_name("DejaVuSans-Bold.ttf")))
        self.pdf.set_font("DejaVu", size=9)

    def heading(self, text: str, size: int = 13) -> None:
        self.pdf.ln(2)
        self.pdf.set_font("DejaVu", "B", size)
        self.pdf.cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_font("DejaVu", "", 9)

    def text(self, text: str, colour: tuple[int, int, int] | None = None) -> None:
        if colour:
            self.pdf.set_text_color(*colour)
        self.pdf.multi_cell(0, 5, text, new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_text_color(0, 0, 0)

    def table(self, rows: list[list[str]], widths: list[float] | None = None) -> None:
        with self.pdf.table(col_widths=widths, text_align="LEFT", line_height=5.5) as table:
            for row in rows:
                cells = table.row()
                for value in row:
                    cells.cell(value)
        self.pdf.ln(2)

    def figure(self, fig: Any, width: float = 180) -> None:
        import matplotlib.pyplot as plt

        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=130, bbox_inches="tight")
        plt.close(fig)
        buffer.seek(0)
        self.pdf.image(buffer, w=width)
        self.pdf.ln(2)


@contextmanager
def _matplotlib() -> Iterator[Any]:
    plt = pyplot()
    with plt.rc_context({"font.size": 8}):
        yield plt


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} ms"


def render_report(
    record: EvaluationRecord, artifacts: Artifacts, candidate: ClassifierSkill, failures: int = 8
) -> bytes:
    report = _Report()
    report.pdf.add_page()
    _cover(report, record)
    _data(report, record)
    _run_pictures(report, candidate.folder)
    report.pdf.add_page()
    _metrics(report, record)
    report.pdf.add_page()
    _confusion_and_latency(report, record)
    report.pdf.add_page()
    _failures(report, record, artifacts, candidate, failures)
    return bytes(report.pdf.output())


def _cover(report: _Report, record: EvaluationRecord) -> None:
    cand, decision = record.candidate, record.decision
    report.heading(f"Model report: {cand.skill} v{cand.skill_version}", size=17)
    promote = decision.outcome is GateOutcome.PROMOTE
    report.heading("Gate decision: " + ("PROMOTE" if promote else "NEEDS INVESTIGATION"), size=12)
    versus = (
        f"v{decision.current_version}" if decision.current_version else "nothing deployed (first version)"
    )
    report.text(f"candidate v{cand.skill_version} vs current {versus} in stage '{record.stage}'", GREY)
    for reason in decision.reasons:
        report.text("• " + reason, GREEN if promote else ORANGE)
    report.heading("Versioning")
    current = record.current
    rows = [
        ["", "candidate", "current"],
        ["skill version", f"v{cand.skill_version}", f"v{current.skill_version}" if current else "—"],
        ["code commit", cand.code_version, current.code_version if current else "—"],
        ["dataset version", cand.dataset_version, current.dataset_version if current else "—"],
        ["config hash", cand.config_hash, current.config_hash if current else "—"],
        ["hardware profile", cand.hardware_profile, current.hardware_profile if current else "—"],
        ["network input", f"{cand.imgsz} px", f"{current.imgsz} px" if current else "—"],
        [
            "trained",
            f"{cand.created_at:%Y-%m-%d %H:%M} UTC, {cand.train_seconds:.0f} s, {cand.epochs_run} epochs",
            f"{current.created_at:%Y-%m-%d %H:%M} UTC" if current else "—",
        ],
        ["artifacts", cand.artifact_uri, current.artifact_uri if current else "—"],
    ]
    report.table(rows, widths=[30, 80, 80])
    det = record.regression.detector
    report.text(
        f"Detector stage: {det['skill']} v{det['skill_version']} (code {det['code_version']}). "
        f"Cascade: {' → '.join(record.cascade.skills())}. Gate config: "
        f"gain ≥ {decision.config.min_accuracy_gain:.1%}, latency {decision.config.latency_percentile} "
        f"≤ current × {1 + decision.config.latency_tolerance:.2f} + {decision.config.latency_slack_ms} ms, "
        f"first version ≥ {decision.config.first_version_min_accuracy:.0%}."
    )


def _data(report: _Report, record: EvaluationRecord) -> None:
    report.heading("Data used")
    counts = record.data_counts or class_counts(record.candidate.metrics)
    regression = record.regression
    sources = ", ".join(f"{n} {source}" for source, n in sorted(regression.cases_by_source.items()))
    report.text(
        f"Training data: dataset version {record.candidate.dataset_version}. Regression inputs: "
        f"{len(regression.results)} images ({sources}); harness version {regression.harness_version or '—'} "
        "(frozen, never used for training); replayed records are verified production photos "
        "of the test split."
    )
    classes = record.candidate.classes
    if counts:
        splits = list(counts)
        rows = [["class", *splits]] + [[c, *(str(counts[s].get(c, 0)) for s in splits)] for c in classes]
        rows.append(["total", *(str(sum(counts[s].values())) for s in splits)])
        report.table(rows)
        with _matplotlib() as plt:
            fig, ax = plt.subplots(figsize=(7, 2.4))
            bottom = [0] * len(classes)
            for split in splits:
                values = [counts[split].get(c, 0) for c in classes]
                ax.bar(classes, values, bottom=bottom, label=split)
                bottom = [b + v for b, v in zip(bottom, values, strict=True)]
            ax.set_title("class balance (images per class and split)")
            ax.legend()
            ax.tick_params(axis="x", rotation=45 if len(classes) > 6 else 0)
            report.figure(fig, width=170)
    else:
        report.text("Class counts were recorded neither in a dataset manifest nor in skill.json.", GREY)


def _run_pictures(report: _Report, folder: Path) -> None:
    """The training run's own pictures (training/charts.py): curves always named, data set when present."""
    report.pdf.add_page()
    report.heading("Training curves")
    curves = folder / CURVES_FILE
    if curves.is_file():
        report.pdf.image(str(curves), w=180)
    else:
        report.text(f"The candidate's model folder has no {CURVES_FILE} (no per-epoch history).", GREY)
    dataset = folder / DATASET_FILE
    if dataset.is_file():
        report.heading("Data set: class balance, groups per class, crop sizes")
        report.pdf.image(str(dataset), w=180)


def _metrics(report: _Report, record: EvaluationRecord) -> None:
    cand, cur = record.regression.candidate, record.regression.current
    report.heading("Metrics (same inputs, side by side)")

    def col(metrics: SideMetrics | None) -> list[str]:
        if metrics is None:
            return ["—"] * 8
        return [
            f"v{metrics.skill_version}",
            f"{_pct(metrics.accuracy)} ({metrics.correct}/{metrics.cases})",
            _pct(metrics.top_k_accuracy),
            _ms(metrics.latency_ms["p50"]),
            _ms(metrics.latency_ms["p95"]),
            _ms(metrics.skill_latency_ms["p95"]),
            f"{metrics.model_mb:.2f} MB",
            f"{metrics.peak_rss_mb:.0f} MB",
        ]

    labels = [
        "version",
        "accuracy",
        f"top-{record.cascade.top_k} accuracy",
        "stack latency p50",
        "stack latency p95",
        "skill stage p95",
        "model size",
        "process peak RSS",
    ]
    rows = [["", "candidate", "current"]]
    rows += [[label, a, b] for label, a, b in zip(labels, col(cand), col(cur), strict=True)]
    report.table(rows, widths=[50, 70, 70])
    report.heading("Per class", size=11)
    rows = [["expected", "cases", "candidate", "current", "Δ"]]
    for label, metrics in cand.per_class.items():
        other = cur.per_class.get(label) if cur else None
        delta = f"{metrics.accuracy - other.accuracy:+.1%}" if other else "—"
        rows.append(
            [
                label,
                str(metrics.cases),
                _pct(metrics.accuracy),
                _pct(other.accuracy if other else None),
                delta,
            ]
        )
    report.table(rows, widths=[60, 25, 35, 35, 35])
    with _matplotlib() as plt:
        labels_ = list(cand.per_class)
        fig, ax = plt.subplots(figsize=(7, 2.4))
        xs = range(len(labels_))
        ax.bar(
            [x - 0.2 for x in xs],
            [cand.per_class[c].accuracy for c in labels_],
            0.4,
            label=f"candidate v{cand.skill_version}",
        )
        if cur:
            ax.bar(
                [x + 0.2 for x in xs],
                [cur.per_class[c].accuracy if c in cur.per_class else 0 for c in labels_],
                0.4,
                label=f"current v{cur.skill_version}",
            )
        ax.set_xticks(list(xs), labels_, rotation=45 if len(labels_) > 6 else 0)
        ax.set_ylim(0, 1.05)
        ax.set_title("accuracy per expected class")
        ax.legend()
        report.figure(fig, width=170)


def _confusion_and_latency(report: _Report, record: EvaluationRecord) -> None:
    sides = [m for m in (record.regression.candidate, record.regression.current) if m is not None]
    report.heading("Confusion matrix")
    with _matplotlib() as plt:
        fig, axes = plt.subplots(1, len(sides), figsize=(4.2 * len(sides), 3.8), squeeze=False)
        for ax, metrics in zip(axes[0], sides, strict=True):
            expected = list(metrics.confusion)
            predicted = sorted({p for row in metrics.confusion.values() for p in row} | set(expected))
            grid = [[metrics.confusion[e].get(p, 0) for p in predicted] for e in expected]
            ax.imshow(grid, cmap="Blues")
            for i, row in enumerate(grid):
                for j, value in enumerate(row):
                    if value:
                        ax.text(j, i, str(value), ha="center", va="center", fontsize=7)
            ax.set_xticks(range(len(predicted)), predicted, rotation=60, ha="right")
            ax.set_yticks(range(len(expected)), expected)
            ax.set_xlabel("predicted")
            ax.set_ylabel("expected")
            ax.set_title(f"v{metrics.skill_version}")
        fig.tight_layout()
        report.figure(fig, width=min(180, 95 * len(sides)))
    report.heading("Latency (whole stack, per image)")
    with _matplotlib() as plt:
        fig, ax = plt.subplots(figsize=(7, 2.3))
        data = [[r.candidate.ms for r in record.regression.results]]
        names = [f"candidate v{sides[0].skill_version}"]
        if record.regression.current:
            data.append([r.current.ms for r in record.regression.results if r.current])
            names.append(f"current v{record.regression.current.skill_version}")
        ax.boxplot(data, vert=False, tick_labels=names)
        ax.set_xlabel("ms per image (detector + classifier stages)")
        report.figure(fig, width=170)
    report.text(
        "p50 / p95: "
        + "; ".join(
            f"v{m.skill_version}: {_ms(m.latency_ms['p50'])} / {_ms(m.latency_ms['p95'])}" for m in sides
        )
    )


def _failure_crop(result: CaseResult, artifacts: Artifacts) -> Image.Image:
    image = decode_image(artifacts.read_bytes(result.image_uri))
    if result.box is None:
        return image
    x1, y1, x2, y2 = result.box
    return crop(image, Box(x1=x1, y1=y1, x2=x2, y2=y2), DEFAULT_CROP_PADDING)


def _failures(
    report: _Report, record: EvaluationRecord, artifacts: Artifacts, candidate: ClassifierSkill, limit: int
) -> None:
    from functions.core.skills.gradcam import grad_cam, overlay

    failed = [r for r in record.regression.results if not r.candidate.correct]
    report.heading(f"Failures of the candidate ({len(failed)} of {len(record.regression.results)})")
    if not failed:
        report.text("The candidate answered every regression input correctly.", GREEN)
        return
    report.text(
        "Each row: the input the classifier saw, and a Grad-CAM heat map of where it looked for its "
        "answer (red = most evidence). Missed cars and unreached stages have no heat map."
    )
    for result in failed[:limit]:
        try:
            image = _failure_crop(result, artifacts)
        except Exception as exc:  # an input that vanished must not stop the report
            report.text(f"{result.case_id}: input unavailable ({exc})", ORANGE)
            continue
        alternatives = ", ".join(f"{a.label} {a.score:.2f}" for a in result.candidate.top_k)
        caption = (
            f"{result.case_id} ({result.source}) — expected {result.expected}, answered "
            f"{result.candidate.label}" + (f"; top-k: {alternatives}" if alternatives else "")
        )
        y = report.pdf.get_y()
        if y > 240:
            report.pdf.add_page()
            y = report.pdf.get_y()
        side = 38
        report.pdf.image(
            _png(image.resize((192, int(192 * image.height / max(1, image.width))))), x=10, y=y, h=side
        )
        if result.candidate.label not in {NO_CAR} and result.candidate.top_k:
            heat = grad_cam(candidate, image, result.candidate.label)
            report.pdf.image(
                _png(overlay(image, heat).resize((192, 192))),
                x=10 + side * 1.6,
                y=y,
                h=side,
                title="heat map",
            )
        report.pdf.set_xy(10 + side * 2.8, y)
        report.pdf.multi_cell(0, 5, caption)
        report.pdf.set_y(y + side + 3)


def _png(image: Image.Image) -> io.BytesIO:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG")
    buffer.seek(0)
    return buffer
