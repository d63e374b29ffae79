"""Pictures of a training run, written next to the model (and so into the skill's artifacts, where the
PDF report picks them up): the training curves and the data set's statistics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from functions.core.base.plots import pyplot, save_png
from functions.core.dataset.build import DataFile
from functions.core.skills.model import CURVES_FILE, DATASET_FILE
from training.materialise import crop_path


def training_curves(history: list[dict[str, float]], path: Path) -> Path | None:
    """Train loss and validation top-1 / top-5 per epoch."""
    if not history:
        return None
    plt = pyplot()
    epochs = [row["epoch"] for row in history]
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(9, 3.2))
    loss_ax.plot(epochs, [row["train_loss"] for row in history], marker="o", color="#b36b00")
    loss_ax.set(title="train loss", xlabel="epoch")
    acc_ax.plot(epochs, [row["val_top1"] for row in history], marker="o", label="val top-1", color="#1f7a3a")
    acc_ax.plot(epochs, [row["val_top5"] for row in history], marker=".", label="val top-5", color="#2f6fde")
    acc_ax.set(title="validation accuracy", xlabel="epoch", ylim=(0, 1.02))
    acc_ax.legend(loc="lower right")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.set_xticks(epochs if len(epochs) <= 20 else ax.get_xticks())
    return save_png(fig, path)


def dataset_statistics(data: DataFile, crops_root: Path) -> dict[str, Any]:
    """Per class and split: examples (with oversampled copies) and groups; crop sizes in pixels."""
    examples: dict[str, dict[str, int]] = {}
    groups: dict[str, set[str]] = {}
    sizes: list[tuple[int, int]] = []
    for split, classes in data.splits.items():
        for label, class_list in classes.items():
            examples.setdefault(split, {})[label] = class_list.examples()
            groups.setdefault(label, set()).update(class_list.group_ids)
            for uri in class_list.uris:
                path = crop_path(crops_root, uri)
                if path.is_file():
                    with Image.open(path) as image:
                        sizes.append(image.size)
    return {
        "examples": examples,
        "groups_per_class": {label: len(ids) for label, ids in sorted(groups.items())},
        "crop_sizes": sizes,
    }


def dataset_chart(stats: dict[str, Any], classes: list[str], path: Path) -> Path:
    """Class balance per split, groups (adverts) per class, and the crops' sizes."""
    plt = pyplot()
    fig, (balance_ax, groups_ax, size_ax) = plt.subplots(1, 3, figsize=(12, 3.4))
    bottom = [0] * len(classes)
    for split, counts in stats["examples"].items():
        values = [counts.get(c, 0) for c in classes]
        balance_ax.bar(classes, values, bottom=bottom, label=split)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    balance_ax.set(title="class balance (examples per split)")
    balance_ax.legend(fontsize=8)
    groups = stats["groups_per_class"]
    groups_ax.bar(classes, [groups.get(c, 0) for c in classes], color="#5f6b76")
    groups_ax.set(title="groups (adverts) per class")
    tilt = len(classes) > 4 or max((len(c) for c in classes), default=0) > 10
    for ax in (balance_ax, groups_ax):
        ax.tick_params(axis="x", labelsize=7)
        if tilt:
            for label in ax.get_xticklabels():
                label.set(rotation=30, ha="right")
    sizes = stats["crop_sizes"]
    if sizes:
        size_ax.scatter([w for w, _ in sizes], [h for _, h in sizes], s=8, alpha=0.6, color="#2f6fde")
    size_ax.set(title=f"crop sizes ({len(sizes)} crops)", xlabel="width px", ylabel="height px")
    size_ax.grid(alpha=0.3)
    return save_png(fig, path)


def write_run_charts(
    history: list[dict[str, float]], data: DataFile, crops_root: Path, model_dir: Path
) -> dict[str, str]:
    """Both pictures into the model folder; returns their file names (for metrics.json)."""
    written: dict[str, str] = {}
    if training_curves(history, model_dir / CURVES_FILE):
        written["training_curves"] = CURVES_FILE
    stats = dataset_statistics(data, crops_root)
    dataset_chart(stats, sorted(data.classes), model_dir / DATASET_FILE)
    written["dataset"] = DATASET_FILE
    return written
