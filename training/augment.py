"""Augmentation toolkit for car crops: each operation switchable in the skill config.

Horizontal flip only (a car upside down is not a car photo), tilt up to a configured angle
(at most 30°), hue/saturation shifts, random erasing, and copy-paste occlusion (real occluders:
other crops or object photos pasted over part of the car). All PIL → PIL, so the same code
serves training (before Ultralytics' resize/normalise) and the contact sheet people look at.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageOps, ImageStat

from training.config import MAX_TILT_DEGREES, AugmentConfig

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


def horizontal_flip(image: Image.Image) -> Image.Image:
    return ImageOps.mirror(image)


def tilt(image: Image.Image, degrees: float) -> Image.Image:
    """Rotate about the centre by `degrees` (|degrees| ≤ 30, positive is anticlockwise), corners filled with
    the mean colour. Bilinear, as PIL's rotate, in a quarter of its time (a data-loader cost every epoch)."""
    if abs(degrees) > MAX_TILT_DEGREES:
        raise ValueError(f"tilt of {degrees}° is over the limit of {MAX_TILT_DEGREES}°")
    rgb = image.convert("RGB")
    mean = tuple(int(v) for v in ImageStat.Stat(rgb).mean)
    pixels = np.asarray(rgb)
    height, width = pixels.shape[:2]
    turn = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), degrees, 1.0)
    rotated = cv2.warpAffine(
        pixels,
        turn,
        (width, height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=mean,
    )
    return Image.fromarray(rotated, mode="RGB")


def shift_hue_saturation(image: Image.Image, hue_shift: float, saturation_scale: float) -> Image.Image:
    """Rotate the hue by `hue_shift` of the circle and multiply the saturation by `saturation_scale`
    (as lookup tables on the HSV bands)."""
    hue, saturation, value = image.convert("HSV").split()
    shift = round(hue_shift * 256)
    hue = hue.point([(level + shift) % 256 for level in range(256)])
    scaled = np.clip(np.round(np.arange(256) * saturation_scale), 0, 255).astype(np.uint8)
    saturation = saturation.point(scaled.tolist())
    return Image.merge("HSV", (hue, saturation, value)).convert("RGB")


def brightness_contrast(image: Image.Image, brightness: float, contrast: float) -> Image.Image:
    """Scale brightness and contrast (1.0 = unchanged)."""
    return ImageEnhance.Contrast(ImageEnhance.Brightness(image).enhance(brightness)).enhance(contrast)


def erase(image: Image.Image, box: tuple[int, int, int, int], rng: random.Random) -> Image.Image:
    """Fill `box` with random noise (random erasing)."""
    left, top, right, bottom = box
    noise = np.frombuffer(rng.randbytes((right - left) * (bottom - top) * 3), dtype=np.uint8)
    out = image.copy()
    out.paste(Image.fromarray(noise.reshape(bottom - top, right - left, 3), mode="RGB"), (left, top))
    return out


def paste_occluder(image: Image.Image, occluder: Image.Image, box: tuple[int, int, int, int]) -> Image.Image:
    """Paste `occluder` resized into `box`, with a soft elliptical mask (looks like an object in front)."""
    left, top, right, bottom = box
    size = (right - left, bottom - top)
    patch = occluder.convert("RGB").resize(size, Image.Resampling.BILINEAR)
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).ellipse((0, 0, size[0] - 1, size[1] - 1), fill=255)
    out = image.copy()
    out.paste(patch, (left, top), mask)
    return out


def random_box(width: int, height: int, max_area: float, rng: random.Random) -> tuple[int, int, int, int]:
    """A box covering 2%..max_area of the image, aspect 1:3..3:1, fully inside it."""
    area = rng.uniform(min(0.02, max_area), max_area) * width * height
    aspect = math.exp(rng.uniform(math.log(1 / 3), math.log(3)))
    w = max(1, min(width, round(math.sqrt(area * aspect))))
    h = max(1, min(height, round(math.sqrt(area / aspect))))
    left = rng.randint(0, width - w)
    top = rng.randint(0, height - h)
    return left, top, left + w, top + h


