"""Synthetic class images for tests and the demo fallback: each class a distinct colour and shape."""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw

_PALETTE = [(200, 40, 40), (40, 90, 210), (40, 170, 70), (220, 180, 30), (150, 60, 190), (30, 170, 180)]


def synthetic_image(class_index: int, seed: int, size: int = 64) -> Image.Image:
    """A noisy background with a class-coloured body (box, ellipse, triangle... by class) at a random spot."""
    rng = random.Random(seed * 7919 + class_index)
    background = tuple(rng.randint(90, 160) for _ in range(3))
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rng.randint(0, size - 1), rng.randint(0, size - 1)
        draw.point((x, y), fill=tuple(rng.randint(0, 255) for _ in range(3)))
    w, h = rng.randint(size // 2, size * 3 // 4), rng.randint(size // 3, size // 2)
    left, top = rng.randint(0, size - w), rng.randint(0, size - h)
    colour = _PALETTE[class_index % len(_PALETTE)]
    shape = class_index % 3
    box = (left, top, left + w, top + h)
    if shape == 0:
        draw.rectangle(box, fill=colour)
    elif shape == 1:
        draw.ellipse(box, fill=colour)
    else:
        draw.polygon([(left, top + h), (left + w // 2, top), (left + w, top + h)], fill=colour)
    return image


def write_synthetic_set(folder: Path, classes: list[str], per_class: int, size: int = 64) -> list[Path]:
    """`folder/<class>/<n>.jpg` for each class; returns the files."""
    files: list[Path] = []
    for index, name in enumerate(classes):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for n in range(per_class):
            path = folder / name / f"{n:04d}.jpg"
            synthetic_image(index, n, size).save(path, format="JPEG", quality=90)
            files.append(path)
    return files