class Augmenter:
    """Applies the enabled augmentations of a config at random (callable: PIL image → PIL image)."""

    def __init__(
        self, config: AugmentConfig, occluders: Sequence[Path] = (), seed: int | None = None
    ) -> None:
        self.config = config
        self.occluders = list(occluders)
        if config.copy_paste_occlusion and not self.occluders:
            raise ValueError("copy_paste_occlusion is on but no occluder images were given")
        self.seed = seed
        self.rng = random.Random(seed)
        self._worker_seed: int | None = None

    def _generator(self) -> random.Random:
        """This process's generator: a data-loader worker reseeds from its own seed (which differs per
        worker), so workers never repeat each other's augmentations."""
        seed = worker_seed()
        if seed is not None and seed != self._worker_seed:
            self._worker_seed = seed
            self.rng = random.Random(f"{self.seed}/{seed}")
        return self.rng

    def __call__(self, image: Image.Image) -> Image.Image:
        cfg, rng = self.config, self._generator()
        out = image.convert("RGB")
        if cfg.horizontal_flip and rng.random() < cfg.flip_probability:
            out = horizontal_flip(out)
        if cfg.tilt and cfg.max_tilt_degrees > 0:
            out = tilt(out, rng.uniform(-cfg.max_tilt_degrees, cfg.max_tilt_degrees))
        if cfg.hue_saturation:
            out = shift_hue_saturation(
                out,
                rng.uniform(-cfg.max_hue_shift, cfg.max_hue_shift),
                rng.uniform(1 - cfg.max_saturation_scale, 1 + cfg.max_saturation_scale),
            )
        if cfg.brightness_contrast and cfg.max_brightness_contrast > 0:
            spread = cfg.max_brightness_contrast
            brightness, contrast = rng.uniform(1 - spread, 1 + spread), rng.uniform(1 - spread, 1 + spread)
            out = brightness_contrast(out, brightness, contrast)
        if cfg.copy_paste_occlusion and rng.random() < cfg.occlusion_probability:
            with Image.open(rng.choice(self.occluders)) as occluder:
                out = paste_occluder(out, occluder, random_box(*out.size, cfg.occlusion_max_area, rng))
        if cfg.random_erasing and rng.random() < cfg.erasing_probability:
            out = erase(out, random_box(*out.size, cfg.erasing_max_area, rng), rng)
        return out


def worker_seed() -> int | None:
    """The seed of the data-loader worker this code runs in (None in the main process)."""
    try:
        from torch.utils.data import get_worker_info
    except ImportError:  # pragma: no cover - training always has torch
        return None
    info = get_worker_info()
    return int(info.seed) if info is not None else None


def occluder_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def contact_sheet(images: Sequence[Image.Image], columns: int = 6, cell: int = 128) -> Image.Image:
    """A grid of thumbnails (each fitted into a `cell` square) on a white background."""
    if not images:
        raise ValueError("a contact sheet needs at least one image")
    rows = math.ceil(len(images) / columns)
    sheet = Image.new("RGB", (columns * cell, rows * cell), (255, 255, 255))
    for i, image in enumerate(images):
        thumb = ImageOps.contain(image.convert("RGB"), (cell - 4, cell - 4))
        x = (i % columns) * cell + (cell - thumb.width) // 2
        y = (i // columns) * cell + (cell - thumb.height) // 2
        sheet.paste(thumb, (x, y))
    return sheet


def write_contact_sheet(
    sources: Sequence[Path], augmenter: Augmenter, path: Path, per_image: int = 5, cell: int = 128
) -> Path:
    """Each source in the first column, `per_image` augmented versions beside it; saved as PNG."""
    tiles: list[Image.Image] = []
    for source in sources:
        with Image.open(source) as opened:
            image = opened.convert("RGB")
        tiles.append(image)
        tiles.extend(augmenter(image) for _ in range(per_image))
    path.parent.mkdir(parents=True, exist_ok=True)
    contact_sheet(tiles, columns=per_image + 1, cell=cell).save(path, format="PNG")
    return path
